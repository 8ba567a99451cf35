#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "local_services.hpp"
#include "redis/client.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/store.hpp"
#include "services/queue/token_id.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::int64_t unique_schedule() {
    std::random_device device;
    return std::int64_t{3'000'000'000} + std::int64_t{device() % 1'000'000'000u};
}

Settings settings(unsigned max_active) {
    Settings s;
    s.admit_per_second = 100'000;
    s.tick = 10ms;  // a burst of 1000 per step: the maximum, not the rate, is what binds here
    s.max_active = max_active;
    s.active_ttl = 10min;
    s.waiting_ttl = 60min;
    s.ended_ttl = 10min;
    s.schedules_key = test::unique_name("queue:concurrency-schedules");
    return s;
}

redis::ClientOptions redis_options() {
    // Thousands of calls queue for 16 connections: the deadline covers that wait.
    return redis::ClientOptions{test::redis_url(), 16, 60s};
}

TEST(QueueJoins, TwoThousandConcurrentJoinsGetPositionsOneToTwoThousand) {
    constexpr int kJoins = 2000;
    const std::int64_t schedule = unique_schedule();
    const Settings s = settings(10);
    std::mutex mutex;
    std::vector<std::int64_t> positions;
    std::set<std::string> tokens;

    asio::io_context io(4);
    redis::Client redis(io.get_executor(), redis_options());
    WaitingRoom room(redis, s);
    std::vector<std::future<void>> joins;
    joins.reserve(kJoins);
    for (int i = 0; i < kJoins; ++i) {
        joins.push_back(asio::co_spawn(
            io,
            [&room, &mutex, &positions, &tokens, schedule, user = new_token_id()]() -> asio::awaitable<void> {
                const Joined joined = co_await room.join(user, schedule);
                std::lock_guard lock(mutex);
                positions.push_back(joined.status.position);
                tokens.insert(joined.status.token);
            },
            asio::use_future));
    }
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int i = 0; i < 4; ++i) threads.emplace_back([&io] { io.run(); });
    for (auto& t : threads) t.join();
    for (auto& j : joins) j.get();  // rethrows a failed join

    ASSERT_EQ(positions.size(), static_cast<std::size_t>(kJoins));
    std::sort(positions.begin(), positions.end());
    for (int i = 0; i < kJoins; ++i) ASSERT_EQ(positions[i], i + 1) << "a gap or a duplicate at " << i + 1;
    EXPECT_EQ(tokens.size(), static_cast<std::size_t>(kJoins)) << "every join got its own token";
}

TEST(QueueJoins, OneUserJoiningTwoHundredTimesAtOnceGetsOneToken) {
    const std::int64_t schedule = unique_schedule();
    const std::string user = new_token_id();
    asio::io_context io(4);
    redis::Client redis(io.get_executor(), redis_options());
    WaitingRoom room(redis, settings(10));
    std::vector<std::future<Joined>> joins;
    joins.reserve(200);
    for (int i = 0; i < 200; ++i) {
        joins.push_back(asio::co_spawn(io, room.join(user, schedule), asio::use_future));
    }
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int i = 0; i < 4; ++i) threads.emplace_back([&io] { io.run(); });
    for (auto& t : threads) t.join();
    std::set<std::string> tokens;
    int created = 0;
    for (auto& j : joins) {
        const Joined joined = j.get();
        tokens.insert(joined.status.token);
        created += joined.created ? 1 : 0;
    }
    EXPECT_EQ(tokens.size(), 1u);
    EXPECT_EQ(created, 1);
}

TEST(QueueAdmission, TwoSchedulersNeverExceedTheActiveMaximum) {
    constexpr int kTokens = 1000;
    constexpr unsigned kMax = 50;
    const std::int64_t schedule = unique_schedule();
    Settings s = settings(kMax);
    s.active_ttl = 0ms;  // every step first expires the tokens admitted before it: slots churn constantly

    // The waiting room, filled before the race.
    {
        asio::io_context io;
        redis::Client redis(io.get_executor(), redis_options());
        db::Pool db(io.get_executor(), db::PoolOptions{test::database_url(), 2, 10s});
        WaitingRoom room(redis, s);
        std::vector<std::string> services{"queue"};
        auto migrated = asio::co_spawn(
            io, db::migrate(db, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services), asio::use_future);
        auto filled = asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                for (int i = 0; i < kTokens; ++i) {
                    co_await room.join(new_token_id(), schedule);
                }
            },
            asio::use_future);
        io.run();
        migrated.get();
        filled.get();
    }

    std::atomic<std::int64_t> admitted{0};
    std::atomic<bool> done{false};
    std::atomic<std::int64_t> worst_active{0};
    std::atomic<int> steps{0};
    auto scheduler_thread = [&] {
        asio::io_context io;
        redis::Client redis(io.get_executor(), redis_options());
        db::Pool db(io.get_executor(), db::PoolOptions{test::database_url(), 2, 10s});
        auto room = std::make_shared<WaitingRoom>(redis, s);
        auto store = std::make_shared<Store>(db);
        Scheduler scheduler(room, store, nullptr);
        auto loop = asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                for (int tick = 0; tick < 20'000 && !done; ++tick) {
                    const TickReport report = co_await scheduler.tick();
                    ++steps;
                    std::int64_t seen = worst_active;
                    while (report.active > seen && !worst_active.compare_exchange_weak(seen, report.active)) {
                    }
                    if (admitted += report.admitted; admitted >= kTokens) done = true;
                }
            },
            asio::use_future);
        io.run();
        loop.get();
    };
    // A third process-like observer reads the active set while the two schedulers race.
    std::atomic<std::int64_t> worst_observed{0};
    auto observer_thread = [&] {
        asio::io_context io;
        redis::Client redis(io.get_executor(), redis_options());
        auto loop = asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                const std::string key = key_prefix(schedule) + "active";
                while (!done) {
                    const auto active = (co_await redis.command("ZCARD", key)).or_throw().as_integer();
                    if (active > worst_observed) worst_observed = active;
                }
            },
            asio::use_future);
        io.run();
        loop.get();
    };
    std::thread a(scheduler_thread), b(scheduler_thread), observer(observer_thread);
    a.join();
    b.join();
    done = true;
    observer.join();

    EXPECT_EQ(admitted.load(), kTokens) << "every token admitted exactly once, by one of the two";
    EXPECT_LE(worst_active.load(), kMax) << "as the admit script saw it";
    EXPECT_LE(worst_observed.load(), kMax) << "as an outside reader saw it";
    EXPECT_GE(steps.load(), kTokens / static_cast<int>(kMax)) << "at most the maximum per step";

    // Nothing is left waiting, and the audit recorded each admission once.
    asio::io_context io;
    redis::Client redis(io.get_executor(), redis_options());
    db::Pool db(io.get_executor(), db::PoolOptions{test::database_url(), 2, 10s});
    auto check = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<std::pair<std::int64_t, std::int64_t>> {
            const std::string key = key_prefix(schedule) + "waiting";
            const auto waiting = (co_await redis.command("ZCARD", key)).or_throw().as_integer();
            const db::Result rows = co_await db.query(
                "SELECT count(*) AS n FROM queue.queue_tokens WHERE schedule_id = $1 AND admitted_at IS NOT "
                "NULL",
                db::params(schedule));
            co_return std::pair{waiting, rows.get<std::int64_t>(0, "n")};
        },
        asio::use_future);
    io.run();
    const auto [waiting, audited] = check.get();
    EXPECT_EQ(waiting, 0);
    EXPECT_EQ(audited, kTokens);
}

}  // namespace
}  // namespace marquee::queue
