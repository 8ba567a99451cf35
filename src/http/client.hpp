#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"

namespace marquee::http {

struct ClientResponse {
    unsigned status = 0;
    Fields headers;
    std::string body;
    std::optional<std::string_view> header(std::string_view name) const;
};

/// A transport failure of an outgoing call. `maybe_delivered()` tells the caller whether the peer may have
/// acted on the request (the request was written, the answer never came): only idempotent calls may then be
/// retried, and a money-moving caller must find out what happened before it decides. `Busy`: the client
/// already carries its bound of calls; nothing was sent, and the peer is not to blame.
class ClientError : public std::runtime_error {
  public:
    enum class Kind { Connect, Timeout, Broken, Busy };
    ClientError(Kind kind, bool maybe_delivered, const std::string& what)
        : std::runtime_error(what), kind_(kind), maybe_delivered_(maybe_delivered) {}
    Kind kind() const noexcept { return kind_; }
    bool maybe_delivered() const noexcept { return maybe_delivered_; }

  private:
    Kind kind_;
    bool maybe_delivered_;
};

/// An HTTP/1.1 client for calls to other services (the payment gateway), made for calls that are idempotent
/// (by method or by an Idempotency-Key). Connections are kept open between calls (keep-alive) and reused
/// newest first, so a flash sale does not pay a TCP handshake per call nor leave thousands of sockets in
/// TIME_WAIT. A kept connection is checked with a peek before reuse; if the server closed it anyway and the
/// call gets no byte of answer on it, the call is sent once more on a fresh connection (RFC 9110 §9.2.2
/// allows this for idempotent requests; it is what a server's idle close looks like). Calls beyond
/// `max_in_flight` fail at once with Kind::Busy: a caller sheds load rather than queueing behind a slow peer.
/// Thread-safe.
class Client {
  public:
    struct Options {
        std::string base_url;                     ///< http://host:port (no TLS)
        std::chrono::milliseconds timeout{2000};  ///< deadline of one call: connect, write and read
        std::size_t max_response_bytes = 1 << 20;
        std::size_t max_idle_connections = 64;  ///< kept open between calls; 0: a new connection per call
        /// A kept connection idle for longer is closed, not reused: below the server's own idle timeout, so
        /// the server rarely closes first.
        std::chrono::milliseconds max_idle_time{15'000};
        std::size_t max_in_flight = 256;  ///< calls at once; beyond, ClientError Busy at once. 0: no bound
    };

    /// What the client did so far, for metrics and tests.
    struct Stats {
        std::uint64_t connections_opened = 0;
        std::uint64_t calls_on_kept_connections = 0;
        std::uint64_t retried_on_fresh_connection = 0;  ///< a kept connection the server had closed
        std::uint64_t busy = 0;                         ///< refused at the in-flight bound
        std::size_t idle_connections = 0;
        std::size_t in_flight = 0;
    };

    /// Throws std::invalid_argument for a base URL that is not http://host:port.
    Client(boost::asio::any_io_executor executor, Options options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends one request; returns whatever status the peer answered. Throws ClientError on transport failure.
    boost::asio::awaitable<ClientResponse> request(std::string method, std::string target,
                                                   std::string body = {}, Fields headers = {});

    const Options& options() const noexcept { return options_; }
    Stats stats() const;

  private:
    struct Pool;
    boost::asio::any_io_executor executor_;
    Options options_;
    std::string host_;
    std::string port_;
    std::shared_ptr<Pool> pool_;
};

}  // namespace marquee::http
