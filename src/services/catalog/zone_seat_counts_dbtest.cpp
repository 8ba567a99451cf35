// catalog.zone_seat_counts, the waiting room's door for its sold-out check (ADR 0018), with the seats of each
// zone kept with the layout (catalog/0011, ADR 0057): the same counts as counting catalog.seats whoever
// writes the seats, and a cost that does not grow with the number of seats.
#include <cstdint>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "dbtest_fixture.hpp"
#include "services/catalog/store.hpp"
#include "support/explain.hpp"

namespace marquee::catalog::testing {
namespace {

// catalog/0005's body of the door: every seat of the schedule counted per zone.
constexpr const char* kBody0005 =
    "SELECT z.id, z.name, count(s.id) FROM catalog.zones z"
    " LEFT JOIN catalog.seats s ON s.schedule_id = z.schedule_id AND s.zone_id = z.id"
    " WHERE z.schedule_id = $1 GROUP BY z.id, z.name";

class ZoneSeatCountsDbTest : public CatalogDbTest {
  protected:
    db::Result sql(std::string statement, db::Params params = {}) {
        return run(db_.query(std::move(statement), std::move(params)));
    }

    /// A schedule whose layout went in through the admin's path (Store::insert_layout).
    std::int64_t schedule_with_layout(int vip_rows, int r_rows, int per_row) {
        const Schedule schedule = make_schedule(make_concert("zone-seat-counts").id);
        const auto zones = layout(vip_rows, r_rows, per_row);
        run(service_->store().insert_layout(schedule.id, zones, expand_layout(zones)));
        return schedule.id;
    }

