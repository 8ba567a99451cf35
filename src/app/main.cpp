// marquee: one binary, many services. `--service=all` (the default) serves every route in one process;
// `--service=NAME[,NAME]` serves a subset, so each service deploys and scales on its own.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/array.hpp>

#include "app/jwt_authenticator.hpp"
#include "app/ops_routes.hpp"
#include "app/service_registry.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "http/forwarded.hpp"
#include "http/server.hpp"
#include "mq/nats.hpp"
#include "redis/client.hpp"

namespace asio = boost::asio;
using namespace marquee;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

/// Runs one coroutine to completion on the (already running) pool and returns its result.
template <typename T>
T run_sync(asio::io_context& ioc, asio::awaitable<T> work) {
    return asio::co_spawn(ioc, std::move(work), asio::use_future).get();
}

int serve(const core::Config& config) {
    std::unique_ptr<app::JwtAuthenticator> authenticator;  // outlives the server: declared before it
    bool trusts_local_signer = false;  // the auth service runs here and its tokens verify here
    try {
        if (!config.migrate_only) authenticator = app::make_authenticator(config, &trusts_local_signer);
    } catch (const std::exception& e) {
        core::log_error("jwt keys", {{"error", e.what()}});
        return 1;
    }
    try {
        (void)http::TrustedProxies(config.trusted_proxies);  // a bad entry stops start-up here, with its name
    } catch (const std::exception& e) {
        core::log_error("config", {{"error", e.what()}});
        return 1;
    }
    const unsigned threads =
        config.threads != 0 ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    asio::io_context ioc(static_cast<int>(threads));
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    const auto join = [&] {
        work.reset();
        ioc.stop();
        for (auto& t : pool) t.join();
    };

    core::MetricsRegistry metrics;
    db::Pool database(ioc.get_executor(), db::PoolOptions{.url = config.database_url,
                                                          .size = config.db_pool_size,
                                                          .timeout = config.db_timeout});
    redis::Client redis(ioc.get_executor(),
                        redis::ClientOptions{.url = config.redis_url,
                                             .pool_size = config.redis_pool_size,
                                             .timeout = config.redis_timeout,
                                             .max_wait = config.redis_max_wait,
                                             .cluster = config.redis_cluster,
                                             .cluster_refresh_interval = config.redis_cluster_refresh});
    mq::Nats nats(mq::NatsOptions{.url = config.nats_url});

    try {
        if (config.migrate_on_start || config.migrate_only) {
            const auto report = run_sync(ioc, db::migrate(database, config.migrations_dir, config.services));
            boost::json::array applied;
            for (const auto& m : report.applied) applied.emplace_back(m.service + "/" + m.name);
            core::log_info("migrations", {{"applied", std::move(applied)},
                                          {"already_applied", report.already_applied},
                                          {"dir", config.migrations_dir}});
        }
        if (config.migrate_only) {
            join();
            return 0;
        }
    } catch (const std::exception& e) {
        core::log_error("migrations failed", {{"error", e.what()}, {"dir", config.migrations_dir}});
        join();
        return 1;
    }

    app::register_pool_metrics(metrics, database, redis);
    http::Router router;
    std::optional<app::OpsRoutes> ops;
    std::vector<std::shared_ptr<void>> keep_alive;  // outlives the server: declared before it
    boost::json::array placeholders;
    try {
        ops.emplace(metrics,
                    std::vector<app::ReadinessCheck>{{"postgres", [&database] { return database.ping(); }},
                                                     {"redis", [&redis] { return redis.ping(); }},
                                                     {"nats", [&nats] { return nats.ping(); }}},
                    read_file(config.openapi_path));
        ops->add_to(router);
        app::ServiceContext services{config,    router, metrics, database, redis, nats, ioc.get_executor(),
                                     keep_alive};
        if (trusts_local_signer) {
            // A token signed here is known good here: its first use skips the signature check (ADR 0015).
            services.token_issued = [a = authenticator.get()](std::string_view token,
                                                              const jwt::Claims& claims) {
                a->remember_issued(token, claims);
            };
        }
        for (const auto& name : app::install_services(services)) placeholders.emplace_back(name);
    } catch (const std::exception& e) {
        // A bad route table or a missing file is a start-up error with a message, never an abort.
        core::log_error("start-up failed", {{"error", e.what()}});
        join();
        return 1;
    }

    http::Server server(ioc,
                        http::ServerOptions{config.http_host, config.http_port, config.http,
                                            authenticator.get(), config.trusted_proxies},
                        router, metrics);
    std::uint16_t port = 0;
    try {
        port = server.listen();
    } catch (const std::exception& e) {
        core::log_error("cannot listen",
                        {{"host", config.http_host}, {"port", config.http_port}, {"error", e.what()}});
        join();
        return 1;
    }
    server.start();
    boost::json::array names;
    for (const auto& s : config.services) names.emplace_back(s);
    core::log_info("listening", {{"url", "http://" + config.http_host + ":" + std::to_string(port)},
                                 {"services", std::move(names)},
                                 {"routes", router.routes().size()},
                                 {"placeholder_services", std::move(placeholders)},
                                 {"threads", threads}});

    // Graceful shutdown on SIGINT/SIGTERM: stop accepting, finish requests in flight, then stop the loop.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    std::promise<void> stopped;
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        core::log_info("shutting down", {{"signal", signal}, {"connections", server.connections()}});
        asio::co_spawn(ioc, server.shutdown(std::chrono::seconds(10)),
                       [&](const std::exception_ptr&) { stopped.set_value(); });
    });
    stopped.get_future().wait();
    join();
    core::log_info("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<core::Config> config;
    try {
        config = core::parse_config(std::vector<std::string>(argv + 1, argv + argc), core::process_env());
    } catch (const core::ConfigError& e) {
        std::cerr << "marquee: " << e.what() << "\n\n" << core::usage();
        return 2;
    }
    if (!config) {
        std::cout << core::usage();
        return 0;
    }
    try {
        core::init_logging(core::parse_log_level(config->log_level));
    } catch (const std::exception& e) {
        std::cerr << "marquee: " << e.what() << "\n";
        return 2;
    }
    try {
        return serve(*config);
    } catch (const std::exception& e) {
        core::log_error("fatal", {{"error", e.what()}});
        return 1;
    }
}
