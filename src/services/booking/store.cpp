#include "services/booking/store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "services/booking/rules.hpp"

namespace marquee::booking {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr const char* kUniqueSeatIndex = "reservation_seats_one_live_per_seat";

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
    const std::string expire_sql = end_holds_sql(
        "SELECT reservation_id AS id FROM booking.reservation_seats WHERE schedule_id = $1 "
        "AND seat_id = ANY ($2::bigint[]) AND state = 'HELD'",
        "EXPIRED", "reservation.expired", true, 3);
    // The events of this hold continue the trace of the request that made it (read before any suspension).
    const std::optional<std::string> traceparent = core::current_traceparent();
    bool unique_violation = false;
    try {
        co_return co_await pool_.transaction([&](db::Transaction& tx) -> asio::awaitable<HoldOutcome> {
            auto seats = co_await tx.query(
                "SELECT seat_id, zone_id, seat_index, price, booking_open "
                "FROM catalog.seats_for_hold($1, $2::bigint[]) ORDER BY seat_id",
                db::params(hold.schedule_id, seat_array));
            if (static_cast<std::size_t>(seats.rows()) != hold.seat_ids.size()) {
                throw core::Problem::not_found("no such seat in this schedule");
            }
            for (int i = 0; i < seats.rows(); ++i) {
                if (!seats.get<bool>(i, "booking_open")) {
                    throw core::Problem::conflict("booking-closed", "booking for this schedule is not open");
                }
            }
            // Overdue holds of these seats end now, so an expired hold never blocks a new one.
            co_await tx.query(expire_sql, db::params(hold.schedule_id, seat_array, traceparent));

            HoldOutcome outcome;
            auto live = co_await tx.query(
                "SELECT s.seat_id FROM booking.reservation_seats s "
                "JOIN booking.reservations r ON r.id = s.reservation_id "
                "WHERE s.schedule_id = $1 AND s.seat_id = ANY ($2::bigint[]) AND s.state IN ('HELD', 'SOLD') "
                "AND NOT (r.state = 'HELD' AND r.expires_at <= now()) ORDER BY s.seat_id",
                db::params(hold.schedule_id, seat_array));
            for (int i = 0; i < live.rows(); ++i) outcome.taken.push_back(live.get<std::int64_t>(i, 0));
            if (!outcome.taken.empty()) co_return outcome;

            Reservation reservation;
            std::vector<std::int64_t> zones;
            std::vector<std::int64_t> prices;
            json::array seat_ids;
            json::array seat_indexes;
            for (int i = 0; i < seats.rows(); ++i) {
                ReservedSeat seat{seats.get<std::int64_t>(i, "seat_id"),
                                  seats.get<std::int64_t>(i, "zone_id"), seats.get<std::int64_t>(i, "price"),
                                  "HELD"};
                reservation.total_price += seat.price;
                zones.push_back(seat.zone_id);
                prices.push_back(seat.price);
                seat_ids.push_back(seat.seat_id);
                seat_indexes.push_back(seats.get<std::int64_t>(i, "seat_index"));
                reservation.seats.push_back(seat);
            }
            const auto count = static_cast<std::int64_t>(reservation.seats.size());
            auto inserted = co_await tx.query(
                "INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, "
                "total_price, expires_at) VALUES ($1::uuid, $2, $3::uuid, $4, $5, now() + make_interval(secs "
                "=> $6)) RETURNING id::text AS id, expires_at, created_at",
                db::params(hold.user_id, hold.schedule_id, hold.queue_token_id, count,
                           reservation.total_price, ttl_seconds));
            reservation.id = inserted.get<std::string>(0, "id");
            reservation.expires_at = inserted.get<core::TimePoint>(0, "expires_at");
            reservation.created_at = inserted.get<core::TimePoint>(0, "created_at");
            reservation.user_id = hold.user_id;
            reservation.schedule_id = hold.schedule_id;
            reservation.queue_token_id = hold.queue_token_id;
            reservation.state = "HELD";

            const std::string zone_array = bigint_array(zones);
            const std::string price_array = bigint_array(prices);
            co_await tx.query(
                "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, "
                "price) "
                "SELECT $1::uuid, u.seat_id, $2, u.zone_id, u.price "
                "FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS u(seat_id, zone_id, price)",
                db::params(reservation.id, hold.schedule_id, seat_array, zone_array, price_array));

            json::object payload{{"reservationId", reservation.id},
                                 {"scheduleId", hold.schedule_id},
                                 {"userId", hold.user_id},
                                 {"seatIds", seat_ids},
                                 {"seatIndexes", seat_indexes}};
            const std::string payload_text = json::serialize(payload);
            co_await tx.query(
                "INSERT INTO booking.outbox (event_type, aggregate_id, payload, traceparent) "
                "VALUES ('reservation.held', $1::uuid, $2::jsonb, $3::text)",
                db::params(reservation.id, payload_text, traceparent));
            outcome.reservation = std::move(reservation);
            co_return outcome;
        });
    } catch (const db::SqlError& e) {
        if (!e.is_unique_violation(kUniqueSeatIndex)) throw;
        unique_violation = true;
    }
    // A concurrent hold of one of these seats committed first: the index refused ours.
    HoldOutcome lost;
    if (unique_violation) lost.taken = co_await live_seats(hold.schedule_id, hold.seat_ids);
    if (lost.taken.empty()) lost.taken = hold.seat_ids;
    co_return lost;
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
