#include "services/booking/install.hpp"

#include <boost/asio/co_spawn.hpp>

#include "core/log.hpp"
#include "services/booking/routes.hpp"
#include "services/booking/service.hpp"
#include "services/booking/store.hpp"

namespace marquee::booking {

namespace {

struct Installed {
    Installed(const core::Config& config, core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
              QueueCheck queue_check)
        : store(db, config.durable_holds),
          service(store, redis, std::move(queue_check), metrics, options(config)),
          routes(service) {}
    ~Installed() { service.stop(); }

    static ServiceOptions options(const core::Config& config) {
        ServiceOptions options;
        options.hold_ttl = config.hold_ttl;
        options.taken_memory = config.booking_taken_memory;
        return options;
    }

    Store store;
    Service service;
    Routes routes;
};

}  // namespace

std::shared_ptr<void> install(const core::Config& config, http::Router& router,
                              core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                              QueueCheck queue_check, const boost::asio::any_io_executor& executor,
                              SaleControls sale_controls) {
    auto installed = std::make_shared<Installed>(config, metrics, db, redis, std::move(queue_check));
    installed->service.set_sale_controls(std::move(sale_controls));
    installed->routes.add_to(router);
    // The sweeper holds the installation alive; it ends with the executor.
    boost::asio::co_spawn(
        executor, [installed]() { return installed->service.run_sweeper(); },
        core::log_failure("booking sweeper stopped"));
    return installed;
}

}  // namespace marquee::booking
