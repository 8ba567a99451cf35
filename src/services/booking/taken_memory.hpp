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
///
/// Refreshed before it lapses (ADR 0046): once a seat was last seen more than half the bound ago, the next
/// lookup that may claim it is told to ask again (`Known::refresh`): that one attempt goes on to Redis and
/// the database, whose answer remembers the seat anew (or grants it, if it was freed), while every other
/// attempt is still refused from the memory that has not lapsed. A claim not answered within a quarter of the
/// bound (the attempt failed before the database, or is slow) may be claimed again. So a seat that stays
/// taken is asked about about twice per bound per process and never lapses while its refresh answers within
/// half the bound; the bound itself is unchanged.
///
/// At most `capacity` seats; when full, the expired ones go, and if that is not enough, all of them
/// (forgetting is always safe: it only costs a trip to Redis and the database): a core::ExpiringMap whose
/// value is the instant a seat is due to be asked again. Thread-safe: every call takes one lock.
class TakenMemory {
  public:
    using Clock = std::chrono::steady_clock;

    /// What a lookup found.
    struct Known {
        /// The requested seats known taken, in request order; empty: ask Redis and the database.
        std::vector<std::int64_t> seats;
        /// A seat among them is due to be asked again. With `claim`: this caller was chosen to ask (the
        /// refresh is claimed for a quarter of the bound); it must not refuse from memory but go on to Redis
        /// and the database. Without: someone on a path that claims should ask (nothing was claimed).
        bool refresh = false;
    };
    enum class Claim { No, Yes };

    /// bound 0: off (nothing is remembered, nothing refused).
    explicit TakenMemory(std::chrono::milliseconds bound, std::size_t capacity = 65'536);

    bool enabled() const noexcept { return seats_.enabled(); }
    std::chrono::milliseconds bound() const noexcept { return seats_.bound(); }

    /// `seats` of `schedule_id` were HELD or SOLD as seen by a statement that started at `seen_at`: they are
    /// refused until seen_at + bound (a later deadline already known for a seat is kept), and due to be asked
    /// again from seen_at + bound / 2.
    void remember(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                  Clock::time_point seen_at);
    /// Which of `seats` are known taken at `now`, and whether one of them is due to be asked again (above).
    Known lookup(std::int64_t schedule_id, const std::vector<std::int64_t>& seats, Clock::time_point now,
                 Claim claim);
    /// lookup() without claiming, only the seats.
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
    /// The key of a seat id of one schedule.
    struct SeatOf {
        std::int64_t schedule_id;
        Seat operator()(std::int64_t seat_id) const noexcept { return Seat{schedule_id, seat_id}; }
    };

    /// Each seat's value: the instant it is due to be asked again (unless claimed meanwhile); it is refused
    /// until its deadline in the map.
    core::ExpiringMap<Seat, Clock::time_point, SeatHash> seats_;
};

}  // namespace marquee::booking
