#pragma once
// Shared by the Redis Cluster tests (tests/cluster/run starts the cluster and sets MARQUEE_REDIS_CLUSTER,
// MARQUEE_CLUSTER_STATE and MARQUEE_OPSLIB_DIR).
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "coroutines.hpp"
#include "redis/client.hpp"

namespace marquee::cluster_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline std::string env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) {
        ADD_FAILURE() << name << " is not set: run this binary through tests/cluster/run";
        return {};
    }
    return value;
}

/// Runs `python3 -m opslib.redis_cluster --state <the run's folder> ARGS` and returns what it printed.
inline std::string ops(const std::string& args) {
    const std::string command = "cd '" + env("MARQUEE_OPSLIB_DIR") +
                                "' && python3 -m opslib.redis_cluster --state '" +
                                env("MARQUEE_CLUSTER_STATE") + "' " + args;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("popen failed: " + command);
    std::string out;
    std::array<char, 256> buffer{};
    while (fgets(buffer.data(), static_cast<int>(buffer.size()), pipe.get()) != nullptr) out += buffer.data();
    const int status = pclose(pipe.release());
    if (status != 0) throw std::runtime_error("failed (" + std::to_string(status) + "): " + command);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

/// A schedule id per call, so keys of one run never meet keys of another.
inline std::int64_t fresh_schedule() {
    static const std::int64_t base =
        static_cast<std::int64_t>(std::random_device{}() % 1'000'000u) * 1000 + 7'000'000;
    static std::int64_t next = 0;
    return base + next++;
}

class RedisClusterTest : public ::testing::Test {
  protected:
    template <typename T>
    T run(asio::awaitable<T> task) {
        return test::run_here(io_, std::move(task));
    }

    redis::ClientOptions options() {
        redis::ClientOptions o;
        o.cluster = env("MARQUEE_REDIS_CLUSTER");
        o.pool_size = 2;
        o.timeout = 1000ms;
        return o;
    }

    asio::io_context io_;
    redis::Client redis_{io_.get_executor(), options()};
};

}  // namespace marquee::cluster_test
