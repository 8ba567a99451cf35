#include "pg_sim/local_server.hpp"

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "http/server.hpp"
#include "pg_sim/routes.hpp"

namespace marquee::pg_sim {

struct LocalServer::Impl {
    explicit Impl(std::uint64_t seed) : gateway({}, seed, clock), routes(gateway) {
        routes.add_to(router);
        http::ServerOptions options;
        options.port = 0;
        server = std::make_unique<http::Server>(ioc, options, router, metrics);
        port = server->listen();
        server->start();
        thread = std::thread([this] { ioc.run(); });
    }
    ~Impl() {
        work.reset();
        ioc.stop();
        thread.join();
    }

    core::SystemClock clock;
    Gateway gateway;
    Routes routes;
    http::Router router;
    core::MetricsRegistry metrics;
    boost::asio::io_context ioc;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
    std::unique_ptr<http::Server> server;
    std::uint16_t port = 0;
    std::thread thread;
};

LocalServer::LocalServer(std::uint64_t seed) : impl_(std::make_unique<Impl>(seed)) {}
LocalServer::~LocalServer() = default;

std::string LocalServer::url() const {
    return "http://127.0.0.1:" + std::to_string(impl_->port);
}

Gateway& LocalServer::gateway() {
    return impl_->gateway;
}

}  // namespace marquee::pg_sim
