// booking.seat_states, catalog's door for the availability bitset and its reconcile (ADR 0014, ADR 0055),
// against the real PostgreSQL: what it returns, the same rows as booking/0003's body on random data, and a
// cost that does not grow with booking's history.
#include <cstdint>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "services/booking/test_fixture.hpp"
#include "support/explain.hpp"

namespace marquee::booking::testing {
namespace {

// booking/0003's body of booking.seat_states: every live seat row joined to its reservation.
constexpr const char* kBody0003 =
    "SELECT s.seat_id, s.state FROM booking.reservation_seats s"
    " JOIN booking.reservations r ON r.id = s.reservation_id"
    " WHERE s.schedule_id = $1 AND s.state IN ('HELD', 'SOLD')"
    " AND (s.state = 'SOLD' OR r.expires_at > now()) ORDER BY s.seat_id";

// One reservation per group of seats, written as booking writes it: `seats` is a SQL condition on the
// schedule's catalog.seats row `c` (its seat_index), `per` how many seats share a reservation (1 to 4),
// `state` the reservation's, `seat_state` its seats', `expires` the expires_at expression.
std::string reservations_sql(const std::string& seats, int per, const std::string& state,
                             const std::string& seat_state, const std::string& expires) {
    const std::string group = "c.seat_index / " + std::to_string(per);
    return "WITH picked AS MATERIALIZED (SELECT c.id AS seat_id, c.zone_id, " + group +
           " AS grp FROM catalog.seats c WHERE c.schedule_id = $1 AND (" + seats +
           ")), "
           "g AS MATERIALIZED (SELECT grp, gen_random_uuid() AS rid, count(*)::smallint AS n,"
           " " +
           expires +
           " AS expires FROM picked GROUP BY grp), "
           "r AS (INSERT INTO booking.reservations (id, user_id, schedule_id, queue_token_id, state, "
           "seat_count, total_price, created_at, expires_at, payment_id, confirmed_at, ended_at) "
           "SELECT rid, gen_random_uuid(), $1, gen_random_uuid(), '" +
           state +
           "', n, 90000 * n, least(now(), expires) - interval '10 minutes', expires,"
           " CASE WHEN '" +
           state +
           "' = 'CONFIRMED' THEN gen_random_uuid() END,"
           " CASE WHEN '" +
           state + "' = 'CONFIRMED' THEN now() END, CASE WHEN '" + state +
           "' IN ('EXPIRED', 'CANCELLED') THEN now() END FROM g) "
           "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price, "
           "state) SELECT g.rid, p.seat_id, $1, p.zone_id, 90000, '" +
           seat_state + "' FROM picked p JOIN g USING (grp)";
}

// Shared buffers one call of booking.seat_states(schedule) reads on this session.
asio::awaitable<std::int64_t> seat_states_buffers(db::Session& session, std::int64_t schedule) {
    return test::second_run_buffers(session, "SELECT * FROM booking.seat_states($1)", db::params(schedule));
}

class SeatStatesDbTest : public BookingDbTest {
  protected:
    /// "seat_index:STATE" of every row booking.seat_states(schedule) returns, in seat order.
    std::vector<std::string> states(const TestSchedule& s) {
        const auto r =
            sql("SELECT c.seat_index, b.state FROM booking.seat_states($1) b JOIN catalog.seats c ON c.id = "
                "b.seat_id ORDER BY b.seat_id",
                db::params(s.id));
        std::vector<std::string> out;
        out.reserve(static_cast<std::size_t>(r.rows()));
        for (int row = 0; row < r.rows(); ++row) {
            out.push_back(std::to_string(r.get<std::int64_t>(row, 0)) + ":" + r.get<std::string>(row, 1));
        }
        return out;
    }
};

// A SOLD seat whatever its reservation's expires_at, a HELD seat while its hold is live, and nothing for a
// hold past expires_at that the sweeper has not reached (its row is still HELD), a released seat or a free
// one.
TEST_F(SeatStatesDbTest, SoldSeatsAndLiveHoldsOnlyAnOverdueUnsweptHoldIsNotHeld) {
    const auto s = make_schedule(7);
    // 0: sold an hour ago (its hold's expires_at long past); 1, 2: one live hold of two seats; 3: a hold past
    // expires_at, not yet swept; 4: released; 5: never held; 6: released, then held again (live).
    sql(reservations_sql("c.seat_index = 0", 1, "CONFIRMED", "SOLD", "now() - interval '1 hour'"),
        db::params(s.id));
    sql(reservations_sql("c.seat_index IN (1, 2)", 4, "HELD", "HELD", "now() + interval '5 minutes'"),
        db::params(s.id));
    sql(reservations_sql("c.seat_index = 3", 1, "HELD", "HELD", "now() - interval '1 second'"),
        db::params(s.id));
    sql(reservations_sql("c.seat_index IN (4, 6)", 1, "EXPIRED", "RELEASED", "now() - interval '1 minute'"),
        db::params(s.id));
    sql(reservations_sql("c.seat_index = 6", 1, "HELD", "HELD", "now() + interval '5 minutes'"),
        db::params(s.id));
    EXPECT_EQ(states(s), (std::vector<std::string>{"0:SOLD", "1:HELD", "2:HELD", "6:HELD"}));
    // The sweeper's turn changes nothing the function shows: the overdue seat was already not held.
    sql("UPDATE booking.reservation_seats SET state = 'RELEASED' WHERE schedule_id = $1 AND seat_id = $2",
        db::params(s.id, s.seats[3]));
    EXPECT_EQ(states(s), (std::vector<std::string>{"0:SOLD", "1:HELD", "2:HELD", "6:HELD"}));
}

// The same rows as booking/0003's body, on a random mix of sold, held, overdue and released seats in
// reservations of one to four seats, compared in one statement (one now() for both).
TEST_F(SeatStatesDbTest, ReturnsWhatBooking0003sBodyReturnsOnRandomSeats) {
    const auto s = make_schedule(600);
    // Each seat's live row by a random draw per group of seats (a reservation), at most one live row per
    // seat.
    const std::string draw = "hashtext(c.seat_index / 3 || $1::text || '" + new_uuid() + "') & 7";
    sql(reservations_sql(draw + " IN (0, 1)", 3, "CONFIRMED", "SOLD", "now() + interval '5 minutes'"),
        db::params(s.id));
    sql(reservations_sql(draw + " = 2", 3, "CONFIRMED", "SOLD", "now() - interval '2 hours'"),
        db::params(s.id));
    sql(reservations_sql(draw + " IN (3, 4)", 3, "HELD", "HELD", "now() + random() * interval '5 minutes'"),
        db::params(s.id));
    sql(reservations_sql(draw + " = 5", 3, "HELD", "HELD", "now() - random() * interval '5 minutes'"),
        db::params(s.id));
    // Ended reservations on top (RELEASED rows), two rounds over random seats.
    for (const char* kind : {"EXPIRED", "CANCELLED"}) {
        sql(reservations_sql("random() < 0.4", 2, kind, "RELEASED", "now() - random() * interval '1 day'"),
            db::params(s.id));
    }
    const auto r =
        sql(std::string("SELECT ARRAY(SELECT seat_id || ':' || state FROM booking.seat_states($1) ORDER BY "
                        "seat_id)::text, ARRAY(SELECT seat_id || ':' || state FROM (") +
                kBody0003 +
                ") old ORDER BY seat_id)::text,"
                " (SELECT count(*) FILTER (WHERE state = 'HELD') FROM booking.seat_states($1)),"
                " (SELECT count(*) FILTER (WHERE state = 'SOLD') FROM booking.seat_states($1)),"
                " (SELECT count(*) FROM booking.reservation_seats WHERE schedule_id = $1 AND state = 'HELD')",
            db::params(s.id));
    EXPECT_EQ(r.get<std::string>(0, 0), r.get<std::string>(0, 1));
    // The draw made every kind of row: live holds, sold seats, and overdue holds left out.
    EXPECT_GT(r.get<std::int64_t>(0, 2), 0);
    EXPECT_GT(r.get<std::int64_t>(0, 3), 0);
    EXPECT_GT(r.get<std::int64_t>(0, 4), r.get<std::int64_t>(0, 2));
}

// Issue 15: the reconcile's statement read every reservation ever made (booking/0003's body was hash-joined
// to a sequential scan of booking.reservations), so its cost grew with history. Now it reads the schedule's
// live seat rows and one primary-key probe per HELD seat: 50,000 more ended reservations elsewhere must not
// change what it reads. All in one transaction, rolled back: nothing is left in the shared test database.
TEST_F(SeatStatesDbTest, ReadsNoMoreBuffersWhenBookingsHistoryGrows) {
    const auto s = make_schedule(2000);
    const auto measured = run([&]() -> asio::awaitable<std::pair<std::int64_t, std::int64_t>> {
        db::Session session = co_await pool_->session();
        co_await session.execute("BEGIN");
        // 1,900 seats SOLD, 100 held: the HELD seats are the ones that reach booking.reservations.
        co_await session.query(
            reservations_sql("c.seat_index < 1900", 1, "CONFIRMED", "SOLD", "now() + interval '5 minutes'"),
            db::params(s.id));
        co_await session.query(
            reservations_sql("c.seat_index >= 1900", 1, "HELD", "HELD", "now() + interval '5 minutes'"),
            db::params(s.id));
        // Statistics that know this schedule (ANALYZE counts the rows this transaction wrote), as
        // autovacuum would after a sale: what made the planner hash-join the reservations.
        co_await session.execute("ANALYZE booking.reservations, booking.reservation_seats");
        const std::int64_t before = co_await seat_states_buffers(session, s.id);
        // 50,000 ended reservations of an earlier schedule (scripts/bench-history's kind of history).
        co_await session.query(
            "WITH g AS MATERIALIZED (SELECT gen_random_uuid() AS rid, i FROM generate_series(1, 50000) i), "
            "r AS (INSERT INTO booking.reservations (id, user_id, schedule_id, queue_token_id, state, "
            "seat_count, total_price, created_at, expires_at, ended_at) SELECT rid, gen_random_uuid(), $1, "
            "gen_random_uuid(), 'EXPIRED', 1, 1, now() - interval '40 days', now() - interval '39 days', "
            "now() - interval '39 days' FROM g) "
            "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price, "
            "state) SELECT rid, 900000000 + i, $1, 1, 1, 'RELEASED' FROM g",
            db::params(s.id + 1000000000));
        co_await session.execute("ANALYZE booking.reservations, booking.reservation_seats");
        const std::int64_t after = co_await seat_states_buffers(session, s.id);
        co_await session.execute("ROLLBACK");
        co_return std::pair{before, after};
    }());
    // booking/0003's body read 80 buffers before and 6,031 after (2026-12-07: a probe per seat while the
    // table was small, then a hash join on a scan of every reservation). Here the probes of the 100 HELD
    // seats' reservations may find the primary key a level deeper (one more page each); nothing else grows.
    EXPECT_LT(measured.second - measured.first, 150)
        << "buffers before " << measured.first << ", after " << measured.second;
    // And it reads about the schedule's live rows: their index entries and heap pages, 4 pages per HELD seat.
    EXPECT_LT(measured.second, 1000) << "buffers with the history";
}

}  // namespace
}  // namespace marquee::booking::testing
