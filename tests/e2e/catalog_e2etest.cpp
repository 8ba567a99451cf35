// End to end against the real binary: the catalog's public reads (concerts, schedules with availability,
// seats, the seat map with ETag/304 and the availability bitset), with data written straight into
// PostgreSQL (the admin endpoints are covered by src/services/catalog/routes_dbtest.cpp) and a seat
// marked sold through the same Redis script booking's events will drive.
#include <chrono>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "db/pool.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"
#include "redis/client.hpp"
#include "services/catalog/availability.hpp"
#include "services/catalog/base64.hpp"

namespace marquee::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task) {
    auto future = asio::co_spawn(io, std::move(task), asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

json::value json_of(const HttpReply& reply) {
    return json::parse(reply.body);
}

/// A concert with two schedules: one laid out (VIP 2 rows × 5 at 150,000, R 3 rows × 5 at 90,000), one not.
struct Fixture {
    std::int64_t older_concert = 0;
    std::int64_t concert = 0;
    std::int64_t second_concert = 0;
    std::int64_t schedule = 0;
    std::int64_t empty_schedule = 0;
};

class CatalogEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        process_ = new MarqueeProcess();  // applies the migrations
        asio::io_context io;
        db::Pool db(io.get_executor(), db::PoolOptions{database_url(), 1, 10s, "catalog-e2e"});
        const std::string title = unique_name("e2e concert");
        const db::Result concerts = run(
            io, db.query("INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1 || ' 0', 'O', 'V'),"
                         " ($1, 'A', 'V'), ($1 || ' 2', 'B', 'W') RETURNING id",
                         db::params(title)));
        data_.older_concert = concerts.get<std::int64_t>(0, "id");
        data_.concert = concerts.get<std::int64_t>(1, "id");
        data_.second_concert = concerts.get<std::int64_t>(2, "id");
        const db::Result schedules = run(
            io,
            db.query(
                "INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, booking_closes_at)"
                " VALUES ($1, '2027-09-18 19:00Z', '2026-01-01Z', '2027-09-18 18:00Z'),"
                "        ($1, '2027-09-19 19:00Z', '2026-01-01Z', '2027-09-19 18:00Z') RETURNING id",
                db::params(data_.concert)));
        data_.schedule = schedules.get<std::int64_t>(0, "id");
        data_.empty_schedule = schedules.get<std::int64_t>(1, "id");
        run(io, db.query("INSERT INTO catalog.zones (schedule_id, name, price, color, sort_order) VALUES"
                         " ($1, 'VIP', 150000, '#aa0000', 0), ($1, 'R', 90000, '#0000aa', 1)",
                         db::params(data_.schedule)));
        run(io,
            db.query("INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)"
                     " SELECT $1, z.id, (r * 5 + n - 1), chr(65 + r), n, n, r + 1"
                     "   FROM generate_series(0, 4) r CROSS JOIN generate_series(1, 5) n"
                     "   JOIN catalog.zones z ON z.schedule_id = $1"
                     "    AND z.name = CASE WHEN r < 2 THEN 'VIP' ELSE 'R' END",
                     db::params(data_.schedule)));
        run(io, db.query("UPDATE catalog.schedules SET seat_count = 25 WHERE id = $1",
                         db::params(data_.schedule)));
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }
    static std::string schedule_path(std::int64_t id) { return "/api/v1/schedules/" + std::to_string(id); }

    static void expect_problem(const HttpReply& reply, unsigned status, const std::string& field = {}) {
        EXPECT_EQ(reply.status, status) << reply.body;
        EXPECT_EQ(reply.headers.at("content-type"), "application/problem+json");
        if (!field.empty()) {
            EXPECT_EQ(json_of(reply).at("field").as_string(), field) << reply.body;
        }
    }

    static MarqueeProcess* process_;
    static Fixture data_;
};
MarqueeProcess* CatalogEndToEnd::process_ = nullptr;
Fixture CatalogEndToEnd::data_;

