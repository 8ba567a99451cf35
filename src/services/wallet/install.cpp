#include "services/wallet/install.hpp"

#include <boost/asio/co_spawn.hpp>

#include "core/log.hpp"
#include "payment_gateway/client.hpp"
#include "services/wallet/routes.hpp"
#include "services/wallet/service.hpp"
#include "services/wallet/store.hpp"

namespace marquee::wallet {

namespace {

struct Installed {
    Installed(const core::Config& config, core::MetricsRegistry& metrics, db::Pool& db,
              boost::asio::any_io_executor executor)
        : gateway(std::move(executor), payment_gateway::options_from(config)),
          store(db),
          service(store, gateway, metrics, ServiceOptions{.recovery_age = config.recovery_age}),
          routes(service, store) {
        gateway.expose_metrics(metrics, "wallet");
    }

    payment_gateway::Client gateway;
    Store store;
    Service service;
    Routes routes;
};

}  // namespace

std::shared_ptr<void> install(const core::Config& config, http::Router& router,
                              core::MetricsRegistry& metrics, db::Pool& db,
                              const boost::asio::any_io_executor& executor) {
    auto installed = std::make_shared<Installed>(config, metrics, db, executor);
    installed->routes.add_to(router);
    // The recovery job holds the installation alive; it ends with the executor.
    boost::asio::co_spawn(
        executor, [installed]() { return installed->service.run_recovery(); },
        core::log_failure("wallet recovery stopped"));
    return installed;
}

}  // namespace marquee::wallet
