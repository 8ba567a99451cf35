#include "services/catalog/cache.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "redis/client.hpp"

namespace marquee::catalog {

namespace asio = boost::asio;

DocumentCache::DocumentCache(redis::Client& redis, core::MetricsRegistry& metrics)
    : redis_(redis), metrics_(metrics) {}

void DocumentCache::count(std::string_view cache, bool hit) {
    const core::Labels labels{{"cache", std::string(cache)}};
    if (hit) {
        metrics_.counter("cache_hits_total", "Cache lookups answered from the cache, by cache")
            .with(labels)
            .inc();
    } else {
        metrics_.counter("cache_misses_total", "Cache lookups that went to the source, by cache")
            .with(labels)
            .inc();
    }
}

asio::awaitable<std::optional<std::string>> DocumentCache::get(std::string cache, std::string key) {
    std::optional<std::string> value;
    try {
        value = co_await redis_.get(key);
    } catch (const core::Problem& problem) {
        core::log_warn("cache read failed, reading the database",
                       {{"key", key}, {"detail", problem.detail()}});
    }
    count(cache, value.has_value());
    co_return value;
}

asio::awaitable<void> DocumentCache::put(std::string key, std::string value, std::chrono::milliseconds ttl) {
    try {
        co_await redis_.set(key, std::move(value), ttl);
    } catch (const core::Problem& problem) {
        core::log_warn("cache write failed", {{"key", key}, {"detail", problem.detail()}});
    }
}

asio::awaitable<void> DocumentCache::invalidate(std::vector<std::string> keys) {
    try {
        co_await redis_.del(keys);
    } catch (const core::Problem& problem) {
        core::log_warn("cache invalidation failed; the TTL bounds staleness", {{"detail", problem.detail()}});
    }
}

}  // namespace marquee::catalog
