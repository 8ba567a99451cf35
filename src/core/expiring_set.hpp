#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace marquee::core {

/// A bounded set of keys each remembered for `bound` from the moment it was seen, for the memories that turn
/// a repeat request away without a round trip (booking's PassMemory, ADR 0038; TakenMemory, ADR 0015, kept
/// one until ADR 0046 gave each of its seats a second time, when to ask again, and a map of its own).
///
/// A key is fresh from `seen_at` until `seen_at + bound`; remembering it again keeps the later deadline. A
/// lookup that finds a stale key drops it. At most `capacity` keys: when new keys would not fit, the expired
/// ones go, and if that is not enough, all of them (forgetting only ever costs the round trip the memory
/// saves). bound 0 is off: nothing is remembered, nothing is fresh. Thread-safe: every call takes one lock.
template <class Key, class Hash = std::hash<Key>>
class ExpiringSet {
  public:
    using Clock = std::chrono::steady_clock;

    explicit ExpiringSet(std::chrono::milliseconds bound, std::size_t capacity)
        : bound_(std::max(bound, std::chrono::milliseconds{0})),
          capacity_(std::max<std::size_t>(capacity, 1)) {}

    bool enabled() const noexcept { return bound_.count() > 0; }
    std::chrono::milliseconds bound() const noexcept { return bound_; }

    /// Remembers `key` as seen at `seen_at`.
    void remember(Key key, Clock::time_point seen_at) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        make_room(until_.contains(key) ? 0 : 1, seen_at);
        keep(std::move(key), seen_at + bound_);
    }

    /// Remembers the key of every item of `items` (`key_of(item)`) as seen at `seen_at`.
    template <class Items, class KeyOf = std::identity>
    void remember_all(const Items& items, Clock::time_point seen_at, KeyOf key_of = {}) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        std::size_t incoming = 0;
        for (const auto& item : items) incoming += until_.contains(key_of(item)) ? 0 : 1;
        make_room(incoming, seen_at);
        for (const auto& item : items) keep(Key(key_of(item)), seen_at + bound_);
    }

    /// Whether `key` was seen less than `bound` before `now` (a stale entry is dropped on the way).
    bool fresh(const Key& key, Clock::time_point now) {
        if (!enabled()) return false;
        std::lock_guard lock(mutex_);
        return fresh_locked(key, now);
    }

    /// Calls `on_fresh(item)` for each item of `items`, in order, whose key is fresh at `now`.
    template <class Items, class OnFresh, class KeyOf = std::identity>
    void for_each_fresh(const Items& items, Clock::time_point now, OnFresh&& on_fresh, KeyOf key_of = {}) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        if (until_.empty()) return;
        for (const auto& item : items) {
            if (fresh_locked(key_of(item), now)) on_fresh(item);
        }
    }

    /// Drops the key of every item of `items`.
    template <class Items, class KeyOf = std::identity>
    void forget_all(const Items& items, KeyOf key_of = {}) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        for (const auto& item : items) until_.erase(key_of(item));
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return until_.size();
    }

  private:
    void make_room(std::size_t incoming, Clock::time_point now) {
        if (until_.size() + incoming <= capacity_) return;
        std::erase_if(until_, [now](const auto& entry) { return entry.second <= now; });
        if (until_.size() + incoming > capacity_) until_.clear();
    }

    void keep(Key key, Clock::time_point until) {
        auto [it, inserted] = until_.try_emplace(std::move(key), until);
        if (!inserted) it->second = std::max(it->second, until);
    }

    bool fresh_locked(const Key& key, Clock::time_point now) {
        const auto it = until_.find(key);
        if (it == until_.end()) return false;
        if (now < it->second) return true;
        until_.erase(it);
        return false;
    }

    const std::chrono::milliseconds bound_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<Key, Clock::time_point, Hash> until_;
};

}  // namespace marquee::core
