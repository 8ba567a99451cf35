#include "jwt/verified_cache.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>

namespace marquee::jwt {

VerifiedCache::VerifiedCache(std::size_t capacity) : capacity_(capacity) {
    index_.reserve(std::min<std::size_t>(capacity_, 4096));
}

VerifiedCache::Key VerifiedCache::key_of(std::string_view token) {
    Key key{};
    unsigned int length = 0;
    if (EVP_Digest(token.data(), token.size(), key.data(), &length, EVP_sha256(), nullptr) != 1 ||
        length != key.size()) {
        throw std::runtime_error("SHA-256 of a token failed");
    }
    return key;
}

std::size_t VerifiedCache::KeyHash::operator()(const Key& key) const noexcept {
    // The key is already a uniform digest: its first bytes are as good a hash as any.
    std::size_t out = 0;
    std::memcpy(&out, key.data(), sizeof out);
    return out;
}

std::optional<Claims> VerifiedCache::find(const Key& key, core::TimePoint now) {
    if (capacity_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    const auto it = index_.find(key);
    if (it == index_.end()) {
        ++misses_;
        return std::nullopt;
    }
    if (numeric_date(now) >= it->second->claims.expires_at) {
        order_.erase(it->second);
        index_.erase(it);
        ++misses_;
        return std::nullopt;
    }
    order_.splice(order_.begin(), order_, it->second);
    ++hits_;
    return it->second->claims;
}

void VerifiedCache::remember(const Key& key, const Claims& claims, core::TimePoint now) {
    if (capacity_ == 0 || numeric_date(now) >= claims.expires_at) return;
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) {
        it->second->claims = claims;
        order_.splice(order_.begin(), order_, it->second);
        return;
    }
    if (index_.size() >= capacity_) {
        index_.erase(order_.back().key);
        order_.pop_back();
    }
    order_.push_front(Entry{key, claims});
    index_.emplace(key, order_.begin());
}

std::size_t VerifiedCache::size() const {
    std::lock_guard lock(mutex_);
    return index_.size();
}

std::uint64_t VerifiedCache::hits() const {
    std::lock_guard lock(mutex_);
    return hits_;
}

std::uint64_t VerifiedCache::misses() const {
    std::lock_guard lock(mutex_);
    return misses_;
}

namespace {

/// The one rule of what the cache may hold: nothing when it is off, no token verify() refuses for its size.
bool cacheable(const VerifiedCache& cache, std::string_view token) {
    return cache.capacity() > 0 && token.size() <= kMaxTokenBytes;
}

}  // namespace

Claims verify_cached(const Verifier& verifier, VerifiedCache& cache, std::string_view token,
                     core::TimePoint now) {
    if (!cacheable(cache, token)) return verifier.verify(token, now);
    const auto key = VerifiedCache::key_of(token);
    if (auto claims = cache.find(key, now)) return std::move(*claims);
    Claims claims = verifier.verify(token, now);
    cache.remember(key, claims, now);
    return claims;
}

void remember_verified(VerifiedCache& cache, std::string_view token, const Claims& claims,
                       core::TimePoint now) {
    if (!cacheable(cache, token)) return;
    cache.remember(VerifiedCache::key_of(token), claims, now);
}

}  // namespace marquee::jwt
