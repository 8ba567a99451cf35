// The bound on server-side cancels (db/cancels.hpp). PostgreSQL 15's PQcancel waits, with no timeout, until
// the server closes the cancel's connection; a server that never does (a black hole, a stuck postmaster)
// would keep one thread per statement past its deadline. Here a relay in front of the test PostgreSQL
// swallows every cancel request, as such a server would, while it relays the pool's own connections.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/problem.hpp"
#include "db/cancels.hpp"
#include "db/pool.hpp"
#include "support/coroutines.hpp"
#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint32_t kCancelRequestCode = 80877102;  // PostgreSQL protocol: CancelRequest

/// A loopback TCP relay to `upstream_port` that swallows cancel requests: a connection whose first message
/// is a CancelRequest is accepted, read and then neither answered nor closed until the relay stops; every
/// other connection is relayed both ways.
class CancelSwallowingRelay {
  public:
    explicit CancelSwallowingRelay(std::uint16_t upstream_port) : upstream_port_(upstream_port) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (listener_ < 0) throw std::runtime_error("socket");
        sockaddr_in address = loopback(0);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            ::listen(listener_, 64) != 0) {
            throw std::runtime_error("bind/listen");
        }
        socklen_t length = sizeof(address);
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        threads_.emplace_back([this] { accept_loop(); });
    }

    ~CancelSwallowingRelay() { stop(); }
    CancelSwallowingRelay(const CancelSwallowingRelay&) = delete;
    CancelSwallowingRelay& operator=(const CancelSwallowingRelay&) = delete;

    std::uint16_t port() const { return port_; }
    int swallowed() const { return swallowed_.load(); }

    /// Closes the swallowed cancels' connections (their PQcancel returns) and every relayed one.
    void stop() {
        if (stopping_.exchange(true)) return;
        {
            std::lock_guard lock(mutex_);
            for (const int fd : held_) ::close(fd);
            held_.clear();
        }
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            threads.swap(threads_);
        }
        for (auto& thread : threads) thread.join();
        ::close(listener_);
    }

  private:
    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return address;
    }

    void accept_loop() {
        while (!stopping_) {
            pollfd ready{listener_, POLLIN, 0};
            if (::poll(&ready, 1, 50) <= 0) continue;
            const int client = ::accept(listener_, nullptr, nullptr);
            if (client < 0) continue;
            std::lock_guard lock(mutex_);
            threads_.emplace_back([this, client] { serve(client); });
        }
    }

    void serve(int client) {
        std::array<unsigned char, 8> head{};
        if (::recv(client, head.data(), head.size(), MSG_WAITALL) != static_cast<ssize_t>(head.size())) {
            ::close(client);
            return;
        }
        std::uint32_t code = 0;
        std::memcpy(&code, head.data() + 4, sizeof(code));
        if (ntohl(code) == kCancelRequestCode) {
            std::array<unsigned char, 8> rest{};  // the backend's pid and secret key
            ::recv(client, rest.data(), rest.size(), MSG_WAITALL);
            std::lock_guard lock(mutex_);
            if (stopping_) {
                ::close(client);
            } else {
                held_.push_back(client);
                ++swallowed_;
            }
            return;
        }
        const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address = loopback(upstream_port_);
        if (upstream < 0 ||
            ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            ::send(upstream, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) {
            if (upstream >= 0) ::close(upstream);
            ::close(client);
            return;
        }
        relay(client, upstream);
        ::close(upstream);
        ::close(client);
    }

    void relay(int client, int upstream) {
        std::array<char, 16384> buffer{};
        while (!stopping_) {
            std::array<pollfd, 2> fds{pollfd{client, POLLIN, 0}, pollfd{upstream, POLLIN, 0}};
            if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                const ssize_t n = ::recv(fds[i].fd, buffer.data(), buffer.size(), 0);
                if (n <= 0) return;
                const int to = i == 0 ? upstream : client;
                if (::send(to, buffer.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
            }
        }
    }

    std::uint16_t upstream_port_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> swallowed_{0};
    std::mutex mutex_;
    std::vector<int> held_;
    std::vector<std::thread> threads_;
};

/// The test database's URL (`postgresql://user@127.0.0.1:PORT/db...`, scripts/lib/services.sh) split around
/// its port.
struct LoopbackUrl {
    std::string before_port;
    std::uint16_t port = 0;
    std::string after_port;
};

LoopbackUrl split_port(const std::string& url) {
    const std::string host = "@127.0.0.1:";
    const auto at = url.find(host);
    if (at == std::string::npos) return {};
    const auto begin = at + host.size();
    const auto end = url.find_first_not_of("0123456789", begin);
    const auto digits = url.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (digits.empty() || digits.size() > 5) return {};
    return {url.substr(0, begin), static_cast<std::uint16_t>(std::stoi(digits)),
            end == std::string::npos ? std::string() : url.substr(end)};
}

/// Waits, up to `limit`, for `done`; the test's assertions then say whether it came.
template <typename Done>
void wait_until(Done done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
}

TEST(CancelBoundDbTest, AServerThatNeverAnswersCancelsHoldsAtMostTheBoundOfThreads) {
    const LoopbackUrl url = split_port(test::database_url());
    ASSERT_NE(url.port, 0) << "the relay reaches the test PostgreSQL on 127.0.0.1 only: "
                           << test::database_url();
    CancelSwallowingRelay relay(url.port);

    PoolOptions options;
    options.url = url.before_port + std::to_string(relay.port()) + url.after_port;
    options.size = 1;
    options.timeout = 150ms;
    options.application_name = test::unique_name("cancel_bound");
    asio::io_context io;
    Pool pool(io.get_executor(), options);

    const CancelStats before = cancel_stats();
    constexpr int kDeadlines = static_cast<int>(kMaxCancelsInFlight) * 2;
    std::vector<int> statuses;
    std::vector<std::string> details;
    int answer = 0;
    test::run_here(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < kDeadlines; ++i) {
            try {
                co_await pool.transaction([&](Transaction& tx) -> asio::awaitable<void> {
                    co_await tx.query("SELECT pg_sleep(5)");
                });
                statuses.push_back(200);
            } catch (const core::Problem& problem) {
                statuses.push_back(problem.status());
                details.push_back(problem.detail());
            }
        }
        const Result again = co_await pool.query("SELECT 42 AS answer");
        answer = again.get<int>(0, "answer");
    }());

    ASSERT_EQ(statuses, std::vector<int>(kDeadlines, 503));
    ASSERT_EQ(details.size(), static_cast<std::size_t>(kDeadlines));
    for (std::size_t i = 0; i < details.size(); ++i) {
        const bool cancelled = details[i].find("was cancelled") != std::string::npos;
        const bool left_to_the_server = details[i].find("statement_timeout stops it") != std::string::npos;
        EXPECT_EQ(cancelled, i < kMaxCancelsInFlight) << i << ": " << details[i];
        EXPECT_EQ(left_to_the_server, i >= kMaxCancelsInFlight) << i << ": " << details[i];
    }
    EXPECT_EQ(answer, 42) << "the pool serves again after its dropped connections";

    // The started cancels' threads all reach the relay and stay there, as they would at a silent server.
    wait_until([&] { return relay.swallowed() == static_cast<int>(kMaxCancelsInFlight); }, 10s);
    EXPECT_EQ(relay.swallowed(), static_cast<int>(kMaxCancelsInFlight));
    const CancelStats stuck = cancel_stats();
    EXPECT_EQ(stuck.in_flight - before.in_flight, kMaxCancelsInFlight);
    EXPECT_EQ(stuck.sent - before.sent, kMaxCancelsInFlight);
    EXPECT_EQ(stuck.skipped - before.skipped, kMaxCancelsInFlight);

    // Once the "server" closes them, every cancel thread ends and the bound is free again.
    relay.stop();
    wait_until([&] { return cancel_stats().in_flight == before.in_flight; }, 10s);
    EXPECT_EQ(cancel_stats().in_flight, before.in_flight);
}

}  // namespace
}  // namespace marquee::db
