// Issue 15: the Redis client's timeout paths under a Redis that stalls (docs/reliability.md, "Issue 15").
// A fake Redis of the test's own that stops reading, answering and accepting for a while, then answers
// everything at once: calls time out while their replies are pending, connects time out while the kernel
// holds the SYN (a full accept queue), and replies then arrive for calls that gave up. Run it under
// `scripts/sanitize asan` to see a lifetime bug as a report; here it checks that every call ends (a reply
// or a 503) and nothing stays pending.

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "coroutines.hpp"
#include "redis/client.hpp"

namespace marquee::redis {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

/// A Redis stand-in that answers +PONG to every command (the test sends only PINGs) and can be paused: while
/// paused it neither accepts, reads nor answers, and its accept queue (backlog 1) fills, so new connects
/// hang in the kernel until the client's deadline.
class StallingRedis {
  public:
    StallingRedis() : acceptor_(io_) {
        const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen(1);
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~StallingRedis() {
        io_.stop();
        thread_.join();
    }
    StallingRedis(const StallingRedis&) = delete;
    StallingRedis& operator=(const StallingRedis&) = delete;

    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    void pause(bool paused) { paused_ = paused; }

  private:
    asio::awaitable<void> until_running() {
        asio::steady_timer timer(io_);
        while (paused_) {
            timer.expires_after(1ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            co_await until_running();
            auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket) {
        std::array<char, 16384> buffer{};
        std::string replies;
        char previous = '\n';
        for (;;) {
            co_await until_running();
            auto [ec, n] =
                co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            co_await until_running();
            replies.clear();
            for (std::size_t i = 0; i < n; ++i) {
                if (buffer[i] == '*' && previous == '\n') replies += "+PONG\r\n";
                previous = buffer[i];
            }
            auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(replies),
                                                                  asio::as_tuple(asio::use_awaitable));
            if (write_ec) co_return;
        }
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> paused_{false};
    std::thread thread_;
};

TEST(RedisStallTest, EveryCallEndsWhileRedisStallsAndResumes) {
    StallingRedis server;
    asio::io_context io;
    ClientOptions options{server.url(), 8, 25ms};
    options.max_pending_per_connection = 64;
    Client client(io.get_executor(), options);

    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::atomic<int> unavailable{0};
    std::atomic<int> other{0};
    std::mutex mutex;
    std::map<std::string, int> details;
    constexpr int kWorkers = 96;
    auto worker = [&](int id) -> asio::awaitable<void> {
        while (!stop) {
            try {
                if (id % 3 == 0) {
                    std::vector<std::vector<std::string>> commands{{"PING"}, {"PING"}, {"PING"}};
                    const std::vector<Reply> replies = co_await client.pipeline(std::move(commands));
                    if (replies.size() != 3 || replies.back() != Reply::status("PONG")) ++other;
                } else {
                    const Reply reply = co_await client.command("PING");
                    if (reply != Reply::status("PONG")) ++other;
                }
                ++answered;
            } catch (const core::Problem& problem) {
                (problem.status() == 503 ? unavailable : other)++;
                std::lock_guard lock(mutex);
                ++details[problem.detail().substr(0, problem.detail().find(" within"))];
            } catch (...) {
                ++other;
            }
        }
    };
    // Callers on the bare context and on strands of their own, as request handlers are; stalls of 10 to 80 ms
    // (some shorter, some longer than a call's deadline) between short runs.
    test::run_workers(io, kWorkers, 4, worker, [&] {
        for (int round = 0; round < 40; ++round) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5 + (round * 7) % 30));
            server.pause(true);
            std::this_thread::sleep_for(std::chrono::milliseconds(10 + (round * 13) % 70));
            server.pause(false);
        }
        std::this_thread::sleep_for(100ms);
        stop = true;
    });

    EXPECT_EQ(other.load(), 0);
    // Both timeout paths ran: replies pending at the deadline, and connects held in the kernel's queue.
    EXPECT_GT(details["redis did not answer"], 0);
    EXPECT_GT(details["connecting to redis did not finish"], 0);
    EXPECT_GT(answered.load(), 0);
    EXPECT_GT(unavailable.load(), 0) << "the stalls never made a call time out";
    EXPECT_EQ(client.stats().pending, 0u);
}

}  // namespace
}  // namespace marquee::redis
