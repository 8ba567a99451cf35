#include "loop/lane.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
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

namespace marquee::loop {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;

struct Caller {
    bool entered = false;
    std::optional<int> refused_status;
    std::string refused_detail;
    std::optional<std::chrono::seconds> refused_retry_after;
    std::optional<Lane::Pass> place;
};

asio::awaitable<void> enter(Lane& lane, Caller& c) {
    try {
        Lane::Pass pass = co_await lane.enter();
        c.entered = true;
        c.place.emplace(std::move(pass));
    } catch (const core::Problem& p) {
        c.refused_status = p.status();
        c.refused_detail = p.detail();
        c.refused_retry_after = p.retry_after();
    }
}

// ADR 0056: the logins' lane lets `concurrency` in, lines up the rest in arrival order, and refuses the one
// past its bound with the 503 it was given (not the joins' text).
TEST(LaneTest, AFullLaneRefusesWithItsOwnServiceAndDetail) {
    asio::io_context io;  // polled: a caller waiting in line keeps run() from returning
    Lane lane(2, 1, "postgres", "too many logins are waiting for the database; retry shortly");
    Caller a, b, c, d;
    for (Caller* x : {&a, &b, &c, &d}) asio::co_spawn(io, enter(lane, *x), asio::detached);
    io.poll();
    EXPECT_TRUE(a.entered);
    EXPECT_TRUE(b.entered);
    EXPECT_FALSE(c.entered);  // waits in line
    EXPECT_FALSE(c.refused_status.has_value());
    ASSERT_TRUE(d.refused_status.has_value());
    EXPECT_EQ(*d.refused_status, 503);
    EXPECT_EQ(d.refused_detail, "too many logins are waiting for the database; retry shortly");
    EXPECT_EQ(lane.stats().waiting, 1U);
    a.place.reset();  // a leaves: c takes its place
    io.poll();
    EXPECT_TRUE(c.entered);
    EXPECT_EQ(lane.stats().inside, 2U);
    EXPECT_EQ(lane.stats().refused, 1U);
}

// ADR 0056's amendment: a caller still in line when max_wait has passed leaves the line with the lane's 503
// and Retry-After, instead of waiting on for as long as the callers ahead of it take (a client with a shorter
// timeout would see a timeout). The caller inside keeps its place; the next one gets in when it leaves.
TEST(LaneTest, ACallerStillInLineAfterMaxWaitLeavesItWith503AndRetryAfter) {
    asio::io_context io;
    Lane lane(1, 10, "postgres", "too many logins are waiting for the database; retry shortly", 20ms);
    Caller a, b;
    asio::co_spawn(io, enter(lane, a), asio::detached);
    asio::co_spawn(io, enter(lane, b), asio::detached);
    io.poll();
    ASSERT_TRUE(a.entered);
    ASSERT_FALSE(b.entered);
    ASSERT_FALSE(b.refused_status.has_value());  // waits in line: nothing measured, no expected wait yet

    // b's bound passes while a still holds the only place (run until b is answered, or give up after 10 s).
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!b.refused_status && !b.entered && std::chrono::steady_clock::now() < give_up) {
        io.restart();
        io.run_one_for(100ms);
    }
    ASSERT_TRUE(b.refused_status.has_value()) << "b was never answered while a held the place";
    EXPECT_FALSE(b.entered);
    EXPECT_EQ(*b.refused_status, 503);
    EXPECT_EQ(b.refused_retry_after, std::optional(std::chrono::seconds(1)));
    EXPECT_NE(b.refused_detail.find("too many logins are waiting for the database"), std::string::npos)
        << b.refused_detail;
    EXPECT_NE(b.refused_detail.find("waited 20 ms in line"), std::string::npos) << b.refused_detail;
    const Lane::Stats after = lane.stats();
    EXPECT_EQ(after.timed_out, 1U);
    EXPECT_EQ(after.waiting, 0U);
    EXPECT_EQ(after.inside, 1U);

    // The place b left is not handed to it: a's leaving frees it for the next caller, at once.
    a.place.reset();
    io.restart();
    io.poll();
    EXPECT_EQ(lane.stats().inside, 0U);
    Caller c;
    asio::co_spawn(io, enter(lane, c), asio::detached);
    io.restart();
    io.poll();
    EXPECT_TRUE(c.entered);
    EXPECT_EQ(lane.stats().inside, 1U);
}

// A caller let in before its bound passes keeps its place: its timer is called off, it is never answered 503
// afterwards, and nobody is counted as timed out.
TEST(LaneTest, ACallerLetInBeforeMaxWaitIsNotTimedOutLater) {
    asio::io_context io;
    Lane lane(1, 10, "postgres", "busy", 50ms);
    Caller a, b;
    asio::co_spawn(io, enter(lane, a), asio::detached);
    asio::co_spawn(io, enter(lane, b), asio::detached);
    io.poll();
    ASSERT_TRUE(a.entered);
    ASSERT_FALSE(b.entered);
    a.place.reset();  // b gets the place within its bound
    io.restart();
    io.poll();
    ASSERT_TRUE(b.entered);
    io.restart();
    io.run_for(200ms);  // well past b's bound
    EXPECT_TRUE(b.entered);
    EXPECT_FALSE(b.refused_status.has_value());
    EXPECT_EQ(lane.stats().timed_out, 0U);
    EXPECT_EQ(lane.stats().inside, 1U);
}

