#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace marquee::core {

/// A bounded map of keys each remembered for `bound` from the moment it was seen, with a value of the
/// caller's beside each, for the memories that turn a repeat request away without a round trip (booking's
/// TakenMemory, ADR 0015 and 0046, whose value is when to ask again; PassMemory, ADR 0038, through
/// ExpiringSet below).
///
/// A key is fresh from `seen_at` until `seen_at + bound`; remembering it again with a later deadline takes
/// that deadline and the new value, with an earlier or the same one changes nothing (an older answer arriving
/// late shortens nothing). A lookup that finds a stale key drops it; a fresh key's value may be changed in
/// place (for_each_fresh), never its deadline. At most `capacity` keys: when new keys would not fit, the
/// expired ones go, and if that is not enough, all of them (forgetting only ever costs the round trip the
/// memory saves). bound 0 is off: nothing is remembered, nothing is fresh. Thread-safe: every call takes one
/// lock.
template <class Key, class Value, class Hash = std::hash<Key>>
class ExpiringMap {
  public:
    using Clock = std::chrono::steady_clock;

    explicit ExpiringMap(std::chrono::milliseconds bound, std::size_t capacity)
        : bound_(std::max(bound, std::chrono::milliseconds{0})),
          capacity_(std::max<std::size_t>(capacity, 1)) {}

    bool enabled() const noexcept { return bound_.count() > 0; }
    std::chrono::milliseconds bound() const noexcept { return bound_; }

    /// Remembers `key` with `value` as seen at `seen_at`.
    void remember(Key key, Clock::time_point seen_at, const Value& value) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        make_room(entries_.contains(key) ? 0 : 1, seen_at);
        keep(std::move(key), seen_at + bound_, value);
    }

    /// Remembers the key of every item of `items` (`key_of(item)`), each with `value`, as seen at `seen_at`.
    template <class Items, class KeyOf = std::identity>
    void remember_all(const Items& items, Clock::time_point seen_at, const Value& value, KeyOf key_of = {}) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        std::size_t incoming = 0;
        for (const auto& item : items) incoming += entries_.contains(key_of(item)) ? 0 : 1;
        make_room(incoming, seen_at);
        for (const auto& item : items) keep(Key(key_of(item)), seen_at + bound_, value);
    }

    /// Whether `key` was seen less than `bound` before `now` (a stale entry is dropped on the way).
    bool fresh(const Key& key, Clock::time_point now) {
        if (!enabled()) return false;
        std::lock_guard lock(mutex_);
        return find_fresh(key, now) != nullptr;
    }

    /// Calls `on_fresh(item, value)` for each item of `items`, in order, whose key is fresh at `now`, with
    /// that key's value, which it may change; all under one lock.
    template <class Items, class OnFresh, class KeyOf = std::identity>
    void for_each_fresh(const Items& items, Clock::time_point now, OnFresh&& on_fresh, KeyOf key_of = {}) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        if (entries_.empty()) return;
        for (const auto& item : items) {
            if (Value* value = find_fresh(key_of(item), now)) on_fresh(item, *value);
        }
    }

    /// Drops the key of every item of `items`.
    template <class Items, class KeyOf = std::identity>
    void forget_all(const Items& items, KeyOf key_of = {}) {
        if (!enabled()) return;
        std::lock_guard lock(mutex_);
        for (const auto& item : items) entries_.erase(key_of(item));
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return entries_.size();
    }

  private:
    struct Entry {
        Clock::time_point until;  ///< fresh before this instant
        [[no_unique_address]] Value value;
    };

    void make_room(std::size_t incoming, Clock::time_point now) {
        if (entries_.size() + incoming <= capacity_) return;
        std::erase_if(entries_, [now](const auto& entry) { return entry.second.until <= now; });
        if (entries_.size() + incoming > capacity_) entries_.clear();
    }

    void keep(Key key, Clock::time_point until, const Value& value) {
        auto [it, inserted] = entries_.try_emplace(std::move(key), Entry{until, value});
        if (!inserted && it->second.until < until) it->second = Entry{until, value};
    }

    /// The value of `key` if it is fresh at `now`; a stale entry is dropped.
    Value* find_fresh(const Key& key, Clock::time_point now) {
        const auto it = entries_.find(key);
        if (it == entries_.end()) return nullptr;
        if (now < it->second.until) return &it->second.value;
        entries_.erase(it);
        return nullptr;
    }

    const std::chrono::milliseconds bound_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<Key, Entry, Hash> entries_;
};

/// An ExpiringMap without values: a bounded set of keys each remembered for `bound` from the moment it was
/// seen (booking's PassMemory, ADR 0038). The same deadlines, capacity, eviction and lock as ExpiringMap.
template <class Key, class Hash = std::hash<Key>>
class ExpiringSet {
  public:
    using Clock = std::chrono::steady_clock;

    explicit ExpiringSet(std::chrono::milliseconds bound, std::size_t capacity) : keys_(bound, capacity) {}

    bool enabled() const noexcept { return keys_.enabled(); }
    std::chrono::milliseconds bound() const noexcept { return keys_.bound(); }

    /// Remembers `key` as seen at `seen_at`.
    void remember(Key key, Clock::time_point seen_at) { keys_.remember(std::move(key), seen_at, {}); }

    /// Remembers the key of every item of `items` (`key_of(item)`) as seen at `seen_at`.
    template <class Items, class KeyOf = std::identity>
    void remember_all(const Items& items, Clock::time_point seen_at, KeyOf key_of = {}) {
        keys_.remember_all(items, seen_at, {}, key_of);
    }

    /// Whether `key` was seen less than `bound` before `now` (a stale entry is dropped on the way).
    bool fresh(const Key& key, Clock::time_point now) { return keys_.fresh(key, now); }

    /// Calls `on_fresh(item)` for each item of `items`, in order, whose key is fresh at `now`.
    template <class Items, class OnFresh, class KeyOf = std::identity>
    void for_each_fresh(const Items& items, Clock::time_point now, OnFresh&& on_fresh, KeyOf key_of = {}) {
        keys_.for_each_fresh(
            items, now, [&on_fresh](const auto& item, Nothing& /*value*/) { on_fresh(item); }, key_of);
    }

    /// Drops the key of every item of `items`.
    template <class Items, class KeyOf = std::identity>
    void forget_all(const Items& items, KeyOf key_of = {}) {
        keys_.forget_all(items, key_of);
    }

    std::size_t size() const { return keys_.size(); }

  private:
    struct Nothing {};

    ExpiringMap<Key, Nothing, Hash> keys_;
};

}  // namespace marquee::core
