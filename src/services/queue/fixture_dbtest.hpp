#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "coroutines.hpp"
#include "local_services.hpp"
#include "redis/client.hpp"
#include "services/queue/model.hpp"
#include "services/queue/token_id.hpp"

namespace marquee::queue::testing {

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

    asio::io_context io_;
    redis::Client redis_{io_.get_executor(),
                         redis::ClientOptions{test::redis_url(), 8, std::chrono::seconds(5)}};
};

}  // namespace marquee::queue::testing
