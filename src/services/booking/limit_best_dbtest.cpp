// The per-fan ticket limit (1인 N매) and best available (issue 17 items 6a and 4; ADR 0025) against the real
// PostgreSQL and Redis: the limit is counted and enforced inside the hold's one statement, and best available
// picks side-by-side seats nearest the stage, all or nothing.
#include <map>
#include <set>
#include <utility>

#include <boost/json/parse.hpp>

#include "db/session.hpp"
#include "services/booking/test_fixture.hpp"
#include "support/explain.hpp"

namespace marquee::booking::testing {
namespace {

/// A schedule with one zone of `rows` rows of `per_row` seats (rows A, B, ... from the stage back, seats
/// numbered 1..per_row from the left), as the admin layout makes them.
struct RowSchedule {
    std::int64_t id = 0;
    std::int64_t zone = 0;
    std::map<std::pair<int, int>, std::int64_t> seat;   ///< (row 0-based, number 1-based) -> seat id
    std::map<std::int64_t, std::pair<int, int>> where;  ///< seat id -> (row, number)
};

/// Shared buffers one booking.hold call read (EXPLAIN ANALYZE counts the statements inside it too), with the
/// generic plans a pool connection keeps after five calls.
asio::awaitable<std::int64_t> hold_buffers(db::Pool& pool, std::string user, std::int64_t schedule,
                                           std::int64_t seat) {
    db::Session session = co_await pool.session();
    co_await session.execute("SET plan_cache_mode = force_generic_plan");
    const db::Result r = co_await session.query(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM booking.hold($1::uuid, $2, gen_random_uuid(), "
        "$3::bigint[], 300, NULL)",
        db::params(user, schedule, "{" + std::to_string(seat) + "}"));
    co_await session.execute("RESET plan_cache_mode");
    co_return test::plan_shared_buffers(r);
}

class LimitAndBestDbTest : public BookingDbTest {
  protected:
    RowSchedule make_rows(int rows, int per_row, int ticket_limit = 4) {
        const auto title = test::unique_name("best-concert");
        auto r = sql(
            "WITH c AS (INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1, 'Artist', 'Venue') "
            "RETURNING id), s AS (INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, "
            "booking_closes_at, seat_count, ticket_limit) SELECT id, now() + interval '30 days', "
            "now() - interval '1 day', now() + interval '29 days', $2::int * $3::int, $4 FROM c RETURNING "
            "id), "
            "z AS (INSERT INTO catalog.zones (schedule_id, name, price, color) SELECT id, 'R', 1000, "
            "'#0000aa' "
            "FROM s RETURNING id, schedule_id) "
            "INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y) "
            "SELECT z.schedule_id, z.id, r * $3 + n - 1, chr(65 + r), n, 10 * n, r + 1 "
            "FROM z, generate_series(0, $2 - 1) r, generate_series(1, $3) n "
            "RETURNING schedule_id, zone_id, id, ascii(row_label) - 65 AS row, number",
            db::params(title, rows, per_row, ticket_limit));
        RowSchedule out;
        for (int i = 0; i < r.rows(); ++i) {
            out.id = r.get<std::int64_t>(i, "schedule_id");
            out.zone = r.get<std::int64_t>(i, "zone_id");
            const std::pair<int, int> at{r.get<std::int32_t>(i, "row"), r.get<std::int32_t>(i, "number")};
            out.seat[at] = r.get<std::int64_t>(i, "id");
            out.where[r.get<std::int64_t>(i, "id")] = at;
        }
        return out;
    }

    Reservation best(const std::string& user, const RowSchedule& s, int count) {
        HoldRequest request;
        request.schedule_id = s.id;
        request.zone_id = s.zone;
        request.count = count;
        return run(service_->hold(user, new_uuid(), request));
    }

    /// The (row, number) places of a reservation's seats, in seat order.
    static std::vector<std::pair<int, int>> places(const RowSchedule& s, const Reservation& r) {
        std::vector<std::pair<int, int>> out;
        for (const auto& seat : r.seats) out.push_back(s.where.at(seat.seat_id));
        return out;
    }

    /// Holds the given seats for someone else (one hold per call of up to four seats).
    void take(const RowSchedule& s, const std::vector<std::pair<int, int>>& at) {
        std::vector<std::int64_t> ids;
        ids.reserve(at.size());
        for (const auto& p : at) ids.push_back(s.seat.at(p));
        std::sort(ids.begin(), ids.end());
        (void)run(service_->hold(new_uuid(), new_uuid(), HoldRequest{s.id, ids}));
    }

    std::int64_t reservations_of(const std::string& user) {
        return sql("SELECT count(*)::bigint FROM booking.reservations WHERE user_id = $1::uuid",
                   db::params(user))
            .get<std::int64_t>(0, 0);
    }

    void confirm(const std::string& reservation_id) {
        sql("UPDATE booking.reservations SET state = 'CONFIRMED', confirmed_at = now(), payment_id = "
            "gen_random_uuid() WHERE id = $1::uuid",
            db::params(reservation_id));
        sql("UPDATE booking.reservation_seats SET state = 'SOLD' WHERE reservation_id = $1::uuid",
            db::params(reservation_id));
    }
};

// ---------------------------------------------------------------------------------------- ticket limit

// The case: one fan, holds of 4 seats one after another. The first is the whole limit.
TEST_F(LimitAndBestDbTest, ThreeHoldsOfFourSeatsByOneFanRefuseTheSecond) {
    const auto s = make_schedule(12);
    const auto fan = new_uuid();
    EXPECT_EQ(hold(fan, s, {s.seats[0], s.seats[1], s.seats[2], s.seats[3]}).state, "HELD");
    for (std::size_t round = 1; round < 3; ++round) {
        const auto p = problem_of([&] {
            (void)hold(
                fan, s,
                {s.seats[4 * round], s.seats[4 * round + 1], s.seats[4 * round + 2], s.seats[4 * round + 3]});
        });
        ASSERT_TRUE(p);
        EXPECT_EQ(p->status(), 409);
        EXPECT_EQ(p->type(), "ticket-limit-reached");
        EXPECT_EQ(p->extensions().at("limit").as_int64(), 4);
        EXPECT_EQ(p->extensions().at("taken").as_int64(), 4);
        EXPECT_EQ(live_rows(s, s.seats[4 * round]), 0);
    }
    EXPECT_EQ(reservations_of(fan), 1);
    // Nothing is left locked in Redis by the refused holds: another fan holds those seats at once.
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[4], s.seats[5], s.seats[6], s.seats[7]}).state, "HELD");
}

