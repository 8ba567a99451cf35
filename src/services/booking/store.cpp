#include "services/booking/store.hpp"

#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "services/booking/rules.hpp"

namespace marquee::booking {

namespace asio = boost::asio;

namespace {

constexpr const char* kUniqueSeatIndex = "reservation_seats_one_live_per_seat";
/// booking/0011 (ADR 0032): one reservation per fan and Idempotency-Key.
constexpr const char* kUniqueKeyIndex = "reservations_user_idempotency_key";

core::Problem key_reused() {
    return core::Problem::unprocessable("idempotency-key-reused",
                                        "this Idempotency-Key was used for another hold");
}

/// Ends the HELD reservations chosen by `selector` (a SELECT of `id`), with their HELD seats RELEASED and one
/// outbox event each, in one statement. `overdue_only` keeps live holds untouched (expiry). The events carry
/// the traceparent bound to `$trace_param` (NULL: none).
std::string end_holds_sql(const std::string& selector, const std::string& new_state, const std::string& event,
                          bool overdue_only, int trace_param) {
    return "WITH due AS (" + selector +
           "), ended AS ("
           " UPDATE booking.reservations r SET state = '" +
           new_state +
           "', ended_at = now()"
           "  WHERE r.id IN (SELECT id FROM due) AND r.state = 'HELD'" +
           (overdue_only ? std::string(" AND r.expires_at <= now()") : std::string()) +
           "  RETURNING r.id, r.schedule_id, r.user_id"
           "), released AS ("
           " UPDATE booking.reservation_seats s SET state = 'RELEASED' FROM ended e"
           "  WHERE s.reservation_id = e.id AND s.state = 'HELD' RETURNING s.reservation_id, s.seat_id"
           "), events AS ("
           " INSERT INTO booking.outbox (event_type, aggregate_id, payload, traceparent)"
           " SELECT '" +
           event +
           "', e.id, jsonb_build_object('reservationId', e.id, 'scheduleId', e.schedule_id, 'userId', "
           "e.user_id,"
           "   'seatIds', coalesce((SELECT jsonb_agg(x.seat_id ORDER BY x.seat_id) FROM released x"
           "                        WHERE x.reservation_id = e.id), '[]'::jsonb),"
           "   'seatIndexes', coalesce((SELECT jsonb_agg(h.seat_index ORDER BY h.seat_id)"
           "      FROM catalog.seats_for_hold(e.schedule_id, ARRAY(SELECT x.seat_id FROM released x"
           "                                                       WHERE x.reservation_id = e.id)) h),"
           "     '[]'::jsonb)), $" +
           std::to_string(trace_param) +
           "::text"
           "   FROM ended e RETURNING aggregate_id"
           ") SELECT count(*)::bigint AS ended FROM events";
}

constexpr const char* kReservationColumns =
    "r.id::text AS id, r.user_id::text AS user_id, r.schedule_id, r.queue_token_id::text AS queue_token_id, "
    "CASE WHEN r.state = 'HELD' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.state END AS state, "
    "r.total_price, r.expires_at, r.created_at";

Reservation reservation_from(const db::Result& r, int row) {
    Reservation out;
    out.id = r.get<std::string>(row, "id");
    out.user_id = r.get<std::string>(row, "user_id");
    out.schedule_id = r.get<std::int64_t>(row, "schedule_id");
    out.queue_token_id = r.get<std::string>(row, "queue_token_id");
    out.state = r.get<std::string>(row, "state");
    out.total_price = r.get<std::int64_t>(row, "total_price");
    out.expires_at = r.get<core::TimePoint>(row, "expires_at");
    out.created_at = r.get<core::TimePoint>(row, "created_at");
    return out;
}

/// 409 `ticket-limit-reached` from a LIMIT_REACHED answer: the schedule's limit and the seats the fan already
/// holds or bought for it (ADR 0025).
core::Problem limit_reached(const db::Result& result) {
    const auto limit = result.get<std::int32_t>(0, "ticket_limit");
    const auto taken = result.get<std::int32_t>(0, "tickets_taken");
    return core::Problem::conflict("ticket-limit-reached",
                                   "this hold would take you past the schedule's ticket limit of " +
                                       std::to_string(limit) + " (you hold or bought " +
                                       std::to_string(taken) + ")")
        .with("limit", limit)
        .with("taken", taken);
}

/// The request hash as booking.hold's p_hash (hex, decoded in SQL); NULL without an Idempotency-Key.
std::optional<std::string> key_hash(const NewHold& hold) {
    if (!hold.idempotency_key) return std::nullopt;
    return hold.request_hash;
}

std::string uuid_array(const std::vector<std::string>& ids) {
    std::string out = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) out += ',';
        out += ids[i];
    }
    out += '}';
    return out;
}

}  // namespace