TEST_F(CatalogEndToEnd, ConcertsArePagedWithAnOpaqueCursor) {
    const auto first = http_request(port(), "GET", "/api/v1/concerts?limit=1");
    ASSERT_EQ(first.status, 200) << first.body;
    const json::object page = json_of(first).as_object();
    ASSERT_EQ(page.at("items").as_array().size(), 1u);
    ASSERT_TRUE(page.at("nextCursor").is_string());
    // Our two concerts are adjacent ids: page from just above the second one.
    const std::string cursor = catalog::base64url_encode(std::to_string(data_.second_concert + 1));
    const auto ours = http_request(port(), "GET", "/api/v1/concerts?limit=2&cursor=" + cursor);
    ASSERT_EQ(ours.status, 200) << ours.body;
    const json::array items = json_of(ours).at("items").as_array();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].at("id").as_int64(), data_.second_concert);
    EXPECT_EQ(items[1].at("id").as_int64(), data_.concert);
    const std::string next(json_of(ours).at("nextCursor").as_string());
    const auto after = http_request(port(), "GET", "/api/v1/concerts?limit=100&cursor=" + next);
    ASSERT_EQ(after.status, 200);
    const json::value older = json_of(after);  // never range over a member of a temporary
    ASSERT_FALSE(older.at("items").as_array().empty());
    EXPECT_EQ(older.at("items").at(0).at("id").as_int64(), data_.older_concert);
    for (const auto& item : older.at("items").as_array()) EXPECT_LT(item.at("id").as_int64(), data_.concert);
}

TEST_F(CatalogEndToEnd, BadPagingParametersAre400NamingThem) {
    expect_problem(http_request(port(), "GET", "/api/v1/concerts?limit=0"), 400, "limit");
    expect_problem(http_request(port(), "GET", "/api/v1/concerts?limit=101"), 400, "limit");
    expect_problem(http_request(port(), "GET", "/api/v1/concerts?cursor=%21%21"), 400, "cursor");
    expect_problem(http_request(port(), "GET", schedule_path(data_.schedule) + "/seats?limit=x"), 400,
                   "limit");
    expect_problem(http_request(port(), "GET", schedule_path(data_.schedule) + "/seats?zone=GOLD"), 400,
                   "zone");
}

TEST_F(CatalogEndToEnd, OneConcertAndUnknownOrBadIds) {
    const auto reply = http_request(port(), "GET", "/api/v1/concerts/" + std::to_string(data_.concert));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(json_of(reply).at("artist").as_string(), "A");
    expect_problem(http_request(port(), "GET", "/api/v1/concerts/999999999999"), 404);
    expect_problem(http_request(port(), "GET", "/api/v1/concerts/abc"), 400, "id");
    expect_problem(http_request(port(), "GET", "/api/v1/concerts/0/schedules"), 400, "id");
    expect_problem(http_request(port(), "GET", "/api/v1/concerts/999999999999/schedules"), 404);
    expect_problem(http_request(port(), "GET", schedule_path(999999999999) + "/seat-map"), 404);
    expect_problem(http_request(port(), "GET", schedule_path(999999999999) + "/availability"), 404);
    expect_problem(http_request(port(), "GET", schedule_path(999999999999) + "/seats"), 404);
    expect_problem(http_request(port(), "GET", "/api/v1/schedules/-1/seat-map"), 400, "id");
}

TEST_F(CatalogEndToEnd, SchedulesCarryZonesPricesAndAvailableCounts) {
    const auto reply =
        http_request(port(), "GET", "/api/v1/concerts/" + std::to_string(data_.concert) + "/schedules");
    ASSERT_EQ(reply.status, 200) << reply.body;
    const json::array items = json_of(reply).at("items").as_array();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].at("id").as_int64(), data_.schedule);
    EXPECT_EQ(items[0].at("startsAt").as_string(), "2027-09-18T19:00:00.000Z");
    const json::array zones = items[0].at("zones").as_array();
    ASSERT_EQ(zones.size(), 2u);
    EXPECT_EQ(zones[0].at("name").as_string(), "VIP");
    EXPECT_EQ(zones[0].at("price").as_int64(), 150000);
    EXPECT_EQ(zones[0].at("seatCount").as_int64(), 10);
    EXPECT_EQ(zones[1].at("seatCount").as_int64(), 15);
    EXPECT_GE(zones[1].at("availableSeats").as_int64(), 14);  // one R seat may be sold by the test below
    EXPECT_EQ(items[1].at("seatCount").as_int64(), 0);
}

