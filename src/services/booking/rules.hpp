#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace marquee::booking {

/// Seats one hold may take (docs/requirements.md: 1..4 distinct seats).
inline constexpr std::size_t kMaxSeatsPerHold = 4;
/// How long a hold lives before it can no longer be paid; decided by the database clock.
inline constexpr std::chrono::milliseconds kDefaultHoldTtl = std::chrono::minutes(5);

struct HoldRequest {
    std::int64_t schedule_id = 0;
    std::vector<std::int64_t> seat_ids;  ///< sorted, distinct; empty for best available
    /// Best available (ADR 0025): the server picks `count` seats of zone `zone_id`; 0 for a seat hold.
    std::int64_t zone_id = 0;
    int count = 0;
    bool best_available() const noexcept { return zone_id != 0; }
};

/// Reads {scheduleId, seatIds[1..4]} or {scheduleId, zoneId, count 1..4} from a POST /api/v1/reservations
/// body; 400 naming the field otherwise (missing, not positive integers, duplicates, too few or too many
/// seats, both seatIds and zoneId).
HoldRequest hold_request_from(const boost::json::object& body);

/// SHA-256 (hex) of the hold's canonical form, stored beside its Idempotency-Key (ADR 0032): the same key
/// with another request is 422 `idempotency-key-reused`.
std::string hold_request_hash(const HoldRequest& request);

/// A PostgreSQL bigint[] literal, e.g. "{3,7}", for `$n::bigint[]` parameters.
std::string bigint_array(const std::vector<std::int64_t>& values);

/// The Redis key of the short lock one seat takes while a hold of it is being written.
std::string seat_lock_key(std::int64_t schedule_id, std::int64_t seat_id);

}  // namespace marquee::booking