asio::awaitable<HoldOutcome> Store::hold(NewHold hold) {
    const std::string seat_array = bigint_array(hold.seat_ids);
    const double ttl_seconds = static_cast<double>(hold.ttl.count()) / 1000.0;
    // The events of this hold continue the trace of the request that made it (read before any suspension).
    const std::optional<std::string> traceparent = core::current_traceparent();
    // One statement, one round trip: booking.hold (migrations/booking/0005_hold.sql) reads the seats, expires
    // overdue holds of them, looks for live ones and writes the reservation, its seats and its event. Its
    // last argument (booking/0015, ADR 0052): false commits it with synchronous_commit off.
    std::optional<db::Result> rows;
    bool unique_violation = false;
    try {
        rows = co_await pool_.query(
            "SELECT outcome, reservation_id::text AS id, expires_at, created_at, seat_id, zone_id, price, "
            "ticket_limit, tickets_taken, state, seat_state "
            "FROM booking.hold($1::uuid, $2, $3::uuid, $4::bigint[], $5, $6, $7, decode($8, 'hex'), $9)",
            db::params(hold.user_id, hold.schedule_id, hold.queue_token_id, seat_array, ttl_seconds,
                       traceparent, hold.idempotency_key, key_hash(hold), durable_holds_));
    } catch (const db::SqlError& e) {
        // The key used at the same moment for another schedule (another fan lock): the index refused ours.
        if (e.is_unique_violation(kUniqueKeyIndex)) throw key_reused();
        if (!e.is_unique_violation(kUniqueSeatIndex)) throw;
        unique_violation = true;
    }
    HoldOutcome outcome;
    if (unique_violation) {
        // A concurrent hold of one of these seats committed first: the index refused ours.
        outcome.taken = co_await live_seats(hold.schedule_id, hold.seat_ids);
        if (outcome.taken.empty()) outcome.taken = hold.seat_ids;
        co_return outcome;
    }
    const db::Result& result = *rows;
    const std::string kind = result.rows() > 0 ? result.get<std::string>(0, "outcome") : std::string();
    if (kind == "NOT_FOUND") throw core::Problem::not_found("no such seat in this schedule");
    if (kind == "BOOKING_CLOSED") {
        throw core::Problem::conflict("booking-closed", "booking for this schedule is not open");
    }
    if (kind == "LIMIT_REACHED") throw limit_reached(result);
    if (kind == "TAKEN") {
        for (int i = 0; i < result.rows(); ++i) {
            outcome.taken.push_back(result.get<std::int64_t>(i, "seat_id"));
        }
        co_return outcome;
    }
    if (kind == "KEY_REUSED") throw key_reused();
    if (kind != "HELD" && kind != "REPLAYED") {
        throw std::runtime_error("booking.hold answered '" + kind + "'");
    }
    outcome.reservation = held_reservation(hold, result);
    co_return outcome;
}

Reservation Store::held_reservation(const NewHold& hold, const db::Result& result) {
    Reservation reservation;
    reservation.id = result.get<std::string>(0, "id");
    reservation.expires_at = result.get<core::TimePoint>(0, "expires_at");
    reservation.created_at = result.get<core::TimePoint>(0, "created_at");
    reservation.user_id = hold.user_id;
    reservation.schedule_id = hold.schedule_id;
    reservation.queue_token_id = hold.queue_token_id;
    // HELD for a new hold; a replay (ADR 0032) as the reservation is now.
    reservation.state = result.get<std::string>(0, "state");
    reservation.replayed = result.get<std::string>(0, "outcome") == "REPLAYED";
    for (int i = 0; i < result.rows(); ++i) {
        ReservedSeat seat{result.get<std::int64_t>(i, "seat_id"), result.get<std::int64_t>(i, "zone_id"),
                          result.get<std::int64_t>(i, "price"), result.get<std::string>(i, "seat_state")};
        reservation.total_price += seat.price;
        reservation.seats.push_back(seat);
    }
    return reservation;
}

