#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "db/pool.hpp"
#include "http/router.hpp"
#include "payment_gateway/client.hpp"

namespace marquee::payment {

/// A cancellation's refund (payment.refunds, migrations/payment/0005_cancel.sql): the fee kept, the points
/// given back to the wallet at once, the card part refunded at the gateway (PENDING until it confirms).
struct Refund {
    std::string id;  ///< also the gateway's Idempotency-Key for the card part
    std::string payment_id;
    std::string reservation_id;
    std::string user_id;
    int fee_percent = 0;
    std::int64_t fee = 0;
    std::int64_t points_amount = 0;
    std::int64_t card_amount = 0;
    std::string state;                             ///< PENDING | REFUNDED
    std::optional<std::string> pg_transaction_id;  ///< the payment's charge at the gateway (card part only)
    core::TimePoint created_at;
};

/// The reservation as the cancel answers it: GET /api/v1/reservations/{id}'s shape
/// (booking.reservation_view).
struct CancelledReservation {
    std::string id;
    std::int64_t schedule_id = 0;
    std::string state;
    std::int64_t total_price = 0;
    core::TimePoint expires_at;
    core::TimePoint created_at;
    boost::json::array seats;
};

struct CancelOutcome {
    CancelledReservation reservation;
    Refund refund;
    bool replayed = false;  ///< an earlier cancel of this reservation decided it
};

struct RefundOptions {
    /// A PENDING refund younger than this is left to the request that made it (as for payments).
    std::chrono::seconds recovery_age{60};
    std::chrono::seconds recovery_lease{30};
    std::chrono::milliseconds recovery_period{5000};
    int recovery_batch = 20;
};

/// 예매 취소/환불 (ADR 0028): POST /api/v1/reservations/{id}/cancel decides a cancellation in one statement
/// (payment.cancel), then refunds the card part at the gateway with no transaction open; the recovery job
/// posts PENDING refunds again under the same key until the gateway confirms.
class Refunds {
  public:
    Refunds(db::Pool& db, payment_gateway::Client& gateway, core::MetricsRegistry& metrics,
            RefundOptions options = {});

    /// 200-worthy outcome, or throws: 404 unknown or another user's reservation, 409 `not-cancellable` (not
    /// CONFIRMED), 409 `cancellation-closed` (past the deadline), 422 `idempotency-key-reused`.
    boost::asio::awaitable<CancelOutcome> cancel(std::string user_id, std::string reservation_id,
                                                 std::optional<std::string> idempotency_key);
    /// Refunds a PENDING refund's card part at the gateway and settles it; the refund as it now is.
    boost::asio::awaitable<Refund> refund_card(Refund refund);
    /// One recovery pass over PENDING refunds older than recovery_age; returns how many it settled.
    boost::asio::awaitable<int> recover();
    boost::asio::awaitable<void> run_recovery();
    void stop() { stopped_ = true; }

    void add_routes(http::Router& router);

  private:
    boost::asio::awaitable<CancelledReservation> view(std::string reservation_id);

    db::Pool& db_;
    payment_gateway::Client& gateway_;
    RefundOptions options_;
    core::Family<core::Counter>& cancellations_;
    core::Family<core::Counter>& refunds_;
    std::atomic<bool> stopped_{false};
};

/// The cancel's answer: the reservation (as GET shows it, with `status` equal to its state) and `refund`
/// {points, card, fee, state}.
boost::json::object to_json(const CancelOutcome& outcome);

}  // namespace marquee::payment
