#pragma once

#include <memory>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "services/catalog/routes.hpp"
#include "services/catalog/service.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::catalog {

/// The catalog as installed in one process; keep it alive as long as the server runs.
struct Installed {
    std::shared_ptr<Service> service;
    std::shared_ptr<Routes> routes;
};

/// Adds the catalog routes to `router`. (Services may not include app/, so app's
/// `install_catalog(ServiceContext&)` calls this with the context's parts.)
std::shared_ptr<Installed> install(const core::Config& config, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis);

}  // namespace marquee::catalog
