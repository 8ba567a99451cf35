// ADR 0040: the statement that completes money already moved is never refused by the pool's waiting bound.
// With the pool overloaded (its one connection held, its waiting queue full), new work is shed at once with
// 503, while a Priority::Finish statement queues past the bound, ahead of the new work, and completes.

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "db/pool.hpp"
#include "support/coroutines.hpp"
#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Lets the other coroutines on this thread run until `done()` holds (a state to reach, not a time to
/// assert: the 1 ms pauses only keep the loop from spinning).
asio::awaitable<void> until(const std::function<bool()>& done) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (!done()) {
        pause.expires_after(1ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
}

TEST(PoolFinishDbTest, AnOverloadedPoolShedsNewWorkButTheSettleCompletesFirst) {
    asio::io_context io;
    PoolOptions options;
    options.url = test::database_url();
    options.size = 1;
    options.timeout = 30s;  // a deadline, not a timing: nothing here should ever wait that long
    options.max_waiting = 3;
    options.application_name = test::unique_name("pool_finish");
    Pool pool(io.get_executor(), options);

    std::vector<std::string> order;  // the statements in the order they completed (one thread)
    int shed = 0;
    std::exception_ptr failure;
    auto statement = [&](std::string name, Priority priority) -> asio::awaitable<void> {
        try {
            const Result result = co_await pool.query("SELECT $1::text AS name", params(name), priority);
            order.push_back(result.get<std::string>(0, "name"));
        } catch (const core::Problem& problem) {
            if (problem.status() == 503) {
                ++shed;
            } else {
                failure = std::current_exception();
            }
        } catch (...) {
            failure = std::current_exception();
        }
    };
    auto scenario = [&]() -> asio::awaitable<void> {
        std::optional<Session> held(co_await pool.session());  // every connection busy
        for (int i = 0; i < 3; ++i) {
            asio::co_spawn(io, statement("new-" + std::to_string(i), Priority::Normal), asio::detached);
        }
        co_await until([&] { return pool.stats().waiting == 3; });
        // The queue is full: new work is refused at once ...
        co_await statement("refused", Priority::Normal);
        EXPECT_EQ(shed, 1);
        // ... but the settle of a charge the gateway approved queues past the bound, and ahead of the rest.
        asio::co_spawn(io, statement("settle", Priority::Finish), asio::detached);
        co_await until([&] { return pool.stats().waiting == 4; });
        asio::co_spawn(io, statement("settle-2", Priority::Finish), asio::detached);
        co_await until([&] { return pool.stats().waiting == 5; });
        co_await statement("refused-again", Priority::Normal);
        EXPECT_EQ(shed, 2) << "a Finish caller past the bound does not let new work in";
        held.reset();  // the connection comes back: the queue drains
        co_await until([&] { return order.size() == 5; });
    };
    test::run(io, [&]() -> asio::awaitable<bool> {
        co_await scenario();
        co_return true;
    }());

    if (failure) std::rethrow_exception(failure);
    ASSERT_EQ(order.size(), 5u);
    EXPECT_EQ(order[0], "settle") << "the settle goes first";
    EXPECT_EQ(order[1], "settle-2") << "Finish callers keep their order among themselves";
    EXPECT_EQ(order[2], "new-0");
    EXPECT_EQ(order[4], "new-2");
    const Pool::Stats stats = pool.stats();
    EXPECT_EQ(stats.shed, 2u);
    EXPECT_EQ(stats.finish_over_bound, 2u);
    EXPECT_EQ(stats.finish_acquired, 2u);
    EXPECT_EQ(stats.waiting, 0u);
    EXPECT_EQ(stats.in_use, 0u);
}

// The waiting bound by expected wait (ADR 0040): with far more callers than the pool serves within the
// deadline, new work is refused at once for the wait it could expect, long before the hard bound of queued
// callers (here unreachable); with two connections and 10 ms statements a queue of 300 would wait about 1.5 s
// against a 300 ms deadline.
TEST(PoolFinishDbTest, NewWorkIsShedForTheWaitItCanExpectNotForACount) {
    asio::io_context io;
    PoolOptions options;
    options.url = test::database_url();
    options.size = 2;
    options.timeout = 300ms;
    options.max_waiting = 1'000'000;
    options.application_name = test::unique_name("pool_expected_wait");
    Pool pool(io.get_executor(), options);

    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::atomic<int> other{0};
    auto worker = [&](int) -> asio::awaitable<void> {
        asio::steady_timer pause(co_await asio::this_coro::executor);
        while (!stop) {
            bool refused = false;
            try {
                (void)co_await pool.query("SELECT pg_sleep(0.01)");
                ++answered;
            } catch (const core::Problem& problem) {
                if (problem.status() != 503) ++other;
                refused = true;
            } catch (...) {
                ++other;
            }
            if (refused) {
                pause.expires_after(5ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
        }
    };
    test::run_workers(io, 300, 2, worker, [&stop] {
        std::this_thread::sleep_for(3s);
        stop = true;
    });

    EXPECT_EQ(other.load(), 0);
    EXPECT_GT(answered.load(), 0);
    const Pool::Stats stats = pool.stats();
    EXPECT_GT(stats.shed_expected_wait, 0u) << "no caller was refused for the wait it could expect";
    EXPECT_EQ(stats.shed, stats.shed_expected_wait) << "the count bound is out of reach here";
    EXPECT_GT(stats.handover_interval.count(), 0);
    EXPECT_GE(stats.handovers, 32u)
        << "the admission controller reads the interval only once this many were measured";
    EXPECT_EQ(stats.waiting, 0u);
    EXPECT_EQ(stats.in_use, 0u);
}

}  // namespace
}  // namespace marquee::db