TEST_F(CatalogEndToEnd, SeatMapIsCacheableAndRevalidatesWith304) {
    const auto reply = http_request(port(), "GET", schedule_path(data_.schedule) + "/seat-map");
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.headers.at("cache-control"), "public, max-age=300");
    const std::string etag = reply.headers.at("etag");
    EXPECT_EQ(etag.front(), '"');
    const json::object map = json_of(reply).as_object();
    EXPECT_EQ(map.at("seatCount").as_int64(), 25);
    EXPECT_EQ(map.at("seats").as_array().at(24).at("index").as_int64(), 24);
    EXPECT_EQ(map.at("zones").as_array().at(0).at("color").as_string(), "#aa0000");

    const auto again = http_request(port(), "GET", schedule_path(data_.schedule) + "/seat-map", {},
                                    {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(again.headers.at("etag"), etag);

    const auto empty = http_request(port(), "GET", schedule_path(data_.empty_schedule) + "/seat-map");
    ASSERT_EQ(empty.status, 200);
    EXPECT_EQ(json_of(empty).at("seatCount").as_int64(), 0);
}

TEST_F(CatalogEndToEnd, ASoldSeatShowsInAvailabilityAndSeatsAtOnce) {
    const std::string path = schedule_path(data_.schedule);
    const auto before = http_request(port(), "GET", path + "/availability");
    ASSERT_EQ(before.status, 200) << before.body;
    EXPECT_EQ(before.headers.at("cache-control"), "no-cache");
    EXPECT_EQ(json_of(before).at("seatCount").as_int64(), 25);
    EXPECT_EQ(json_of(before).at("taken").as_string().size(), 8u);  // 4 bytes of bits in base64
    const std::string etag = before.headers.at("etag");
    EXPECT_EQ(http_request(port(), "GET", path + "/availability", {}, {{"If-None-Match", etag}}).status, 304);

    // Seat 10 (row C, the first R seat) sold, as booking's confirmed event will do it.
    asio::io_context io;
    redis::Client redis(io.get_executor(), redis::ClientOptions{redis_url(), 1, 2s});
    catalog::AvailabilityBitset bitset(redis);
    std::vector<std::int32_t> seats{10};
    run(io, bitset.mark(data_.schedule, seats, catalog::SeatState::Sold));
    // Written by another process (as another replica's consumer does): marquee serves availability from its
    // copy, so the stated bound applies: every read starting max_age (default 100 ms) after the write sees
    // it (docs/decisions/0014).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    const auto after = http_request(port(), "GET", path + "/availability", {}, {{"If-None-Match", etag}});
    ASSERT_EQ(after.status, 200);
    EXPECT_NE(after.headers.at("etag"), etag);
    EXPECT_EQ(json_of(after).at("taken").as_string(), "ACAAAA==");  // bit 10 = byte 1, 0x20

    const auto page = http_request(port(), "GET", path + "/seats?zone=R&limit=2");
    ASSERT_EQ(page.status, 200) << page.body;
    const json::array items = json_of(page).at("items").as_array();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].at("index").as_int64(), 10);
    EXPECT_EQ(items[0].at("status").as_string(), "SOLD");
    EXPECT_EQ(items[0].at("price").as_int64(), 90000);
    EXPECT_EQ(items[0].at("zone").as_string(), "R");
    EXPECT_EQ(items[1].at("status").as_string(), "AVAILABLE");
    const std::string next(json_of(page).at("nextCursor").as_string());
    const auto rest = http_request(port(), "GET", path + "/seats?zone=R&limit=100&cursor=" + next);
    ASSERT_EQ(rest.status, 200);
    EXPECT_EQ(json_of(rest).at("items").as_array().size(), 13u);
    EXPECT_TRUE(json_of(rest).at("nextCursor").is_null());

    const auto schedules =
        http_request(port(), "GET", "/api/v1/concerts/" + std::to_string(data_.concert) + "/schedules");
    EXPECT_EQ(json_of(schedules).at("items").at(0).at("zones").at(1).at("availableSeats").as_int64(), 14);
}

TEST_F(CatalogEndToEnd, CacheCountersAppearInMetrics) {
    (void)http_request(port(), "GET", "/api/v1/concerts/" + std::to_string(data_.concert));
    (void)http_request(port(), "GET", "/api/v1/concerts/" + std::to_string(data_.concert));
    const auto metrics = http_request(port(), "GET", "/metrics");
    EXPECT_NE(metrics.body.find(R"(cache_hits_total{cache="concert"})"), std::string::npos);
    EXPECT_NE(metrics.body.find(R"(cache_misses_total{cache="concert"})"), std::string::npos);
}

}  // namespace
}  // namespace marquee::test
