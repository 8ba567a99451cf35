#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "load/connection.hpp"

namespace marquee::load {

/// Parses "127.0.0.1,127.0.0.2" into loopback addresses; throws std::invalid_argument for anything else.
std::vector<boost::asio::ip::address> parse_source_addresses(const std::string& list);

/// A bounded pool of keep-alive connections that many virtual users share, as fans do behind a load
/// balancer or CDN (ADR 0018): a user takes a free connection for one request and gives it back; when none
/// is free it waits its turn (first come, first served). Connections open lazily, round-robin over the
/// source addresses, so 100,000 users need `size` sockets, not 100,000. One thread (the run's io_context).
class SharedPool {
  public:
    SharedPool(boost::asio::any_io_executor executor, const Target& target, std::size_t size,
               std::vector<boost::asio::ip::address> sources, std::chrono::milliseconds timeout);
    SharedPool(const SharedPool&) = delete;
    SharedPool& operator=(const SharedPool&) = delete;

    /// One request on a free connection (waiting for one first); TransportError as Connection::request.
    boost::asio::awaitable<Response> request(std::string method, std::string target, std::string body,
                                             Headers headers);

    std::size_t size() const noexcept { return connections_.size(); }
    std::uint64_t connects() const;
    std::uint64_t waits() const noexcept { return waits_; }  ///< requests that found no free connection
    std::size_t most_waiting() const noexcept { return most_waiting_; }  ///< longest line seen

  private:
    struct Waiter;
    boost::asio::awaitable<std::size_t> acquire();
    void release(std::size_t index);

    boost::asio::any_io_executor executor_;
    std::vector<std::unique_ptr<Connection>> connections_;
    std::vector<std::size_t> free_;
    std::deque<Waiter*> waiting_;
    std::uint64_t waits_ = 0;
    std::size_t most_waiting_ = 0;
};

}  // namespace marquee::load
