#include "services/payment/install.hpp"

#include <boost/asio/co_spawn.hpp>

#include "core/log.hpp"
#include "payment_gateway/client.hpp"
#include "services/payment/refunds.hpp"
#include "services/payment/routes.hpp"
#include "services/payment/service.hpp"
#include "services/payment/store.hpp"

namespace marquee::payment {

namespace {

struct Installed {
    Installed(const core::Config& config, core::MetricsRegistry& metrics, db::Pool& db,
              QueueCheck queue_check, QueueRelease queue_release, boost::asio::any_io_executor executor,
              ScheduleHint schedule_hint)
        : gateway(std::move(executor), payment_gateway::options_from(config)),
          store(db),
          service(store, gateway, std::move(queue_check), std::move(queue_release), metrics,
                  ServiceOptions{.recovery_age = config.recovery_age}, std::move(schedule_hint)),
          routes(service),
          refunds(db, gateway, metrics, RefundOptions{.recovery_age = config.recovery_age}) {
        gateway.expose_metrics(metrics, "payment");
    }
    ~Installed() {
        service.stop();
        refunds.stop();
    }

    payment_gateway::Client gateway;
    Store store;
    Service service;
    Routes routes;
    Refunds refunds;  ///< cancellations and their refunds (ADR 0028)
};

}  // namespace

std::shared_ptr<void> install(const core::Config& config, http::Router& router,
                              core::MetricsRegistry& metrics, db::Pool& db, QueueCheck queue_check,
                              QueueRelease queue_release, const boost::asio::any_io_executor& executor,
                              ScheduleHint schedule_hint) {
    auto installed =
        std::make_shared<Installed>(config, metrics, db, std::move(queue_check), std::move(queue_release),
                                    executor, std::move(schedule_hint));
    installed->routes.add_to(router);
    installed->refunds.add_routes(router);
    // The recovery job holds the installation alive; it ends with the executor.
    boost::asio::co_spawn(
        executor, [installed]() { return installed->service.run_recovery(); },
        core::log_failure("payment recovery stopped"));
    boost::asio::co_spawn(
        executor, [installed]() { return installed->refunds.run_recovery(); },
        core::log_failure("refund recovery stopped"));
    return installed;
}

}  // namespace marquee::payment
