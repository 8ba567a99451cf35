#include "db/single_flight.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

namespace marquee::db {
namespace {

namespace asio = boost::asio;

/// A load that counts its runs and then waits on `gate` until the test opens it, so every caller arrives
/// while the first load is still in flight.
struct GatedLoad {
    asio::steady_timer& gate;
    int runs = 0;
    bool fail = false;
    asio::awaitable<std::string> operator()() {
        ++runs;
        co_await gate.async_wait(asio::as_tuple(asio::use_awaitable));
        if (fail) throw std::runtime_error("load failed");
        co_return "value-" + std::to_string(runs);
    }
};

/// One caller: its parameters live in the coroutine frame (a coroutine lambda's captures would not).
asio::awaitable<void> call(SingleFlight<std::string>& flights, GatedLoad& load, std::string key,
                           std::vector<std::string>& results, int& failures) {
    std::function<asio::awaitable<std::string>()> fn = [&load] { return load(); };
    try {
        std::string value = co_await flights.run(std::move(key), std::move(fn));
        results.push_back(std::move(value));
    } catch (const std::runtime_error&) {
        ++failures;
    }
}

TEST(SingleFlight, ConcurrentCallersOfOneKeyShareOneLoad) {
    asio::io_context io;
    asio::steady_timer gate(io, asio::steady_timer::time_point::max());
    SingleFlight<std::string> flights;
    GatedLoad load{gate};
    std::vector<std::string> results;
    int failures = 0;
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(io, call(flights, load, "seat-map:1", results, failures), asio::detached);
    }
    io.poll();  // every caller has started: one runs the load, 49 wait
    EXPECT_EQ(load.runs, 1);
    EXPECT_EQ(flights.in_flight(), 1u);
    gate.cancel();
    io.run();
    EXPECT_EQ(load.runs, 1);
    ASSERT_EQ(results.size(), 50u);
    for (const auto& r : results) EXPECT_EQ(r, "value-1");
    EXPECT_EQ(flights.in_flight(), 0u);
}

TEST(SingleFlight, AFailureReachesEveryWaiterAndTheNextCallLoadsAgain) {
    asio::io_context io;
    asio::steady_timer gate(io, asio::steady_timer::time_point::max());
    SingleFlight<std::string> flights;
    GatedLoad load{gate};
    load.fail = true;
    int failures = 0;
    std::vector<std::string> results;
    for (int i = 0; i < 5; ++i) {
        asio::co_spawn(io, call(flights, load, "k", results, failures), asio::detached);
    }
    io.poll();
    gate.cancel();
    io.run();
    EXPECT_EQ(failures, 5);
    EXPECT_EQ(load.runs, 1);

    io.restart();
    load.fail = false;
    gate.expires_at(asio::steady_timer::time_point::min());  // open: the next load completes at once
    asio::co_spawn(io, call(flights, load, "k", results, failures), asio::detached);
    io.run();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0], "value-2");
}

TEST(SingleFlight, DifferentKeysLoadIndependently) {
    asio::io_context io;
    asio::steady_timer gate(io, asio::steady_timer::time_point::min());
    SingleFlight<std::string> flights;
    GatedLoad load{gate};
    std::vector<std::string> results;
    int failures = 0;
    for (const std::string key : {"a", "b", "c"}) {
        asio::co_spawn(io, call(flights, load, key, results, failures), asio::detached);
    }
    io.run();
    EXPECT_EQ(load.runs, 3);
}

}  // namespace
}  // namespace marquee::db