asio::awaitable<std::optional<KeyedHold>> Store::find_by_key(std::string user_id, std::string key) {
    // One statement (booking/0011's booking.held_by_key): the reservation as it is now, a row per seat.
    auto rows = co_await pool_.query(
        "SELECT reservation_id::text AS id, schedule_id, encode(request_hash, 'hex') AS request_hash, "
        "expires_at, created_at, seat_id, zone_id, price, state, seat_state "
        "FROM booking.held_by_key($1::uuid, $2)",
        db::params(user_id, key));
    if (rows.rows() == 0) co_return std::nullopt;
    KeyedHold found;
    found.request_hash = rows.get<std::string>(0, "request_hash");
    Reservation& r = found.reservation;
    r.id = rows.get<std::string>(0, "id");
    r.user_id = std::move(user_id);
    r.schedule_id = rows.get<std::int64_t>(0, "schedule_id");
    r.state = rows.get<std::string>(0, "state");
    r.expires_at = rows.get<core::TimePoint>(0, "expires_at");
    r.created_at = rows.get<core::TimePoint>(0, "created_at");
    r.replayed = true;
    for (int i = 0; i < rows.rows(); ++i) {
        ReservedSeat seat{rows.get<std::int64_t>(i, "seat_id"), rows.get<std::int64_t>(i, "zone_id"),
                          rows.get<std::int64_t>(i, "price"), rows.get<std::string>(i, "seat_state")};
        r.total_price += seat.price;
        r.seats.push_back(seat);
    }
    co_return found;
}

asio::awaitable<Reservation> Store::hold_best(NewHold hold) {
    const double ttl_seconds = static_cast<double>(hold.ttl.count()) / 1000.0;
    const std::optional<std::string> traceparent = core::current_traceparent();
    for (int attempt = 1;; ++attempt) {
        std::optional<db::Result> rows;
        try {
            // One statement (migrations/booking/0008): choose, expire overdue holds of them, write; committed
            // like hold (booking/0015's last argument).
            rows = co_await pool_.query(
                "SELECT outcome, reservation_id::text AS id, expires_at, created_at, seat_id, zone_id, "
                "price, ticket_limit, tickets_taken, state, seat_state "
                "FROM booking.hold_best($1::uuid, $2, $3::uuid, $4, $5, $6, $7, $8, decode($9, 'hex'), $10)",
                db::params(hold.user_id, hold.schedule_id, hold.queue_token_id, hold.zone_id, hold.count,
                           ttl_seconds, traceparent, hold.idempotency_key, key_hash(hold), durable_holds_));
        } catch (const db::SqlError& e) {
            if (e.is_unique_violation(kUniqueKeyIndex)) throw key_reused();
            // A seat hold of a chosen seat committed first and the unique index refused ours: a new statement
            // sees that hold and chooses around it.
            if (!e.is_unique_violation(kUniqueSeatIndex)) throw;
            if (attempt >= kBestAvailableAttempts) {
                throw core::Problem::unavailable("booking",
                                                 "the zone's seats are changing too fast; ask again");
            }
            continue;
        }
        const db::Result& result = *rows;
        const std::string kind = result.rows() > 0 ? result.get<std::string>(0, "outcome") : std::string();
        if (kind == "NOT_FOUND") throw core::Problem::not_found("no such zone in this schedule");
        if (kind == "BOOKING_CLOSED") {
            throw core::Problem::conflict("booking-closed", "booking for this schedule is not open");
        }
        if (kind == "LIMIT_REACHED") throw limit_reached(result);
        if (kind == "NO_SEATS") {
            throw core::Problem::conflict("no-seats-available",
                                          "the zone has fewer free seats than asked for")
                .with("zoneId", hold.zone_id)
                .with("count", hold.count);
        }
        if (kind == "KEY_REUSED") throw key_reused();
        if (kind != "HELD" && kind != "REPLAYED") {
            throw std::runtime_error("booking.hold_best answered '" + kind + "'");
        }
        co_return held_reservation(hold, result);
    }
}

asio::awaitable<std::vector<std::int64_t>> Store::live_seats(std::int64_t schedule_id,
                                                             std::vector<std::int64_t> seat_ids) {
    const std::string seat_array = bigint_array(seat_ids);
    auto live = co_await pool_.query(
        "SELECT s.seat_id FROM booking.reservation_seats s JOIN booking.reservations r ON r.id = "
        "s.reservation_id WHERE s.schedule_id = $1 AND s.seat_id = ANY ($2::bigint[]) AND s.state IN "
        "('HELD', 'SOLD') AND NOT (r.state = 'HELD' AND r.expires_at <= now()) ORDER BY s.seat_id",
        db::params(schedule_id, seat_array));
    std::vector<std::int64_t> taken;
    taken.reserve(static_cast<std::size_t>(live.rows()));
    for (int i = 0; i < live.rows(); ++i) taken.push_back(live.get<std::int64_t>(i, 0));
    co_return taken;
}

