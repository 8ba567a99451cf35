#pragma once

#include <chrono>
#include <cstdint>
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
/// retried, and a money-moving caller must find out what happened before it decides.
class ClientError : public std::runtime_error {
  public:
    enum class Kind { Connect, Timeout, Broken };
    ClientError(Kind kind, bool maybe_delivered, const std::string& what)
        : std::runtime_error(what), kind_(kind), maybe_delivered_(maybe_delivered) {}
    Kind kind() const noexcept { return kind_; }
    bool maybe_delivered() const noexcept { return maybe_delivered_; }

  private:
    Kind kind_;
    bool maybe_delivered_;
};

/// An HTTP/1.1 client for calls to other services (the payment gateway). One connection per call
/// (`Connection: close`): on loopback and at payment rates a fresh TCP connection costs less than the
/// ambiguity a stale pooled one adds to "was my request delivered?".
class Client {
  public:
    struct Options {
        std::string base_url;                     ///< http://host:port (no TLS)
        std::chrono::milliseconds timeout{2000};  ///< deadline of one call: connect, write and read
        std::size_t max_response_bytes = 1 << 20;
    };

    /// Throws std::invalid_argument for a base URL that is not http://host:port.
    Client(boost::asio::any_io_executor executor, Options options);

    /// Sends one request; returns whatever status the peer answered. Throws ClientError on transport failure.
    boost::asio::awaitable<ClientResponse> request(std::string method, std::string target,
                                                   std::string body = {}, Fields headers = {});

    const Options& options() const noexcept { return options_; }

  private:
    boost::asio::any_io_executor executor_;
    Options options_;
    std::string host_;
    std::string port_;
};

}  // namespace marquee::http
