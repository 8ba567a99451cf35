#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"

namespace marquee::http {

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  ///< 0 picks a free port; listen() returns it
    core::HttpLimits limits;
    /// Verifies bearer tokens for Context::user(); must outlive the server. Null: every user() is a 401.
    const Authenticator* authenticator = nullptr;
    /// Proxies whose X-Forwarded-For names the client (http/forwarded.hpp); a bad entry throws ConfigError.
    std::vector<std::string> trusted_proxies;
};

/// The HTTP/1.1 server: one coroutine per connection on its own strand, keep-alive, limits on head and body
/// size, a deadline on every read and write, one JSON access-log line and metrics per request. The only place
/// that catches core::Problem and renders it as application/problem+json (RFC 9457).
/// The connection cap for `configured` (0: derived) under a file limit of `file_limit` descriptors: whatever
/// is asked, at most the limit minus headroom (max(256, limit / 10)) for the pools, files, the listener and
/// the sockets being refused, and at least 1.
std::size_t connection_cap_for(std::size_t configured, std::size_t file_limit);

/// RLIMIT_NOFILE of this process, after raising its soft limit to the hard one where allowed.
std::size_t raise_file_limit();

class Server {
  public:
    Server(boost::asio::io_context& ioc, ServerOptions options, const Router& router,
           core::MetricsRegistry& metrics);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and listens; returns the bound port. Throws std::system_error when the address is taken.
    std::uint16_t listen();
    /// Starts accepting (call after listen(); returns at once).
    void start();
    /// Graceful shutdown: stops accepting, closes idle keep-alive connections, lets requests in flight
    /// finish (their responses carry `Connection: close`); completes when all are closed or `drain` passed.
    boost::asio::awaitable<void> shutdown(std::chrono::milliseconds drain);
    /// Open connections, for tests and the graceful-shutdown log line.
    std::size_t connections() const;
    /// The most connections served at once (limits.max_connections, or derived from RLIMIT_NOFILE when that
    /// is 0; never above the file limit minus headroom). Beyond it a connection is accepted, answered 503
    /// problem+json `connection-limit` with Retry-After and closed, and http_connections_refused_total counts
    /// it.
    std::size_t connection_cap() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace marquee::http
