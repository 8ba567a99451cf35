#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "load/http1.hpp"
#include "load/turns.hpp"

namespace marquee::load {

/// Where the load goes: a loopback address and port only.
struct Target {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string host;  ///< for the Host header, e.g. 127.0.0.1:8080
};

/// Parses http://HOST:PORT (HOST 127.x.y.z, ::1 in brackets, or localhost). Throws std::invalid_argument for
/// anything else: this tool never sends load off the machine.
Target parse_target(const std::string& url);

/// A transport failure: connect refused, deadline passed, connection broken or a malformed answer.
class TransportError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// One keep-alive HTTP/1.1 connection of one virtual user: requests go one after another, the connection is
/// opened on first use and again after the server closed it. Every request has a deadline (connect, write and
/// read together); on expiry the socket is closed and TransportError thrown. With `turns`, every request
/// first waits for its turn (SendTurns: a burst is sent in turns, its answers read meanwhile);
/// Response::sent is when the turn came (before connecting, if it must), so its latency does not hold that
/// wait.
class Connection {
  public:
    Connection(const boost::asio::any_io_executor& executor, Target target, std::chrono::milliseconds timeout,
               SendTurns* turns = nullptr);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    boost::asio::awaitable<Response> request(std::string method, std::string target, std::string body,
                                             Headers headers);
    void close();
    std::uint64_t connects() const noexcept { return connects_; }
    /// Connect from this local address (e.g. 127.0.0.2), so more than one address's ephemeral ports serve
    /// the run; unset: the kernel's choice.
    void bind_to(const boost::asio::ip::address& source) { source_ = source; }

  private:
    boost::asio::awaitable<Response> exchange(std::string wire);

    Target target_;
    std::chrono::milliseconds timeout_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer watchdog_;
    std::string buffer_;
    std::uint64_t connects_ = 0;
    std::optional<boost::asio::ip::address> source_;
    SendTurns* turns_ = nullptr;
    std::uint64_t generation_ = 0;
    bool timed_out_ = false;
    bool written_ = false;  ///< the last exchange wrote its request
};

}  // namespace marquee::load