asio::awaitable<std::vector<Reservation>> Store::with_seats(db::Result rows) {
    std::vector<Reservation> out;
    std::vector<std::string> ids;
    for (int i = 0; i < rows.rows(); ++i) {
        out.push_back(reservation_from(rows, i));
        ids.push_back(out.back().id);
    }
    if (out.empty()) co_return out;
    const std::string id_array = uuid_array(ids);
    auto seats = co_await pool_.query(
        "SELECT s.reservation_id::text AS reservation_id, s.seat_id, s.zone_id, s.price, "
        "CASE WHEN s.state = 'HELD' AND r.expires_at <= now() THEN 'RELEASED' ELSE s.state END AS state "
        "FROM booking.reservation_seats s JOIN booking.reservations r ON r.id = s.reservation_id "
        "WHERE s.reservation_id = ANY ($1::uuid[]) ORDER BY s.seat_id",
        db::params(id_array));
    for (int i = 0; i < seats.rows(); ++i) {
        const auto owner = seats.get<std::string>(i, "reservation_id");
        for (auto& r : out) {
            if (r.id != owner) continue;
            r.seats.push_back(
                ReservedSeat{seats.get<std::int64_t>(i, "seat_id"), seats.get<std::int64_t>(i, "zone_id"),
                             seats.get<std::int64_t>(i, "price"), seats.get<std::string>(i, "state")});
        }
    }
    co_return out;
}

asio::awaitable<std::optional<Reservation>> Store::find(std::string user_id, std::string reservation_id) {
    const std::string sql = std::string("SELECT ") + kReservationColumns +
                            " FROM booking.reservations r WHERE r.id = $1::uuid AND r.user_id = $2::uuid";
    auto rows = co_await pool_.query(sql, db::params(reservation_id, user_id));
    auto found = co_await with_seats(std::move(rows));
    if (found.empty()) co_return std::nullopt;
    co_return std::move(found.front());
}

asio::awaitable<std::vector<Reservation>> Store::list(std::string user_id, int limit) {
    const std::string sql = std::string("SELECT ") + kReservationColumns +
                            " FROM booking.reservations r WHERE r.user_id = $1::uuid "
                            "ORDER BY r.created_at DESC, r.id LIMIT $2";
    auto rows = co_await pool_.query(sql, db::params(user_id, limit));
    co_return co_await with_seats(std::move(rows));
}

asio::awaitable<ReleaseOutcome> Store::release(std::string user_id, std::string reservation_id) {
    const std::string cancel_sql =
        end_holds_sql("SELECT $1::uuid AS id", "CANCELLED", "reservation.cancelled", false, 2);
    const std::string expire_sql =
        end_holds_sql("SELECT $1::uuid AS id", "EXPIRED", "reservation.expired", true, 2);
    const std::optional<std::string> traceparent = core::current_traceparent();
    co_return co_await pool_.transaction([&](db::Transaction& tx) -> asio::awaitable<ReleaseOutcome> {
        auto row = co_await tx.query(
            "SELECT state, expires_at <= now() AS overdue FROM booking.reservations "
            "WHERE id = $1::uuid AND user_id = $2::uuid FOR UPDATE",
            db::params(reservation_id, user_id));
        if (row.empty()) co_return ReleaseOutcome::NotFound;
        const auto state = row.get<std::string>(0, "state");
        if (state == "CONFIRMED") co_return ReleaseOutcome::Confirmed;
        if (state == "CANCELLED") co_return ReleaseOutcome::AlreadyCancelled;
        if (state == "EXPIRED") co_return ReleaseOutcome::Expired;
        if (row.get<bool>(0, "overdue")) {
            co_await tx.query(expire_sql, db::params(reservation_id, traceparent));
            co_return ReleaseOutcome::Expired;
        }
        co_await tx.query(cancel_sql, db::params(reservation_id, traceparent));
        co_return ReleaseOutcome::Released;
    });
}

asio::awaitable<int> Store::expire_due(int limit) {
    const std::string sql = end_holds_sql(
        "SELECT id FROM booking.reservations WHERE state = 'HELD' AND expires_at <= now() "
        "ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        "EXPIRED", "reservation.expired", true, 2);
    const std::optional<std::string> traceparent = core::current_traceparent();
    auto r = co_await pool_.query(sql, db::params(limit, traceparent));
    co_return static_cast<int>(r.get<std::int64_t>(0, "ended"));
}

}  // namespace marquee::booking
