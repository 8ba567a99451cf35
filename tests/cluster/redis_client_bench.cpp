// Throughput of Marquee's Redis client, single-node or cluster mode (ADR 0020), for docs/performance.md:
//   marquee_redis_client_bench single redis://127.0.0.1:PORT [seconds] [callers]
//   marquee_redis_client_bench cluster 127.0.0.1:P1,127.0.0.1:P2,... [seconds] [callers]
// `callers` coroutines each GET their own key in a loop on one I/O thread; prints calls/s. Compare with
// `redis-benchmark -t get -c <callers>` against the same server(s), measured in the same run.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "redis/client.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> caller(marquee::redis::Client& redis, std::string key,
                             std::chrono::steady_clock::time_point until, std::atomic<std::uint64_t>& calls) {
    co_await redis.set(key, "v");
    while (std::chrono::steady_clock::now() < until) {
        (void)co_await redis.get(key);
        calls.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s single|cluster URL|SEEDS [seconds] [callers]\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    const int seconds = argc > 3 ? std::stoi(argv[3]) : 5;
    const int callers = argc > 4 ? std::stoi(argv[4]) : 64;
    marquee::redis::ClientOptions options;
    if (mode == "cluster") {
        options.cluster = argv[2];
    } else {
        options.url = argv[2];
    }
    options.pool_size = 8;
    asio::io_context io;
    marquee::redis::Client redis(io.get_executor(), options);
    std::atomic<std::uint64_t> calls{0};
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::seconds(seconds);
    for (int i = 0; i < callers; ++i) {
        asio::co_spawn(io, caller(redis, "bench:{" + std::to_string(i) + "}:k", until, calls),
                       asio::detached);
    }
    io.run();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %.0f GET/s (%d callers, %.1f s)\n", mode.c_str(),
                static_cast<double>(calls.load()) / elapsed, callers, elapsed);
    return 0;
}
