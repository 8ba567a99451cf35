#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/expiring_set.hpp"

namespace marquee::booking {

/// Seats this process saw HELD or SOLD a moment ago, so a repeat attempt on one is refused (409 `seat-taken`)
/// from memory, without Redis or PostgreSQL (ADR 0015). Only ever a refusal, never a grant: every hold that
/// is not refused here still goes through the Redis lock and the database, which alone grants.
///
/// Staleness: a seat is remembered from a moment it was really taken (the start of the statement that found
/// it taken or held it) for at most `bound`. So a seat released or expired elsewhere is refused from here at
/// most `bound` after it was last seen taken; a release through this process forgets its seats at once.
/// At most `capacity` seats; when full, the expired ones go, and if that is not enough, all of them
/// (forgetting is always safe: it only costs a trip to Redis and the database): a core::ExpiringSet.
/// Thread-safe.
class TakenMemory {
  public:
    using Clock = std::chrono::steady_clock;

    /// bound 0: off (nothing is remembered, nothing refused).
    explicit TakenMemory(std::chrono::milliseconds bound, std::size_t capacity = 65'536);

    bool enabled() const noexcept { return seats_.enabled(); }
    std::chrono::milliseconds bound() const noexcept { return seats_.bound(); }

    /// `seats` of `schedule_id` were HELD or SOLD as seen by a statement that started at `seen_at`: they are
    /// refused until seen_at + bound (a later deadline already known for a seat is kept).
    void remember(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                  Clock::time_point seen_at);
    /// Which of `seats` are known taken at `now`, in their order; empty: ask Redis and the database.
    std::vector<std::int64_t> known_taken(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                                          Clock::time_point now);
    /// Drops `seats` (their hold was released through this process).
    void forget(std::int64_t schedule_id, const std::vector<std::int64_t>& seats);

    std::size_t size() const { return seats_.size(); }

  private:
    struct Seat {
        std::int64_t schedule_id;
        std::int64_t seat_id;
        bool operator==(const Seat&) const = default;
    };
    struct SeatHash {
        std::size_t operator()(const Seat& s) const noexcept;
    };

    /// A seat id of `schedule_id` as a key.
    struct KeyOf {
        std::int64_t schedule_id;
        Seat operator()(std::int64_t seat_id) const noexcept { return Seat{schedule_id, seat_id}; }
    };

    core::ExpiringSet<Seat, SeatHash> seats_;
};

}  // namespace marquee::booking
