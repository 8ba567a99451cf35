#include "services/payment/refunds.hpp"

#include <boost/json/parse.hpp>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "db/sql_error.hpp"
#include "http/context.hpp"
#include "http/idempotency.hpp"
#include "http/response.hpp"
#include "payment_gateway/recovery_loop.hpp"

namespace marquee::payment {

namespace asio = boost::asio;
namespace json = boost::json;
using payment_gateway::RefundStatus;

namespace {

/// A refund's columns, from `prefix` (a table alias "t." or a composite "(o.refund)."), with the payment's
/// gateway charge.
std::string refund_columns(const std::string& prefix) {
    return prefix + "id::text AS refund_id, " + prefix + "payment_id::text AS payment_id, " + prefix +
           "reservation_id::text AS reservation_id, " + prefix + "user_id::text AS user_id, " + prefix +
           "fee_percent::int AS fee_percent, " + prefix + "fee AS fee, " + prefix +
           "points_amount AS points_amount, " + prefix + "card_amount AS card_amount, " + prefix +
           "state AS refund_state, " + prefix + "created_at AS refund_created_at, " +
           "(SELECT p.pg_transaction_id FROM payment.payments p WHERE p.id = " + prefix +
           "payment_id) AS pg_transaction_id";
}

Refund refund_from(const db::Result& r, int row) {
    Refund out;
    out.id = r.get<std::string>(row, "refund_id");
    out.payment_id = r.get<std::string>(row, "payment_id");
    out.reservation_id = r.get<std::string>(row, "reservation_id");
    out.user_id = r.get<std::string>(row, "user_id");
    out.fee_percent = r.get<std::int32_t>(row, "fee_percent");
    out.fee = r.get<std::int64_t>(row, "fee");
    out.points_amount = r.get<std::int64_t>(row, "points_amount");
    out.card_amount = r.get<std::int64_t>(row, "card_amount");
    out.state = r.get<std::string>(row, "refund_state");
    out.pg_transaction_id = r.get<std::optional<std::string>>(row, "pg_transaction_id");
    out.created_at = r.get<core::TimePoint>(row, "refund_created_at");
    return out;
}

}  // namespace

Refunds::Refunds(db::Pool& db, payment_gateway::Client& gateway, core::MetricsRegistry& metrics,
                 RefundOptions options)
    : db_(db),
      gateway_(gateway),
      options_(options),
      cancellations_(metrics.counter("reservation_cancellations_total",
                                     "Cancel requests by outcome (cancelled, replayed, not-cancellable, "
                                     "cancellation-closed, not-found, idempotency-key-reused)")),
      refunds_(metrics.counter("refunds_total",
                               "Card refunds at the payment gateway by outcome (refunded, pending, refused) "
                               "and by who tried (request, recovery)")) {}

asio::awaitable<CancelOutcome> Refunds::cancel(std::string user_id, std::string reservation_id,
                                               std::optional<std::string> idempotency_key) {
    auto id = core::normalize_uuid(reservation_id);
    if (!id) {
        cancellations_.with({{"outcome", "not-found"}}).inc();
        throw core::Problem::not_found("no such reservation");
    }
    // One statement decides (migrations/payment/0005_cancel.sql); its outbox rows carry the request's trace.
    const std::string sql = "SELECT o.outcome, o.state, o.deadline, " + refund_columns("(o.refund).") +
                            " FROM payment.cancel($1::uuid, $2::uuid, $3::text, $4::text) AS o";
    const std::string traceparent = core::current_traceparent().value_or("");
    db::Result r;
    try {
        r = co_await db_.query(sql, db::params(user_id, *id, idempotency_key, traceparent));
    } catch (const db::SqlError& e) {
        if (!e.is_unique_violation("refunds_user_idempotency_key")) throw;
        r = {};
    }
    const std::string outcome = r.rows() == 1 ? r.get<std::string>(0, "outcome") : "KEY_REUSED";
    if (outcome == "KEY_REUSED") {
        cancellations_.with({{"outcome", "idempotency-key-reused"}}).inc();
        throw core::Problem::unprocessable("idempotency-key-reused",
                                           "this Idempotency-Key was used to cancel another reservation");
    }
    if (outcome == "NOT_FOUND") {
        cancellations_.with({{"outcome", "not-found"}}).inc();
        throw core::Problem::not_found("no such reservation");
    }
    if (outcome == "NOT_CANCELLABLE") {
        cancellations_.with({{"outcome", "not-cancellable"}}).inc();
        throw core::Problem::conflict("not-cancellable",
                                      "only a paid (CONFIRMED) reservation can be cancelled; this one is " +
                                          r.get<std::optional<std::string>>(0, "state").value_or("not"))
            .with("state", json::string(r.get<std::optional<std::string>>(0, "state").value_or("")));
    }
    if (outcome == "CLOSED") {
        cancellations_.with({{"outcome", "cancellation-closed"}}).inc();
        auto problem =
            core::Problem::conflict("cancellation-closed", "the schedule's cancellation deadline has passed");
        if (const auto deadline = r.get<std::optional<core::TimePoint>>(0, "deadline")) {
            problem.with("deadline", json::string(core::to_rfc3339(*deadline)));
        }
        throw problem;
    }
    if (outcome != "CANCELLED" && outcome != "REPLAY") {
        throw std::runtime_error("payment.cancel answered " + outcome);
    }
    CancelOutcome out;
    out.refund = refund_from(r, 0);
    out.replayed = outcome == "REPLAY";
    cancellations_.with({{"outcome", out.replayed ? "replayed" : "cancelled"}}).inc();
    if (!out.replayed && out.refund.state == "PENDING") {
        core::log_info("reservation cancelled; refunding the card part",
                       {{"reservation_id", out.refund.reservation_id},
                        {"refund_id", out.refund.id},
                        {"card_amount", out.refund.card_amount}});
        out.refund = co_await refund_card(std::move(out.refund));
        refunds_
            .with({{"outcome", out.refund.state == "REFUNDED" ? "refunded" : "pending"}, {"by", "request"}})
            .inc();
    }
    out.reservation = co_await view(out.refund.reservation_id);
    co_return out;
}

asio::awaitable<Refund> Refunds::refund_card(Refund refund) {
    if (refund.state != "PENDING" || !refund.pg_transaction_id) co_return refund;
    payment_gateway::RefundAnswer answer;
    try {
        answer = co_await gateway_.refund(refund.id, *refund.pg_transaction_id, refund.card_amount);
    } catch (const std::exception& e) {
        answer.status = RefundStatus::Unknown;
        answer.detail = e.what();
    }
    if (answer.status != RefundStatus::Refunded) {
        core::log_warn("card refund not confirmed yet; left PENDING for recovery",
                       {{"refund_id", refund.id}, {"detail", answer.detail}});
        if (answer.status == RefundStatus::Refused) {
            refunds_.with({{"outcome", "refused"}, {"by", "any"}}).inc();
        }
        co_return refund;
    }
    const auto r = co_await db_.query(
        "SELECT " + refund_columns("t.") + " FROM payment.settle_refund($1::uuid, $2::text) AS t",
        db::params(refund.id, answer.refund_key));
    co_return refund_from(r, 0);
}

asio::awaitable<CancelledReservation> Refunds::view(std::string reservation_id) {
    const auto r = co_await db_.query(
        "SELECT id::text AS id, schedule_id, state, total_price, expires_at, created_at, seats::text AS "
        "seats "
        "FROM booking.reservation_view($1::uuid)",
        db::params(reservation_id));
    if (r.empty()) throw std::runtime_error("cancelled reservation " + reservation_id + " not found");
    CancelledReservation out;
    out.id = r.get<std::string>(0, "id");
    out.schedule_id = r.get<std::int64_t>(0, "schedule_id");
    out.state = r.get<std::string>(0, "state");
    out.total_price = r.get<std::int64_t>(0, "total_price");
    out.expires_at = r.get<core::TimePoint>(0, "expires_at");
    out.created_at = r.get<core::TimePoint>(0, "created_at");
    const auto seats = json::parse(r.get<std::string>(0, "seats"));
    if (seats.is_array()) out.seats = seats.as_array();
    co_return out;
}

asio::awaitable<int> Refunds::recover() {
    int settled = 0;
    const auto batch = static_cast<std::size_t>(options_.recovery_batch);
    for (;;) {
        // Claimed with a lease committed before the gateway is asked (FOR UPDATE SKIP LOCKED: safe with
        // several replicas), as payments are.
        const auto r = co_await db_.query(
            "UPDATE payment.refunds t SET lease_until = now() + make_interval(secs => $2) WHERE t.id IN ("
            " SELECT id FROM payment.refunds WHERE state = 'PENDING' AND created_at < now() - "
            " make_interval(secs => $1) AND (lease_until IS NULL OR lease_until < now()) ORDER BY created_at "
            " LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING " +
                refund_columns("t."),
            db::params(static_cast<std::int64_t>(options_.recovery_age.count()),
                       static_cast<std::int64_t>(options_.recovery_lease.count()), options_.recovery_batch));
        int batch_settled = 0;
        for (int i = 0; i < r.rows(); ++i) {
            const auto refund = co_await refund_card(refund_from(r, i));
            if (refund.state != "REFUNDED") continue;
            refunds_.with({{"outcome", "refunded"}, {"by", "recovery"}}).inc();
            ++batch_settled;
        }
        settled += batch_settled;
        if (static_cast<std::size_t>(r.rows()) < batch || batch_settled == 0) break;
    }
    if (settled > 0) core::log_info("refund recovery", {{"refunded", settled}});
    co_return settled;
}

asio::awaitable<void> Refunds::run_recovery() {
    co_await payment_gateway::run_recovery_passes(
        "refund-recovery", options_.recovery_period, [this] { return stopped_.load(); },
        [this]() -> asio::awaitable<void> { co_await recover(); });
}

// POST /api/v1/reservations/{reservationId}/cancel, Idempotency-Key optional: 200 the reservation CANCELLED
// with its refund, the same answer on every repeat.
void Refunds::add_routes(http::Router& router) {
    router.post("/api/v1/reservations/{reservationId}/cancel",
                [this](http::Context& ctx) -> asio::awaitable<http::Response> {
                    const std::string user = ctx.user().user_id;
                    std::optional<std::string> key;
                    if (const auto header = ctx.header("Idempotency-Key")) {
                        key = http::idempotency_key(header);
                    }
                    const std::string id(ctx.param("reservationId"));
                    const auto outcome = co_await cancel(user, id, std::move(key));
                    co_return http::json(to_json(outcome));
                });
}

json::object to_json(const CancelOutcome& outcome) {
    const auto& r = outcome.reservation;
    return json::object{{"id", r.id},
                        {"scheduleId", r.schedule_id},
                        {"state", r.state},
                        {"status", r.state},
                        {"expiresAt", core::to_rfc3339(r.expires_at)},
                        {"createdAt", core::to_rfc3339(r.created_at)},
                        {"seats", r.seats},
                        {"totalPrice", r.total_price},
                        {"currency", "KRW"},
                        {"refund", json::object{{"points", outcome.refund.points_amount},
                                                {"card", outcome.refund.card_amount},
                                                {"fee", outcome.refund.fee},
                                                {"feePercent", outcome.refund.fee_percent},
                                                {"state", outcome.refund.state}}},
                        {"replayed", outcome.replayed}};
}

}  // namespace marquee::payment