    /// "name=seats" per zone, from the door and from counting the seats (catalog/0005's body), in one
    /// statement.
    std::pair<std::string, std::string> counts(std::int64_t schedule) {
        const auto r =
            sql(std::string("SELECT (SELECT string_agg(name || '=' || seats, ',' ORDER BY name)"
                            " FROM catalog.zone_seat_counts($1)),"
                            " (SELECT string_agg(name || '=' || count, ',' ORDER BY name) FROM (") +
                    kBody0005 + ") old)",
                db::params(schedule));
        return {r.get<std::string>(0, 0), r.get<std::string>(0, 1)};
    }
};

// Shared buffers one call of catalog.zone_seat_counts(schedule) reads on this session.
asio::awaitable<std::int64_t> door_buffers(db::Session& session, std::int64_t schedule) {
    return test::second_run_buffers(session, "SELECT * FROM catalog.zone_seat_counts($1)",
                                    db::params(schedule));
}

TEST_F(ZoneSeatCountsDbTest, CountsTheSeatsOfALayoutInsertedByTheAdmin) {
    const std::int64_t schedule = schedule_with_layout(2, 3, 4);  // VIP 2 rows, R 3 rows, 4 seats a row
    const auto [door, counted] = counts(schedule);
    EXPECT_EQ(door, "R=12,VIP=8");
    EXPECT_EQ(door, counted);
}

// Seats written by anyone (a statement of SQL, as the demo data and the tests write them) are counted in the
// same transaction: inserted, deleted, moved to another zone of the schedule, and all of them truncated.
TEST_F(ZoneSeatCountsDbTest, FollowsEveryWriteOfTheSeats) {
    const std::int64_t schedule = schedule_with_layout(1, 1, 5);
    EXPECT_EQ(counts(schedule).first, "R=5,VIP=5");
    // A zone with no seats yet, then 7 seats for it in one statement.
    sql("INSERT INTO catalog.zones (schedule_id, name, price, color) VALUES ($1, 'S', 1000, '#00aa00')",
        db::params(schedule));
    EXPECT_EQ(counts(schedule).first, "R=5,S=0,VIP=5");
    sql("INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)"
        " SELECT $1, z.id, 100 + g, 'S', g + 1, g, 9 FROM catalog.zones z, generate_series(0, 6) g"
        " WHERE z.schedule_id = $1 AND z.name = 'S'",
        db::params(schedule));
    EXPECT_EQ(counts(schedule).first, "R=5,S=7,VIP=5");
    // Two of R's seats move to VIP, and a change of another column moves nothing.
    sql("UPDATE catalog.seats s SET zone_id = z.id FROM catalog.zones z WHERE z.schedule_id = $1"
        " AND z.name = 'VIP' AND s.schedule_id = $1 AND s.seat_index IN (5, 6)",
        db::params(schedule));
    sql("UPDATE catalog.seats SET x = x + 1 WHERE schedule_id = $1", db::params(schedule));
    EXPECT_EQ(counts(schedule).first, "R=3,S=7,VIP=7");
    // Three seats of S deleted.
    sql("DELETE FROM catalog.seats WHERE schedule_id = $1 AND seat_index IN (100, 101, 102)",
        db::params(schedule));
    auto [door, counted] = counts(schedule);
    EXPECT_EQ(door, "R=3,S=4,VIP=7");
    EXPECT_EQ(door, counted);
    // A statement that fails writes no count: its seats and its counts are rolled back together.
    EXPECT_ANY_THROW(sql(
        "INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)"
        " SELECT $1, z.id, 200 + g, 'S', 50 + g, g, 9 FROM catalog.zones z, generate_series(0, 2) g"
        " WHERE z.schedule_id = $1 AND z.name = 'S' UNION ALL"
        " SELECT $1, z.id, 0, 'S', 99, 0, 9 FROM catalog.zones z WHERE z.schedule_id = $1 AND z.name = 'S'",
        db::params(schedule)));  // seat_index 0 is VIP's: a unique violation
    EXPECT_EQ(counts(schedule).first, "R=3,S=4,VIP=7");
    // TRUNCATE, in a transaction rolled back (the test database is shared): every zone counts 0 inside it.
    const auto truncated = run([&]() -> asio::awaitable<std::string> {
        db::Session session = co_await db_.session();
        co_await session.execute("BEGIN");
        co_await session.execute("SET LOCAL lock_timeout = '5s'");
        co_await session.execute("TRUNCATE catalog.seats");
        const db::Result r = co_await session.query(
            "SELECT string_agg(name || '=' || seats, ',' ORDER BY name) FROM catalog.zone_seat_counts($1)",
            db::params(schedule));
        co_await session.execute("ROLLBACK");
        co_return r.get<std::string>(0, 0);
    }());
    EXPECT_EQ(truncated, "R=0,S=0,VIP=0");
    std::tie(door, counted) = counts(schedule);
    EXPECT_EQ(door, "R=3,S=4,VIP=7");
    EXPECT_EQ(door, counted);
}

// Issue 15: the sold-out check counted every seat of the schedule on each call (146 buffers and a sort of
// 10,000 rows for a 10,000-seat venue, 2026-12-08). Now it reads one row per zone: a schedule of 6,000 seats
// costs what one of 8 seats costs.
TEST_F(ZoneSeatCountsDbTest, ReadsNoMoreBuffersForMoreSeats) {
    const std::int64_t small = schedule_with_layout(1, 1, 4);
    const std::int64_t big = schedule_with_layout(20, 40, 100);
    EXPECT_EQ(counts(big).first, "R=4000,VIP=2000");
    const auto measured = run([&]() -> asio::awaitable<std::pair<std::int64_t, std::int64_t>> {
        db::Session session = co_await db_.session();
        const std::int64_t few = co_await door_buffers(session, small);
        const std::int64_t many = co_await door_buffers(session, big);
        co_return std::pair{few, many};
    }());
    // catalog/0005's body read 5 buffers for 8 seats and 90 for 6,000 (an index scan of every seat,
    // 2026-12-08).
    EXPECT_LE(measured.second, measured.first + 2)
        << "buffers for 8 seats " << measured.first << ", for 6,000 " << measured.second;
    EXPECT_LT(measured.second, 10);
}

}  // namespace
}  // namespace marquee::catalog::testing
