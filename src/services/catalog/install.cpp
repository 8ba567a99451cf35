#include "services/catalog/install.hpp"

#include <exception>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <unistd.h>

#include "core/log.hpp"

namespace marquee::catalog {

namespace {

/// Names this replica in the reconcile lease: host, pid and a random part (a restarted pod is another
/// holder).
std::string replica_name() {
    std::string host = "replica";
    try {
        host = boost::asio::ip::host_name();
    } catch (const std::exception&) {
    }
    std::random_device random;
    return host + ":" + std::to_string(::getpid()) + ":" + std::to_string(random());
}

}  // namespace

Installed::~Installed() {
    if (consumer) consumer->stop();
    if (reconciler) reconciler->stop();
}

CatalogSettings catalog_settings(const core::Config& config) {
    CatalogSettings settings;
    settings.availability_copy.max_age = config.availability_max_age;
    settings.availability_copy.idle_ttl = config.availability_copy_idle;
    settings.availability_copy.max_schedules = config.availability_copy_max_schedules;
    return settings;
}

std::shared_ptr<Installed> install(const core::Config& config, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                                   mq::Nats& nats, const boost::asio::any_io_executor& executor) {
    auto installed = std::make_shared<Installed>();
    installed->service = std::make_shared<Service>(db, redis, metrics, catalog_settings(config));
    installed->routes = std::make_shared<Routes>(*installed->service);
    installed->routes->add_to(router);
    installed->consumer = std::make_shared<AvailabilityConsumer>(installed->service->bitset());
    // The loop owns the consumer and the service whose bitset it writes; `installed` stops it when dropped.
    boost::asio::co_spawn(
        executor,
        [consumer = installed->consumer, service = installed->service, &nats]() {
            return consumer->run(nats, AvailabilityConsumer::consumer_spec());
        },
        core::log_failure("availability consumer stopped"));
    ReconcileSettings reconcile;
    reconcile.period = config.availability_reconcile_period;
    reconcile.schedules_per_pass = config.availability_reconcile_schedules;
    installed->reconciler = std::make_shared<AvailabilityReconciler>(
        installed->service->store(), installed->service->bitset(), redis, metrics, reconcile, replica_name());
    boost::asio::co_spawn(
        executor,
        [reconciler = installed->reconciler, service = installed->service]() { return reconciler->run(); },
        core::log_failure("availability reconcile stopped"));
    return installed;
}

}  // namespace marquee::catalog
