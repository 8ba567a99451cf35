#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"

namespace marquee::payment {

/// The QueueToken check (app wires it from queue's Gate, as for booking): (user id, schedule id,
/// X-Queue-Token value) → the ACTIVE token's id, or throws the queue's 403/410 problem.
using QueueCheck = std::function<boost::asio::awaitable<std::string>(std::string, std::int64_t, std::string)>;
/// Ends a QueueToken after its purchase (ACTIVE → USED, the slot freed at once): (schedule id, token id).
using QueueRelease = std::function<boost::asio::awaitable<bool>(std::int64_t, std::string)>;

/// The schedule a queue-token check in this process already found for (user id, X-Queue-Token value), if any:
/// a token belongs to one schedule for good, so payment may check it there before reading the reservation
/// (ADR 0013). Empty: payment reads the reservation's schedule first.
using ScheduleHint = std::function<std::optional<std::int64_t>(const std::string&, const std::string&)>;

enum class Method { Points, Card, PointsAndCard };

/// What POST /api/v1/payments asks for.
struct PayRequest {
    std::string reservation_id;  ///< canonical UUID
    Method method = Method::Points;
    std::optional<std::int64_t> points_amount;  ///< POINTS+CARD only: the points part; the card pays the rest
};

/// A payment (결제): PENDING until its one final transaction, then APPROVED or FAILED.
struct Payment {
    std::string id;  ///< also the gateway's idempotency key
    std::string user_id;
    std::string reservation_id;
    std::string queue_token_id;
    std::string request_hash;  ///< hex
    std::string method;        ///< POINTS | CARD | POINTS+CARD
    std::int64_t amount = 0;
    std::int64_t points_amount = 0;
    std::int64_t card_amount = 0;
    std::string state;      ///< PENDING | APPROVED | FAILED | REFUNDED
    std::string pg_status;  ///< NONE | REQUESTED | APPROVED | DECLINED | CANCELLED
    std::optional<std::string> pg_transaction_id;
    std::optional<std::string> failure_code;  ///< the problem slug the client got, e.g. hold-expired
    core::TimePoint created_at;
    std::optional<core::TimePoint> decided_at;
    /// How old the row was when read, by the database's clock (the in-flight judgement, ADR 0040).
    std::chrono::milliseconds age{0};
};

/// The reservation as payment sees it (booking.reservation_for_payment), expired on read.
struct Payable {
    std::string state;  ///< HELD CONFIRMED EXPIRED CANCELLED
    std::int64_t schedule_id = 0;
    std::int64_t total_price = 0;
    std::string queue_token_id;
};

/// What a payment request came to, for the route to answer.
struct PayOutcome {
    Payment payment;
    std::int64_t balance = 0;  ///< points left
    bool replayed = false;     ///< an earlier request with the same Idempotency-Key decided this
};

}  // namespace marquee::payment
