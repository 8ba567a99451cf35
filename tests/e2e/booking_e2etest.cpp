// End to end: queue token → hold seats → read, list, release, through the real binary with a real JWT
// (docs/sequences/queue-hold-pay.md, the hold part). Seats are made with catalog's SQL.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "db/pool.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

json::object json_of(const HttpReply& reply) {
    return json::parse(reply.body).as_object();
}

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task) {
    auto future = asio::co_spawn(io, std::move(task), asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

struct Seats {
    std::int64_t schedule = 0;
    std::vector<std::int64_t> ids;  ///< by seat index, 90,000 each
};

class BookingEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        process_ =
            new MarqueeProcess({"--service=auth,queue,booking"}, {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
                                                                  {"MARQUEE_QUEUE_ADMIT_PER_SECOND", "1000"},
                                                                  {"MARQUEE_QUEUE_TICK_MS", "50"}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    static Seats make_seats(int count) {
        asio::io_context io;
        db::Pool db(io.get_executor(), db::PoolOptions{database_url(), 1, 10s, "booking-e2e"});
        const auto r = run(
            io,
            db.query(
                "WITH c AS (INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1, 'A', 'V') "
                "RETURNING id), s AS (INSERT INTO catalog.schedules (concert_id, starts_at, "
                "booking_opens_at, booking_closes_at, seat_count) SELECT id, now() + interval '30 days', "
                "now() - interval '1 day', now() + interval '29 days', $2 FROM c RETURNING id), "
                "z AS (INSERT INTO catalog.zones (schedule_id, name, price, color) SELECT id, 'R', 90000, "
                "'#0000aa' FROM s RETURNING id, schedule_id) INSERT INTO catalog.seats (schedule_id, "
                "zone_id, seat_index, row_label, number, x, y) SELECT z.schedule_id, z.id, g, 'A', g + 1, "
                "g, 0 FROM z, generate_series(0, $2 - 1) g RETURNING schedule_id, id, seat_index",
                db::params(unique_name("booking e2e"), count)));
        Seats out;
        out.ids.resize(static_cast<std::size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) {
            out.schedule = r.get<std::int64_t>(i, "schedule_id");
            out.ids[static_cast<std::size_t>(r.get<std::int64_t>(i, "seat_index"))] =
                r.get<std::int64_t>(i, "id");
        }
        return out;
    }

    /// Joins the schedule's waiting room and follows the event stream until admitted; returns the headers
    /// to send with a hold (the fan's JWT and X-Queue-Token).
    static std::map<std::string, std::string> admitted(std::map<std::string, std::string> fan,
                                                       std::int64_t schedule) {
        const auto id = std::to_string(schedule);
        const auto joined = http_request(port(), "POST", "/api/v1/schedules/" + id + "/queue", {}, fan);
        EXPECT_EQ(joined.status, 201) << joined.body;
        const std::string token(json_of(joined).at("token").as_string());
        const auto events = http_request(port(), "GET", "/api/v1/queue/me/events?scheduleId=" + id, {}, fan);
        EXPECT_NE(events.body.find("event: admitted"), std::string::npos) << events.body;
        fan["X-Queue-Token"] = token;
        return fan;
    }

    static std::string hold_body(std::int64_t schedule, const std::vector<std::int64_t>& seats) {
        json::array ids;
        for (auto s : seats) ids.push_back(s);
        return json::serialize(json::object{{"scheduleId", schedule}, {"seatIds", ids}});
    }

    static HttpReply post_hold(const std::string& body, std::map<std::string, std::string> headers = {}) {
        headers["Content-Type"] = "application/json";
        return http_request(port(), "POST", "/api/v1/reservations", body, headers);
    }

    static MarqueeProcess* process_;
};
MarqueeProcess* BookingEndToEnd::process_ = nullptr;

TEST_F(BookingEndToEnd, HoldReadListAndReleaseSeats) {
    const auto seats = make_seats(3);
    const auto fan = admitted(new_fan(port(), "booking-fan"), seats.schedule);
    const auto held = post_hold(hold_body(seats.schedule, {seats.ids[0], seats.ids[1]}), fan);
    ASSERT_EQ(held.status, 201) << held.body;
    const auto body = json_of(held);
    EXPECT_EQ(body.at("state").as_string(), "HELD");
    EXPECT_EQ(body.at("totalPrice").as_int64(), 180000);
    EXPECT_EQ(body.at("seats").as_array().size(), 2U);
    EXPECT_TRUE(body.contains("expiresAt"));
    const std::string id(body.at("id").as_string());
    EXPECT_EQ(held.headers.at("location"), "/api/v1/reservations/" + id);

    const auto read = http_request(port(), "GET", "/api/v1/reservations/" + id, {}, fan);
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_EQ(json_of(read).at("state").as_string(), "HELD");
    const auto list = http_request(port(), "GET", "/api/v1/reservations", {}, fan);
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(json_of(list).at("items").as_array().size(), 1U);

    // Another admitted fan: the held seat is refused, naming it; the reservation is invisible to them.
    const auto other = admitted(new_fan(port(), "booking-fan"), seats.schedule);
    const auto taken = post_hold(hold_body(seats.schedule, {seats.ids[1], seats.ids[2]}), other);
    ASSERT_EQ(taken.status, 409) << taken.body;
    EXPECT_EQ(json_of(taken).at("type").as_string(), "https://marquee.dev/problems/seat-taken");
    EXPECT_EQ(json_of(taken).at("seats").as_array().at(0).as_int64(), seats.ids[1]);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/reservations/" + id, {}, other).status, 404);
    EXPECT_EQ(http_request(port(), "DELETE", "/api/v1/reservations/" + id, {}, other).status, 404);

    EXPECT_EQ(http_request(port(), "DELETE", "/api/v1/reservations/" + id, {}, fan).status, 204);
    EXPECT_EQ(
        json_of(http_request(port(), "GET", "/api/v1/reservations/" + id, {}, fan)).at("state").as_string(),
        "CANCELLED");
    const auto after = post_hold(hold_body(seats.schedule, {seats.ids[1], seats.ids[2]}), other);
    EXPECT_EQ(after.status, 201) << after.body;
}

TEST_F(BookingEndToEnd, HoldNeedsAJwtAnActiveQueueTokenAndValidSeats) {
    const auto seats = make_seats(1);
    const auto body = hold_body(seats.schedule, {seats.ids[0]});
    EXPECT_EQ(post_hold(body).status, 401);
    const auto fan = new_fan(port(), "booking-fan");
    const auto no_token = post_hold(body, fan);
    EXPECT_EQ(no_token.status, 403) << no_token.body;
    auto forged = fan;
    forged["X-Queue-Token"] = "00000000-0000-4000-8000-000000000000";
    EXPECT_EQ(post_hold(body, forged).status, 403);

    const auto ready = admitted(fan, seats.schedule);
    const auto empty = post_hold(hold_body(seats.schedule, {}), ready);
    EXPECT_EQ(empty.status, 400);
    EXPECT_EQ(json_of(empty).at("field").as_string(), "seatIds");
    const auto unknown = post_hold(hold_body(seats.schedule, {seats.ids[0] + 999999}), ready);
    EXPECT_EQ(unknown.status, 404) << unknown.body;
    EXPECT_EQ(post_hold(body, ready).status, 201);
}

}  // namespace
}  // namespace marquee::test
