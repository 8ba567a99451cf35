#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"

namespace marquee::booking {

/// The QueueToken check (app wires it from queue's Gate): (user id, schedule id, X-Queue-Token value) →
/// the ACTIVE token's id, or throws the queue's 403/410 problem.
using QueueCheck = std::function<boost::asio::awaitable<std::string>(std::string, std::int64_t, std::string)>;

/// What an operator set for a schedule's holds (ADR 0027): sales closed early (holds answer 403
/// `sales-closed`) and seconds added to a hold's TTL while payments are degraded.
struct SaleControl {
    bool sales_closed = false;
    std::chrono::seconds hold_extension{0};
};
/// The schedule's SaleControl from this process's copy of the operators' controls (app wires it from queue's
/// Controls; no I/O). Empty: no controls.
using SaleControls = std::function<SaleControl(std::int64_t)>;

struct ReservedSeat {
    std::int64_t seat_id = 0;
    std::int64_t zone_id = 0;
    std::int64_t price = 0;  ///< KRW at hold time
    std::string state;       ///< HELD SOLD RELEASED
};

struct Reservation {
    std::string id;
    std::string user_id;
    std::int64_t schedule_id = 0;
    std::string queue_token_id;
    std::string state;  ///< HELD CONFIRMED EXPIRED CANCELLED, expired on read
    std::int64_t total_price = 0;
    core::TimePoint expires_at;
    core::TimePoint created_at;
    std::vector<ReservedSeat> seats;  ///< ordered by seat id
    /// An earlier hold with the same Idempotency-Key and request made this reservation (ADR 0032); answered
    /// as it is now.
    bool replayed = false;
};

struct NewHold {
    std::string user_id;
    std::int64_t schedule_id = 0;
    std::string queue_token_id;
    std::vector<std::int64_t> seat_ids;  ///< 1..4 distinct, checked by rules; empty for best available
    std::chrono::milliseconds ttl{0};
    /// Best available (ADR 0025): `count` (1..4) seats of this zone chosen by the database; 0 for a seat
    /// hold.
    std::int64_t zone_id = 0;
    int count = 0;
    /// The request's Idempotency-Key (ADR 0032), if it sent one, and hold_request_hash() of it (hex).
    std::optional<std::string> idempotency_key;
    std::string request_hash;
};

/// What a hold attempt came to: the reservation, or the seats that someone else holds or bought.
struct HoldOutcome {
    std::optional<Reservation> reservation;
    std::vector<std::int64_t> taken;
};

enum class ReleaseOutcome { Released, AlreadyCancelled, Expired, Confirmed, NotFound };

}  // namespace marquee::booking