// ADR 0056's amendment: once the lane has measured how long a place is held, a caller whose expected wait
// (callers ahead + 1, times the mean hold, over the places) is past max_wait is refused at once with the
// 503, not after waiting max_wait for nothing; the callers whose expected wait is within it still line up.
TEST(LaneTest, ACallerWhoseExpectedWaitIsPastMaxWaitIsRefusedAtOnce) {
    asio::io_context io;
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    Lane lane(2, 1000, "postgres", "too many logins are waiting for the database; retry shortly", 1000ms,
              [&now] { return now; });

    // Lane::kMinMeasured places, each held 100 ms by the lane's clock.
    for (std::uint64_t i = 0; i < Lane::kMinMeasured; ++i) {
        Caller x;
        asio::co_spawn(io, enter(lane, x), asio::detached);
        io.restart();
        io.poll();
        ASSERT_TRUE(x.entered);
        now += 100ms;
        x.place.reset();
    }
    EXPECT_EQ(lane.stats().mean_hold, std::chrono::steady_clock::duration(100ms));

    // Both places taken: the k-th caller in line (k = 1, 2, ...) expects k x 100 ms / 2 places. Up to 20 in
    // line (1,000 ms) wait; the 21st would wait about 1,050 ms and is refused at once.
    Caller in1, in2;
    asio::co_spawn(io, enter(lane, in1), asio::detached);
    asio::co_spawn(io, enter(lane, in2), asio::detached);
    std::vector<Caller> line(21);
    for (Caller& c : line) asio::co_spawn(io, enter(lane, c), asio::detached);
    io.restart();
    io.poll();
    ASSERT_TRUE(in1.entered);
    ASSERT_TRUE(in2.entered);
    for (std::size_t i = 0; i < 20; ++i) {
        EXPECT_FALSE(line[i].entered) << i;
        EXPECT_FALSE(line[i].refused_status.has_value()) << i << ": " << line[i].refused_detail;
    }
    ASSERT_TRUE(line[20].refused_status.has_value()) << "the 21st caller was let into the line";
    EXPECT_EQ(*line[20].refused_status, 503);
    EXPECT_EQ(line[20].refused_retry_after, std::optional(std::chrono::seconds(1)));
    EXPECT_NE(line[20].refused_detail.find("would be about 1050 ms, longer than the 1000 ms"),
              std::string::npos)
        << line[20].refused_detail;
    const Lane::Stats stats = lane.stats();
    EXPECT_EQ(stats.refused_slow, 1U);
    EXPECT_EQ(stats.refused, 0U);
    EXPECT_EQ(stats.waiting, 20U);

    // Without a bound in time (0), the same line takes every caller up to its length.
    Lane unbounded(2, 1000, "postgres", "busy", 0ms, [&now] { return now; });
    std::vector<Caller> all(25);
    for (Caller& c : all) asio::co_spawn(io, enter(unbounded, c), asio::detached);
    io.restart();
    io.poll();
    for (const Caller& c : all) EXPECT_FALSE(c.refused_status.has_value()) << c.refused_detail;
    EXPECT_EQ(unbounded.stats().waiting, 23U);
    for (Caller& c : line) c.place.reset();
    in1.place.reset();
    in2.place.reset();
    for (Caller& c : all) c.place.reset();
}

// Many callers on several threads, each holding its place for 0-2 ms, against a bound of 3 ms: every caller
// ends either inside or answered 503 (none left waiting, none let in twice), never more than `concurrency`
// inside at once, and the lane is empty afterwards.
TEST(LaneTest, EveryCallerEndsInsideOrRefusedOnManyThreads) {
    constexpr int kCallers = 3000;
    constexpr std::size_t kPlaces = 3;
    asio::io_context io;
    Lane lane(kPlaces, 100'000, "postgres", "busy", 3ms);
    std::atomic<int> inside{0};
    std::atomic<int> most_inside{0};
    std::atomic<int> entered{0};
    std::atomic<int> refused{0};
    std::atomic<int> other{0};
    auto caller = [&](int i) -> asio::awaitable<void> {
        try {
            Lane::Pass pass = co_await lane.enter();
            const int now_inside = inside.fetch_add(1) + 1;
            int seen = most_inside.load();
            while (now_inside > seen && !most_inside.compare_exchange_weak(seen, now_inside)) {
            }
            asio::steady_timer hold(co_await asio::this_coro::executor,
                                    std::chrono::microseconds((i % 3) * 1000));
            co_await hold.async_wait(asio::use_awaitable);
            inside.fetch_sub(1);
            entered.fetch_add(1);
        } catch (const core::Problem& p) {
            (p.status() == 503 ? refused : other).fetch_add(1);
        }
    };
    for (int i = 0; i < kCallers; ++i) asio::co_spawn(io, caller(i), asio::detached);
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(entered.load() + refused.load(), kCallers);
    EXPECT_EQ(other.load(), 0);
    EXPECT_GT(entered.load(), 0);
    EXPECT_LE(most_inside.load(), static_cast<int>(kPlaces));
    const Lane::Stats stats = lane.stats();
    EXPECT_EQ(stats.inside, 0U);
    EXPECT_EQ(stats.waiting, 0U);
    EXPECT_EQ(stats.timed_out + stats.refused_slow, static_cast<std::uint64_t>(refused.load()));
    EXPECT_GT(stats.timed_out, 0U);  // the first callers lined up before any hold time was measured
}

}  // namespace
}  // namespace marquee::loop