TEST_F(LimitAndBestDbTest, TheLimitCountsEveryLiveHoldAndConfirmedSeatOfTheFanOnThatScheduleOnly) {
    const auto s = make_schedule(8);
    const auto other = make_schedule(8);
    const auto fan = new_uuid();
    const auto paid = hold(fan, s, {s.seats[0]});
    confirm(paid.id);
    (void)hold(fan, s, {s.seats[1], s.seats[2]});
    (void)hold(fan, other, {other.seats[0], other.seats[1], other.seats[2], other.seats[3]});
    const auto p = problem_of([&] { (void)hold(fan, s, {s.seats[3], s.seats[4]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "ticket-limit-reached");
    EXPECT_EQ(p->extensions().at("taken").as_int64(), 3);
    EXPECT_EQ(hold(fan, s, {s.seats[3]}).state, "HELD");                     // exactly up to the limit
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[4], s.seats[5]}).state, "HELD");  // another fan is not counted
}

TEST_F(LimitAndBestDbTest, ExpiredAndCancelledHoldsGiveTheirPlacesBack) {
    const auto s = make_schedule(12);
    const auto fan = new_uuid();
    const auto first = hold(fan, s, {s.seats[0], s.seats[1], s.seats[2], s.seats[3]});
    // Overdue and not yet swept: it no longer counts.
    make_overdue(first.id);
    const auto second = hold(fan, s, {s.seats[4], s.seats[5], s.seats[6], s.seats[7]});
    EXPECT_EQ(second.state, "HELD");
    run(service_->release(fan, second.id));
    EXPECT_EQ(hold(fan, s, {s.seats[8], s.seats[9], s.seats[10], s.seats[11]}).state, "HELD");
}

