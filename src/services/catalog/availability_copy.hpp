#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "db/single_flight.hpp"

namespace marquee::catalog {

/// One schedule's availability as this process serves it: immutable, shared by every reader of it.
struct AvailabilitySnapshot {
    std::int64_t schedule_id = 0;
    std::int64_t version = 0;
    std::int32_t seat_count = 0;
    std::string taken;  ///< exactly ceil(seat_count / 8) bytes
    std::string etag;   ///< "\"<version>\"": what If-None-Match is compared with
    std::string body;   ///< the JSON document GET .../availability answers (and the SSE event's data)
};

/// The snapshot of a view: the ETag and the JSON body built once, for every reader of this version.
std::shared_ptr<const AvailabilitySnapshot> make_snapshot(std::int64_t schedule_id, std::int64_t version,
                                                          std::int32_t seat_count, std::string taken);

struct AvailabilityCopySettings {
    /// The staleness bound: a snapshot read from Redis less than this long ago is served from memory. 0: no
    /// copy, every read goes to Redis.
    std::chrono::milliseconds max_age{100};
    /// A schedule nobody read for this long is dropped.
    std::chrono::milliseconds idle_ttl{std::chrono::seconds(60)};
    /// At most this many schedules are kept; the least recently read goes first.
    std::size_t max_schedules = 1000;
};

/// The per-process copy of the availability bitsets
/// (docs/decisions/0014-availability-from-process-memory.md): GET .../availability and its 304 answered from
/// memory, like the seat map. Redis stays the shared view that the seat events write; this copy reads it
/// again at most once per `max_age` per schedule, and at once after a write through this process
/// (invalidate(), which AvailabilityBitset's listener calls).
///
/// The bound, exactly: a write to Redis that returned at time t is seen by every read through this copy that
/// starts at or after t + max_age (in the writing process: every read that starts after the write returned).
/// Why it holds: a snapshot is served only while less than max_age has passed since its Redis read *started*,
/// and a reader only shares a read in flight that started within the same max_age window as the reader
/// (the single-flight key carries the window) and after the schedule's last invalidation.
///
/// Thread-safe: readers may run on any thread of the io_context.
class AvailabilityCopy {
  public:
    using Clock = std::chrono::steady_clock;
    using Snapshot = std::shared_ptr<const AvailabilitySnapshot>;
    /// Reads one schedule from Redis; `previous` (may be null) is this copy's last snapshot of it, to be
    /// returned as is when nothing changed (so its body is not built again).
    using Load = std::function<boost::asio::awaitable<Snapshot>(std::int64_t schedule_id, Snapshot previous)>;

    explicit AvailabilityCopy(AvailabilityCopySettings settings, Load load,
                              std::function<Clock::time_point()> now = &Clock::now);

    /// The snapshot if it may be served now (read within max_age, after the last invalidation): no I/O.
    /// nullptr otherwise.
    Snapshot fresh(std::int64_t schedule_id);
    /// fresh(), else a read from Redis (readers of one schedule in one max_age window share one read).
    boost::asio::awaitable<Snapshot> get(std::int64_t schedule_id);
    /// The schedule changed through this process: the next read goes to Redis.
    void invalidate(std::int64_t schedule_id);

    const AvailabilityCopySettings& settings() const noexcept { return settings_; }
    std::size_t size() const;
    /// Reads from Redis so far (tests; every other read was served from memory).
    std::uint64_t loads() const;
    /// Schedules dropped so far for being idle or over the cap.
    std::uint64_t evictions() const;

  private:
    struct Entry {
        Snapshot snapshot;
        Clock::time_point read_at{};  ///< when the Redis read of `snapshot` started
        Clock::time_point used_at{};  ///< the last read of this schedule through the copy
        Clock::time_point
            invalidated{};             ///< the last invalidate(); a read started at or before it is not fresh
        std::uint64_t generation = 0;  ///< bumped by invalidate(): a new single-flight key
    };

    boost::asio::awaitable<Snapshot> load(std::int64_t schedule_id, Snapshot previous,
                                          Clock::time_point read_at);
    void store(std::int64_t schedule_id, const Snapshot& snapshot, Clock::time_point read_at);
    /// Drops idle schedules, then the least recently read while over the cap (keeping room for one more).
    void evict_locked(Clock::time_point now, bool adding);

    AvailabilityCopySettings settings_;
    Load load_;
    std::function<Clock::time_point()> now_;
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, Entry> entries_;
    std::uint64_t loads_ = 0;
    std::uint64_t evictions_ = 0;
    db::SingleFlight<Snapshot> flights_;
};

}  // namespace marquee::catalog
