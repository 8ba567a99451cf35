#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "jwt/token.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}
namespace marquee::mq {
class Nats;
}

namespace marquee::app {

/// What the app hands to each service it runs: shared clients, the router to add routes to, metrics.
struct ServiceContext {
    const core::Config& config;
    http::Router& router;
    core::MetricsRegistry& metrics;
    db::Pool& db;
    redis::Client& redis;
    mq::Nats& nats;
    /// Where background loops (schedulers, sweepers, relays) are co_spawned.
    boost::asio::any_io_executor executor;
    /// Objects that must live as long as the process serves (routes, services, schedulers): push them here.
    std::vector<std::shared_ptr<void>>& keep_alive;
    /// Told of each access token the auth service signs (empty: nobody is); see
    /// JwtAuthenticator::remember_issued.
    std::function<void(std::string_view token, const jwt::Claims& claims)> token_issued{};
};

/// One deployable service. `install` adds its routes and background jobs; null while the service is still a
/// placeholder folder (its issue has not landed).
struct ServiceEntry {
    std::string_view name;
    std::string_view delivered_by;  ///< the issue that brings it, for the start-up log
    void (*install)(ServiceContext&);
};

/// Every service, in core::kServiceNames order. The only place that names every service.
const std::vector<ServiceEntry>& service_entries();

/// Installs the services `ctx.config.services` names; returns the names of those that are still placeholders.
std::vector<std::string> install_services(ServiceContext& ctx);

/// Exposes the PostgreSQL and Redis pool statistics as gauges, refreshed at each scrape.
void register_pool_metrics(core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis);

}  // namespace marquee::app