TEST_F(LimitAndBestDbTest, TheScheduleNamesItsOwnLimit) {
    const auto s = make_schedule(4);
    sql("UPDATE catalog.schedules SET ticket_limit = 1 WHERE id = $1", db::params(s.id));
    const auto fan = new_uuid();
    const auto p = problem_of([&] { (void)hold(fan, s, {s.seats[0], s.seats[1]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->extensions().at("limit").as_int64(), 1);
    EXPECT_EQ(p->extensions().at("taken").as_int64(), 0);
    EXPECT_EQ(hold(fan, s, {s.seats[0]}).state, "HELD");
    EXPECT_EQ(sql("SELECT catalog.ticket_limit($1)", db::params(s.id)).get<std::int32_t>(0, 0), 1);
}

// ADR 0017: the count is one probe of reservations_fan_live_idx, so a fan's ended reservations (history)
// cost the hold nothing. Buffers as booking_dbtest's hold_buffers counts them, generic plans forced.
TEST_F(LimitAndBestDbTest, TheLimitDoesNotReadTheFansHistory) {
    const auto s = make_schedule(2);
    const auto veteran = new_uuid();
    sql("INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, state, seat_count, "
        "total_price, expires_at, created_at, ended_at) SELECT $1::uuid, $2, gen_random_uuid(), 'EXPIRED', "
        "4, "
        "1, now() - interval '1 hour', now() - interval '2 hours', now() - interval '1 hour' "
        "FROM generate_series(1, 3000)",
        db::params(veteran, s.id));
    sql("ANALYZE booking.reservations");
    const auto buffers = [&](const std::string& user, std::int64_t seat) {
        return run(hold_buffers(*pool_, user, s.id, seat));
    };
    const auto newcomer_cost = buffers(new_uuid(), s.seats[0]);
    const auto veteran_cost = buffers(veteran, s.seats[1]);
    // 3,000 ended reservations span dozens of heap pages; the veteran's hold may read a few more index pages.
    EXPECT_LT(veteran_cost, newcomer_cost + 20)
        << "newcomer " << newcomer_cost << ", veteran " << veteran_cost;
}

// ---------------------------------------------------------------------------------------- best available

TEST_F(LimitAndBestDbTest, BestAvailableTakesTheMostCentralRunOfTheFrontRow) {
    const auto s = make_rows(3, 10);
    const auto r = best(new_uuid(), s, 4);
    EXPECT_EQ(r.state, "HELD");
    EXPECT_EQ(r.total_price, 4000);
    EXPECT_EQ(places(s, r), (std::vector<std::pair<int, int>>{{0, 4}, {0, 5}, {0, 6}, {0, 7}}));
    // Then the next most central pair in row A (left of two equally central ones), then row A's last run.
    EXPECT_EQ(places(s, best(new_uuid(), s, 2)), (std::vector<std::pair<int, int>>{{0, 2}, {0, 3}}));
    EXPECT_EQ(places(s, best(new_uuid(), s, 3)), (std::vector<std::pair<int, int>>{{0, 8}, {0, 9}, {0, 10}}));
    // Row A has one seat left: a pair goes to the middle of row B.
    EXPECT_EQ(places(s, best(new_uuid(), s, 2)), (std::vector<std::pair<int, int>>{{1, 5}, {1, 6}}));
    // A single seat: row A's last one.
    EXPECT_EQ(places(s, best(new_uuid(), s, 1)), (std::vector<std::pair<int, int>>{{0, 1}}));
}

TEST_F(LimitAndBestDbTest, BestAvailablePrefersSideBySideSeatsOverANearerRow) {
    const auto s = make_rows(2, 6);
    // Row A keeps 1, 3 and 5 free: no two side by side. Row B is empty.
    take(s, {{0, 2}, {0, 4}, {0, 6}});
    EXPECT_EQ(places(s, best(new_uuid(), s, 2)), (std::vector<std::pair<int, int>>{{1, 3}, {1, 4}}));
}

TEST_F(LimitAndBestDbTest, BestAvailableSplitsAGroupOnlyWhenNoRowHasThemSideBySide) {
    const auto s = make_rows(2, 4);
    // Free: A1, A3, B2, B4. No pair side by side anywhere; the two best single seats are row A's.
    take(s, {{0, 2}, {0, 4}, {1, 1}, {1, 3}});
    const auto r = best(new_uuid(), s, 2);
    EXPECT_EQ(places(s, r), (std::vector<std::pair<int, int>>{{0, 1}, {0, 3}}));
    // Two seats left, three asked: refused, nothing written.
    const auto fan = new_uuid();
    const auto p = problem_of([&] { (void)best(fan, s, 3); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 409);
    EXPECT_EQ(p->type(), "no-seats-available");
    EXPECT_EQ(reservations_of(fan), 0);
    EXPECT_EQ(places(s, best(fan, s, 2)), (std::vector<std::pair<int, int>>{{1, 2}, {1, 4}}));
    const auto none = problem_of([&] { (void)best(new_uuid(), s, 1); });
    ASSERT_TRUE(none);
    EXPECT_EQ(none->type(), "no-seats-available");
    EXPECT_EQ(metrics_.counter("booking_holds_total", "").with({{"outcome", "no-seats-available"}}).value(),
              2u);
}

TEST_F(LimitAndBestDbTest, BestAvailableReclaimsOverdueHoldsAndWritesTheSameEvents) {
    const auto s = make_rows(1, 2);
    const auto old = best(new_uuid(), s, 2);
    make_overdue(old.id);
    const auto fresh = best(new_uuid(), s, 2);
    EXPECT_EQ(places(s, fresh), places(s, old));
    EXPECT_EQ(sql("SELECT state FROM booking.reservations WHERE id = $1::uuid", db::params(old.id))
                  .get<std::string>(0, 0),
              "EXPIRED");
    EXPECT_EQ(outbox_count(old.id, "reservation.expired"), 1);
    const auto row =
        sql("SELECT payload::text FROM booking.outbox WHERE aggregate_id = $1::uuid AND event_type = "
            "'reservation.held'",
            db::params(fresh.id));
    ASSERT_EQ(row.rows(), 1);
    const auto payload = boost::json::parse(row.get<std::string>(0, 0)).as_object();
    EXPECT_EQ(payload.at("scheduleId").as_int64(), s.id);
    EXPECT_EQ(payload.at("seatIds").as_array().size(), 2U);
    EXPECT_EQ(payload.at("seatIndexes").as_array().at(0).as_int64(), 0);
    EXPECT_EQ(payload.at("seatIndexes").as_array().at(1).as_int64(), 1);
    for (const auto& seat : fresh.seats) {
        EXPECT_EQ(seat.zone_id, s.zone);
        EXPECT_EQ(seat.price, 1000);
        EXPECT_EQ(seat.state, "HELD");
    }
}

TEST_F(LimitAndBestDbTest, BestAvailableCountsTowardsAndIsBoundByTheTicketLimit) {
    const auto s = make_rows(2, 10);
    const auto fan = new_uuid();
    (void)best(fan, s, 3);
    const auto p = problem_of([&] { (void)best(fan, s, 2); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "ticket-limit-reached");
    EXPECT_EQ(p->extensions().at("limit").as_int64(), 4);
    EXPECT_EQ(p->extensions().at("taken").as_int64(), 3);
    (void)best(fan, s, 1);
    const auto seat = problem_of([&] {
        (void)run(service_->hold(fan, new_uuid(), HoldRequest{s.id, {s.seat.at({1, 1})}}));
    });
    ASSERT_TRUE(seat);
    EXPECT_EQ(seat->type(), "ticket-limit-reached");
    auto& holds = metrics_.counter("booking_holds_total", "");
    EXPECT_EQ(holds.with({{"outcome", "held-best-available"}}).value(), 2u);
    EXPECT_EQ(holds.with({{"outcome", "ticket-limit-reached"}}).value(), 2u);
}

TEST_F(LimitAndBestDbTest, SeatsChosenByTheServerAreRefusedToSeatHolds) {
    const auto s = make_rows(1, 4);
    const auto r = best(new_uuid(), s, 2);
    const auto p = problem_of([&] {
        (void)run(service_->hold(new_uuid(), new_uuid(), HoldRequest{s.id, {r.seats[0].seat_id}}));
    });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(live_rows(TestSchedule{s.id, {}, 0}, r.seats[0].seat_id), 1);
}

TEST_F(LimitAndBestDbTest, BestAvailableInAZoneOfAnotherScheduleIs404) {
    const auto s = make_rows(1, 4);
    const auto other = make_rows(1, 4);
    HoldRequest request;
    request.schedule_id = s.id;
    request.zone_id = other.zone;
    request.count = 1;
    const auto p = problem_of([&] { (void)run(service_->hold(new_uuid(), new_uuid(), request)); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 404);
}

TEST_F(LimitAndBestDbTest, BestAvailableOutsideTheBookingWindowIs409) {
    const auto s = make_rows(1, 4);
    sql("UPDATE catalog.schedules SET booking_opens_at = now() + interval '1 day' WHERE id = $1",
        db::params(s.id));
    const auto p = problem_of([&] { (void)best(new_uuid(), s, 1); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "booking-closed");
}

}  // namespace
}  // namespace marquee::booking::testing
