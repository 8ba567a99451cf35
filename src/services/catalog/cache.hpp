#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace marquee::core {
class MetricsRegistry;
class Counter;
}  // namespace marquee::core
namespace marquee::redis {
class Client;
}

namespace marquee::catalog {

/// Cache-aside documents in Redis, counted in cache_hits_total / cache_misses_total{cache=...}.
/// A cache must never make a read fail: Redis down or slow reads as a miss and a failed write is skipped
/// (both logged), so reads fall back to PostgreSQL (docs/architecture.md, "Failure behaviour").
class DocumentCache {
  public:
    DocumentCache(redis::Client& redis, core::MetricsRegistry& metrics);

    boost::asio::awaitable<std::optional<std::string>> get(std::string cache, std::string key);
    boost::asio::awaitable<void> put(std::string key, std::string value, std::chrono::milliseconds ttl);
    /// Deletes the keys. A failure is logged: the TTL then bounds how long the old document is served.
    boost::asio::awaitable<void> invalidate(std::vector<std::string> keys);

    /// For caches kept elsewhere (the in-process seat maps).
    void count(std::string_view cache, bool hit);

  private:
    redis::Client& redis_;
    core::MetricsRegistry& metrics_;
};

}  // namespace marquee::catalog
