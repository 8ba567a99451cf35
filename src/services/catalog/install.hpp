#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "services/catalog/availability_consumer.hpp"
#include "services/catalog/availability_reconcile.hpp"
#include "services/catalog/routes.hpp"
#include "services/catalog/service.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}
namespace marquee::mq {
class Nats;
}

namespace marquee::catalog {

/// The catalog as installed in one process; keep it alive as long as the server runs. Dropping it stops
/// the availability consumer.
struct Installed {
    ~Installed();

    std::shared_ptr<Service> service;
    std::shared_ptr<Routes> routes;
    std::shared_ptr<AvailabilityConsumer> consumer;
    std::shared_ptr<AvailabilityReconciler> reconciler;
};

/// The catalog settings a config asks for (the availability copy's bound, cap and idle time).
CatalogSettings catalog_settings(const core::Config& config);

/// Adds the catalog routes to `router` and starts the availability consumer (booking's `reservation.*`
/// events from NATS → the Redis bitsets) and the reconcile (booking.seat_states → the bitsets, one replica
/// at a time) on `executor`. (Services may not include app/, so app's
/// `install_catalog(ServiceContext&)` calls this with the context's parts.)
std::shared_ptr<Installed> install(const core::Config& config, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                                   mq::Nats& nats, const boost::asio::any_io_executor& executor);

}  // namespace marquee::catalog
