// pg-sim: the external payment gateway ("PG") stand-in, its own process (see routes.hpp for the API).
#include <future>
#include <iostream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "core/log.hpp"
#include "http/server.hpp"
#include "pg_sim/options.hpp"
#include "pg_sim/routes.hpp"

namespace asio = boost::asio;
using namespace marquee;

int main(int argc, char** argv) {
    std::optional<pg_sim::Options> options;
    try {
        options = pg_sim::parse_options(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "pg-sim: " << e.what() << "\n\n" << pg_sim::usage();
        return 2;
    }
    if (!options) {
        std::cout << pg_sim::usage();
        return 0;
    }
    core::init_logging(core::LogLevel::Info);
    core::SystemClock clock;
    pg_sim::Gateway gateway(options->faults, options->seed, clock);
    http::Router router;
    pg_sim::Routes routes(gateway);
    routes.add_to(router);
    core::MetricsRegistry metrics;

    asio::io_context ioc(2);
    http::ServerOptions server_options;
    server_options.host = options->host;
    server_options.port = options->port;
    http::Server server(ioc, server_options, router, metrics);
    std::uint16_t port = 0;
    try {
        port = server.listen();
    } catch (const std::exception& e) {
        core::log_error("cannot listen", {{"port", options->port}, {"error", e.what()}});
        return 1;
    }
    server.start();
    core::log_info("pg-sim listening", {{"url", "http://" + options->host + ":" + std::to_string(port)},
                                        {"seed", options->seed}});

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        asio::co_spawn(ioc, server.shutdown(std::chrono::milliseconds(500)),
                       [&](const std::exception_ptr&) { ioc.stop(); });
    });
    std::thread second([&ioc] { ioc.run(); });
    ioc.run();
    second.join();
    core::log_info("pg-sim stopped");
    return 0;
}
