#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "coroutines.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "http/context.hpp"
#include "local_services.hpp"
#include "redis/client.hpp"
#include "services/queue/gate.hpp"
#include "services/queue/model.hpp"
#include "services/queue/token_id.hpp"

namespace marquee::queue::testing {

/// Accepts `Bearer user:<id>` as user <id>; anything else is a 401, as the real verifier answers.
class FakeAuthenticator final : public http::Authenticator {
  public:
    http::Principal authenticate(std::string_view bearer_token) const override {
        if (bearer_token.rfind("user:", 0) != 0) {
            throw core::Problem::unauthorized("bad token", "invalid_token");
        }
        return http::Principal{std::string(bearer_token.substr(5)), {}};
    }
};

namespace asio = boost::asio;

/// A schedule id no other test (or earlier run) uses: a random base per process plus a counter.
inline std::int64_t unique_schedule() {
    static const std::int64_t base = [] {
        std::random_device device;
        return std::int64_t{1'000'000'000} + std::int64_t{device() % 1'000'000'000u} * 1000;
    }();
    static std::atomic<std::int64_t> next{0};
    return base + next++;
}

/// A user id as auth makes them (uuid text), unique per call.
inline std::string unique_user() {
    return new_token_id();
}

/// Settings for tests: a burst of `burst` per call (rate 1000/s, tick = burst ms), long TTLs unless changed.
inline Settings test_settings(unsigned max_active = 1000, unsigned burst = 1000) {
    Settings s;
    s.admit_per_second = 1000;
    s.tick = std::chrono::milliseconds(burst);
    s.max_active = max_active;
    s.active_ttl = std::chrono::minutes(10);
    s.waiting_ttl = std::chrono::minutes(60);
    s.ended_ttl = std::chrono::minutes(10);
    s.schedules_key = test::unique_name("queue:test-schedules");
    return s;
}

class RedisTest : public ::testing::Test {
  protected:
    /// Runs `task` to completion on this thread; exceptions come out of get().
    template <typename T>
    T run(asio::awaitable<T> task) {
        return test::run_here(io_, std::move(task));
    }

    /// The Problem require_active throws, or a Problem 0 if it passed.
    core::Problem refusal(Gate& gate, const std::string& user, std::int64_t schedule,
                          const std::string& token) {
        try {
            run(gate.require_active(user, schedule, token));
        } catch (const core::Problem& problem) {
            return problem;
        }
        return core::Problem(0, "passed", "passed");
    }

    asio::io_context io_;
    redis::Client redis_{io_.get_executor(),
                         redis::ClientOptions{test::redis_url(), 8, std::chrono::seconds(5)}};
};

/// RedisTest with the queue's PostgreSQL schema migrated and a pool on it (store, admission, recovery).
class QueueDbTest : public RedisTest {
  protected:
    void SetUp() override {
        std::vector<std::string> services{"queue"};
        run(db::migrate(db_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
    }

    /// The token's state in queue.queue_tokens; empty when it has no row.
    std::string state_in_db(const std::string& token) {
        const db::Result r =
            run(db_.query("SELECT state FROM queue.queue_tokens WHERE id = $1::uuid", db::params(token)));
        return r.empty() ? "" : r.get<std::string>(0, "state");
    }

    /// A catalog schedule (no zones, no seats) whose booking opened `opened_minutes_ago` minutes ago
    /// (negative: opens in the future): what the waiting room's opener reads (catalog.schedule_opens_at).
    std::int64_t catalog_schedule(int opened_minutes_ago = 1) {
        std::vector<std::string> catalog{"catalog"};
        run(db::migrate(db_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), catalog));
        const db::Result r = run(db_.query(
            "WITH c AS (INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1, 'A', 'V') RETURNING "
            "id) "
            "INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, booking_closes_at) "
            "SELECT id, now() + interval '30 days', now() - make_interval(mins => $2::int), "
            "now() + interval '29 days' FROM c RETURNING id",
            db::params(test::unique_name("queue-opening"), opened_minutes_ago)));
        return r.get<std::int64_t>(0, "id");
    }

    db::Pool db_{io_.get_executor(), db::PoolOptions{test::database_url(), 4, std::chrono::seconds(5)}};
};

}  // namespace marquee::queue::testing
