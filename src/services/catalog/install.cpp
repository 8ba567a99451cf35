#include "services/catalog/install.hpp"

namespace marquee::catalog {

std::shared_ptr<Installed> install(const core::Config& /*config*/, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis) {
    auto installed = std::make_shared<Installed>();
    installed->service = std::make_shared<Service>(db, redis, metrics);
    installed->routes = std::make_shared<Routes>(*installed->service);
    installed->routes->add_to(router);
    return installed;
}

}  // namespace marquee::catalog
