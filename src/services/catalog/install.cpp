#include "services/catalog/install.hpp"

#include <exception>

#include <boost/asio/co_spawn.hpp>

#include "core/log.hpp"

namespace marquee::catalog {

Installed::~Installed() {
    if (consumer) consumer->stop();
}

std::shared_ptr<Installed> install(const core::Config& /*config*/, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                                   mq::Nats& nats, boost::asio::any_io_executor executor) {
    auto installed = std::make_shared<Installed>();
    installed->service = std::make_shared<Service>(db, redis, metrics);
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
    return installed;
}

}  // namespace marquee::catalog
