#include "services/payment/store.hpp"

#include "core/log_context.hpp"
#include "db/sql_error.hpp"

namespace marquee::payment {

namespace asio = boost::asio;

namespace {

constexpr const char* kColumns =
    "id::text AS id, user_id::text AS user_id, reservation_id::text AS reservation_id, "
    "queue_token_id::text AS queue_token_id, encode(request_hash, 'hex') AS request_hash, method, amount, "
    "points_amount, card_amount, state, pg_status, pg_transaction_id, failure_code, created_at, decided_at, "
    "(extract(epoch FROM now() - created_at) * 1000)::bigint AS age_ms";

Payment payment_from(const db::Result& r, int row) {
    Payment p;
    p.id = r.get<std::string>(row, "id");
    p.user_id = r.get<std::string>(row, "user_id");
    p.reservation_id = r.get<std::string>(row, "reservation_id");
    p.queue_token_id = r.get<std::string>(row, "queue_token_id");
    p.request_hash = r.get<std::string>(row, "request_hash");
    p.method = r.get<std::string>(row, "method");
    p.amount = r.get<std::int64_t>(row, "amount");
    p.points_amount = r.get<std::int64_t>(row, "points_amount");
    p.card_amount = r.get<std::int64_t>(row, "card_amount");
    p.state = r.get<std::string>(row, "state");
    p.pg_status = r.get<std::string>(row, "pg_status");
    p.pg_transaction_id = r.get<std::optional<std::string>>(row, "pg_transaction_id");
    p.failure_code = r.get<std::optional<std::string>>(row, "failure_code");
    p.created_at = r.get<core::TimePoint>(row, "created_at");
    p.decided_at = r.get<std::optional<core::TimePoint>>(row, "decided_at");
    p.age = std::chrono::milliseconds(r.get<std::int64_t>(row, "age_ms"));
    return p;
}

std::vector<Payment> payments_from(const db::Result& r) {
    std::vector<Payment> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(payment_from(r, i));
    return out;
}

/// kColumns read from the composite column `payment` of a payment.pay / payment.settle row.
const std::string& composite_columns() {
    static const std::string columns =
        "(o.payment).id::text AS id, (o.payment).user_id::text AS user_id, "
        "(o.payment).reservation_id::text AS reservation_id, (o.payment).queue_token_id::text AS "
        "queue_token_id, "
        "encode((o.payment).request_hash, 'hex') AS request_hash, (o.payment).method AS method, "
        "(o.payment).amount AS amount, (o.payment).points_amount AS points_amount, "
        "(o.payment).card_amount AS card_amount, (o.payment).state AS state, "
        "(o.payment).pg_status AS pg_status, (o.payment).pg_transaction_id AS pg_transaction_id, "
        "(o.payment).failure_code AS failure_code, (o.payment).created_at AS created_at, "
        "(o.payment).decided_at AS decided_at, "
        "(extract(epoch FROM now() - (o.payment).created_at) * 1000)::bigint AS age_ms";
    return columns;
}

std::string select(const std::string& where) {
    return std::string("SELECT ") + kColumns + " FROM payment.payments WHERE " + where;
}

}  // namespace

asio::awaitable<std::optional<Payable>> Store::payable(std::string reservation_id, std::string user_id) {
    auto r = co_await pool_.query(
        "SELECT state, schedule_id, total_price, queue_token_id::text AS queue_token_id "
        "FROM booking.reservation_for_payment($1::uuid, $2::uuid)",
        db::params(reservation_id, user_id));
    if (r.empty()) co_return std::nullopt;
    co_return Payable{r.get<std::string>(0, "state"), r.get<std::int64_t>(0, "schedule_id"),
                      r.get<std::int64_t>(0, "total_price"), r.get<std::string>(0, "queue_token_id")};
}

asio::awaitable<std::int64_t> Store::balance(std::string user_id) {
    auto r = co_await pool_.query("SELECT wallet.balance($1::uuid) AS balance", db::params(user_id));
    co_return r.get<std::int64_t>(0, "balance");
}

asio::awaitable<std::optional<Payment>> Store::find_by_key(std::string user_id, std::string key) {
    auto r =
        co_await pool_.query(select("user_id = $1::uuid AND idempotency_key = $2"), db::params(user_id, key));
    if (r.empty()) co_return std::nullopt;
    co_return payment_from(r, 0);
}

asio::awaitable<std::optional<Payment>> Store::find(std::string user_id, std::string payment_id) {
    auto r =
        co_await pool_.query(select("id = $1::uuid AND user_id = $2::uuid"), db::params(payment_id, user_id));
    if (r.empty()) co_return std::nullopt;
    co_return payment_from(r, 0);
}

asio::awaitable<Payment> Store::get(std::string payment_id) {
    auto r = co_await pool_.query(select("id = $1::uuid"), db::params(payment_id));
    co_return payment_from(r, 0);
}

asio::awaitable<std::variant<Payment, Store::Refused>> Store::begin(NewPayment p) {
    const std::string insert =
        std::string(
            "INSERT INTO payment.payments (id, user_id, reservation_id, queue_token_id, idempotency_key, "
            "request_hash, method, amount, points_amount, card_amount, pg_status, state, failure_code, "
            "decided_at) "
            "SELECT gen_random_uuid(), $1::uuid, $2::uuid, $3::uuid, $4, decode($5, 'hex'), $6, $7::bigint, "
            "$8::bigint, $9::bigint, "
            "CASE WHEN $9::bigint = 0 THEN 'NONE' WHEN $10::text IS NULL THEN 'REQUESTED' "
            "ELSE 'DECLINED' END, "
            "CASE WHEN $10::text IS NULL THEN 'PENDING' ELSE 'FAILED' END, $10::text, "
            "CASE WHEN $10::text IS NULL THEN NULL ELSE now() END "
            "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING ") +
        kColumns;
    try {
        auto r =
            co_await pool_.query(insert, db::params(p.user_id, p.reservation_id, p.queue_token_id,
                                                    p.idempotency_key, p.request_hash, p.method, p.amount,
                                                    p.points_amount, p.card_amount, p.failure_code));
        if (r.empty()) co_return Refused::SameKey;
        co_return payment_from(r, 0);
    } catch (const db::SqlError& e) {
        if (!e.is_unique_violation("payments_one_live_per_reservation")) throw;
    }
    auto live = co_await pool_.query(
        "SELECT state FROM payment.payments WHERE reservation_id = $1::uuid AND state IN ('PENDING', "
        "'APPROVED')",
        db::params(p.reservation_id));
    if (!live.empty() && live.get<std::string>(0, "state") == "APPROVED") co_return Refused::AlreadyConfirmed;
    co_return Refused::PaymentInProgress;
}

asio::awaitable<Store::Lookup> Store::lookup(std::string user_id, std::string key,
                                             std::string reservation_id) {
    const std::string sql =
        std::string("SELECT ") + kColumns +
        ", CASE WHEN k.id IS NULL THEN 0 ELSE wallet.balance($1::uuid) END AS balance, "
        "(SELECT f.schedule_id FROM booking.reservation_for_payment($3::uuid, $1::uuid) f) AS schedule_id "
        "FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT * FROM payment.payments p WHERE p.user_id = "
        "$1::uuid "
        "AND p.idempotency_key = $2) AS k ON true";
    auto r = co_await pool_.query(sql, db::params(user_id, key, reservation_id));
    Lookup out;
    if (!r.is_null(0, "id")) out.existing = payment_from(r, 0);
    out.balance = r.get<std::int64_t>(0, "balance");
    out.schedule_id = r.get<std::optional<std::int64_t>>(0, "schedule_id");
    co_return out;
}

asio::awaitable<Store::Paid> Store::pay(NewPayment p, std::int64_t schedule_id,
                                        std::optional<std::int64_t> points) {
    // One statement, one transaction (migrations/payment/0004_pay.sql); its outbox rows carry the request's
    // traceparent.
    const std::string sql =
        "SELECT o.outcome, o.balance, o.schedule_id, o.total, " + composite_columns() +
        " FROM payment.pay($1::uuid, $2::uuid, $3::bigint, $4::uuid, $5, decode($6, 'hex'), "
        "$7, $8::bigint, $9::text) AS o";
    const std::string traceparent = core::current_traceparent().value_or("");
    auto r = co_await pool_.query(
        sql, db::params(p.user_id, p.reservation_id, schedule_id, p.queue_token_id, p.idempotency_key,
                        p.request_hash, p.method, points, traceparent));
    Paid out;
    out.outcome = r.get<std::string>(0, "outcome");
    if (!r.is_null(0, "id")) out.payment = payment_from(r, 0);
    out.balance = r.get<std::optional<std::int64_t>>(0, "balance").value_or(0);
    out.schedule_id = r.get<std::optional<std::int64_t>>(0, "schedule_id").value_or(schedule_id);
    out.total = r.get<std::optional<std::int64_t>>(0, "total").value_or(0);
    co_return out;
}

asio::awaitable<Store::Settled> Store::settle(std::string payment_id, std::string answer,
                                              std::optional<std::string> pg_transaction_id) {
    const std::string sql = "SELECT o.outcome, o.balance, " + composite_columns() +
                            " FROM payment.settle($1::uuid, $2, $3::text, $4::text) AS o";
    const std::string traceparent = core::current_traceparent().value_or("");
    // The gateway has answered: the step that completes money already moved is never shed (ADR 0040).
    auto r = co_await pool_.query(sql, db::params(payment_id, answer, pg_transaction_id, traceparent),
                                  db::Priority::Finish);
    co_return Settled{r.get<std::string>(0, "outcome"), payment_from(r, 0),
                      r.get<std::int64_t>(0, "balance")};
}

asio::awaitable<std::string> Store::finish(std::string payment_id,
                                           std::optional<std::string> pg_transaction_id) {
    // The outbox rows payment.finish and booking.confirm write take this traceparent from the transaction's
    // setting (migrations */0003-0004_outbox_traceparent.sql); the FROM item sets it before the call runs.
    const std::string traceparent = core::current_traceparent().value_or("");
    auto r = co_await pool_.query(
        "SELECT payment.finish($1::uuid, $2::text) AS outcome "
        "FROM (SELECT set_config('marquee.traceparent', $3::text, true)) AS trace",
        db::params(payment_id, pg_transaction_id, traceparent));
    co_return r.get<std::string>(0, "outcome");
}

asio::awaitable<void> Store::fail(std::string payment_id, std::string pg_status, std::string failure_code) {
    co_await pool_.query(
        "WITH failed AS (UPDATE payment.payments SET state = 'FAILED', pg_status = $2, failure_code = $3, "
        "lease_until = NULL, updated_at = now(), decided_at = now() WHERE id = $1::uuid AND state = "
        "'PENDING' "
        "RETURNING id, reservation_id, user_id, amount, points_amount, card_amount) "
        "INSERT INTO payment.outbox (event_type, aggregate_id, payload, traceparent) "
        "SELECT 'payment.failed', id, jsonb_build_object('paymentId', id, 'reservationId', reservation_id, "
        "'userId', user_id, 'amount', amount, 'pointsAmount', points_amount, 'cardAmount', card_amount, "
        "'failureCode', $3::text), $4::text FROM failed",
        db::params(payment_id, pg_status, failure_code, core::current_traceparent()));
}

asio::awaitable<void> Store::mark_card_cancelled(std::string payment_id) {
    co_await pool_.query(
        "UPDATE payment.payments SET pg_status = 'CANCELLED', lease_until = NULL, updated_at = now() "
        "WHERE id = $1::uuid AND state = 'FAILED' AND pg_status = 'APPROVED'",
        db::params(payment_id), db::Priority::Finish);
}

asio::awaitable<std::vector<Payment>> Store::claim_pending(std::chrono::seconds age,
                                                           std::chrono::seconds lease, int limit) {
    const std::string sql =
        std::string(
            "UPDATE payment.payments SET lease_until = now() + make_interval(secs => $2) WHERE id IN ("
            " SELECT id FROM payment.payments WHERE state = 'PENDING' AND created_at < now() - "
            " make_interval(secs => $1) AND (lease_until IS NULL OR lease_until < now()) ORDER BY created_at "
            " LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ") +
        kColumns;
    auto r = co_await pool_.query(sql, db::params(static_cast<std::int64_t>(age.count()),
                                                  static_cast<std::int64_t>(lease.count()), limit));
    co_return payments_from(r);
}

asio::awaitable<std::vector<Payment>> Store::claim_to_cancel(std::chrono::seconds age,
                                                             std::chrono::seconds lease, int limit) {
    const std::string sql =
        std::string(
            "UPDATE payment.payments SET lease_until = now() + make_interval(secs => $2) WHERE id IN ("
            " SELECT id FROM payment.payments WHERE state = 'FAILED' AND pg_status = 'APPROVED' "
            " AND updated_at < now() - make_interval(secs => $1) "
            " AND (lease_until IS NULL OR lease_until < now()) ORDER BY updated_at LIMIT $3 "
            " FOR UPDATE SKIP LOCKED) RETURNING ") +
        kColumns;
    auto r = co_await pool_.query(sql, db::params(static_cast<std::int64_t>(age.count()),
                                                  static_cast<std::int64_t>(lease.count()), limit));
    co_return payments_from(r);
}

}  // namespace marquee::payment
