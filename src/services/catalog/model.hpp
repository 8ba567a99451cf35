#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace marquee::catalog {

/// A schedule's per-fan ticket limit when its creator names none, and the largest one allowed
/// (migrations/catalog/0006).
inline constexpr int kDefaultTicketLimit = 4;
inline constexpr int kMaxTicketLimit = 100;

struct Concert {
    std::int64_t id = 0;
    std::string title;
    std::string artist;
    std::string venue;
    std::string description;
};

struct NewConcert {
    std::string title;
    std::string artist;
    std::string venue;
    std::string description;
};

/// A zone (좌석 등급) of one schedule: its name, price in KRW (integer won) and map colour.
struct Zone {
    std::int64_t id = 0;
    std::string name;
    std::int64_t price = 0;
    std::string color;
    int sort_order = 0;
    int seat_count = 0;
};

/// One tier of a schedule's cancellation rule (ADR 0028): a cancellation before starts_at - days_before days
/// (of 86,400 s) keeps `percent` % of the price as a fee; after the last tier's instant (the deadline) there
/// is no cancellation. Tiers run from the farthest to the nearest.
struct CancellationTier {
    int days_before = 0;
    int percent = 0;
};
/// The default rule (catalog/0007): free until D-10, 10 % until D-3, none after.
inline const std::vector<CancellationTier>& default_cancellation() {
    static const std::vector<CancellationTier> tiers{{10, 0}, {3, 10}};
    return tiers;
}

struct Schedule {
    std::int64_t id = 0;
    std::int64_t concert_id = 0;
    core::TimePoint starts_at;
    core::TimePoint booking_opens_at;
    core::TimePoint booking_closes_at;
    int seat_count = 0;
    /// Seats one fan may hold and buy for this schedule, live holds and confirmed ones together (1인 N매).
    int ticket_limit = kDefaultTicketLimit;
    std::vector<Zone> zones;
    std::vector<CancellationTier> cancellation = default_cancellation();  ///< ADR 0028
};

struct NewSchedule {
    core::TimePoint starts_at;
    core::TimePoint booking_opens_at;
    core::TimePoint booking_closes_at;
    int ticket_limit = kDefaultTicketLimit;                     ///< optional `ticketLimit` of the request
    std::optional<std::vector<CancellationTier>> cancellation;  ///< absent: the default rule (ADR 0028)
};

/// One seat of the static layout; `index` is its bit in the availability bitset (dense, 0..N-1).
struct Seat {
    std::int64_t id = 0;
    std::int32_t index = 0;
    std::string row;
    std::int32_t number = 0;
    std::int32_t x = 0;
    std::int32_t y = 0;
    std::int64_t zone_id = 0;
};

/// The static seat map of a schedule: zones and seats ordered by index. `body` is its JSON document and
/// `etag` the strong ETag of that body; both are built once (make_seat_map) and never change.
struct SeatMap {
    std::int64_t schedule_id = 0;
    std::vector<Zone> zones;
    std::vector<Seat> seats;
    std::string body;
    std::string etag;
};

/// One zone of an admin layout request: `rows` rows of `seats_per_row` seats.
struct ZoneLayout {
    std::string name;
    std::int64_t price = 0;
    std::string color;
    int rows = 0;
    int seats_per_row = 0;
};

/// The seats an admin layout expands to, as parallel columns (what the unnest INSERT takes).
struct SeatColumns {
    std::vector<int> zone_position;  ///< index into the layout's zones
    std::vector<std::int32_t> index;
    std::vector<std::string> row;
    std::vector<std::int32_t> number;
    std::vector<std::int32_t> x;
    std::vector<std::int32_t> y;
    std::size_t size() const noexcept { return index.size(); }
};

enum class SeatState { Available, Held, Sold };

/// The taken/sold bitmaps of one schedule as Redis keeps them (bit i = seat_index i, most significant bit
/// of byte 0 first) and the version that every change bumps.
struct Availability {
    std::int64_t version = 0;
    std::string taken;  ///< HELD or SOLD
    std::string sold;
    /// Booking's live seats were merged in since the keys were created (false: a new schedule, or Redis lost
    /// the keys): see Service's read path and AvailabilityBitset::rebuild.
    bool built = false;
};

}  // namespace marquee::catalog
