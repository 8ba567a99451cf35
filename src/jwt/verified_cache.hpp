#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "jwt/token.hpp"

namespace marquee::jwt {

/// Tokens this process has already verified, so a bearer presented again is not verified again
/// (ADR 0015). Keyed by the SHA-256 of the whole compact token: a token that differs in any byte (another
/// signature, a tampered payload) has another key and goes through Verifier::verify. An entry is served
/// only while `now` is before the token's `exp` (never past it, and without the verifier's leeway: a token
/// near its end is verified again, with the leeway). At most `capacity` entries; the least recently used
/// goes first. Thread-safe.
class VerifiedCache {
  public:
    using Key = std::array<unsigned char, 32>;

    /// capacity 0: the cache is off (find() never hits, remember() keeps nothing).
    explicit VerifiedCache(std::size_t capacity);

    /// SHA-256 of `token`.
    static Key key_of(std::string_view token);

    /// The claims remembered for this key, when `now` is before their `exp`; an entry past it is dropped.
    std::optional<Claims> find(const Key& key, core::TimePoint now);
    /// Remembers the claims Verifier::verify returned for the token of `key` (unless already past `exp`).
    void remember(const Key& key, const Claims& claims, core::TimePoint now);

    std::size_t size() const;
    std::size_t capacity() const noexcept { return capacity_; }
    std::uint64_t hits() const;
    std::uint64_t misses() const;

  private:
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept;
    };
    struct Entry {
        Key key;
        Claims claims;
    };
    using Order = std::list<Entry>;  ///< most recently used first

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    Order order_;
    std::unordered_map<Key, Order::iterator, KeyHash> index_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

/// verifier.verify(token, now), unless `cache` holds the token's claims and `now` is before its `exp`;
/// what verify() accepts is remembered. A refused token is never remembered, so it is refused every time.
Claims verify_cached(const Verifier& verifier, VerifiedCache& cache, std::string_view token,
                     core::TimePoint now);

/// Remembers `claims` for `token` as verify_cached would after verifying it (a token this process has just
/// issued, so its first presentation is not verified again), under the same rule: nothing when the cache is
/// off or the token is over kMaxTokenBytes (which verify() refuses, so it is never served from the cache).
void remember_verified(VerifiedCache& cache, std::string_view token, const Claims& claims,
                       core::TimePoint now);

}  // namespace marquee::jwt
