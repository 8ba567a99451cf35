// End to end: queue token → hold seats → read, list, release, through the real binary with a real JWT
// (docs/sequences/queue-hold-pay.md, the hold part). Seats are made with catalog's SQL.
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;

json::object json_of(const HttpReply& reply) {
    return json::parse(reply.body).as_object();
}

// The value of the first sample on /metrics whose line starts with `name{` and holds every one of `labels`.
double metric(std::uint16_t port, std::string_view name, const std::vector<std::string>& labels) {
    const auto metrics = http_request(port, "GET", "/metrics");
    std::size_t start = 0;
    while (start < metrics.body.size()) {
        auto end = metrics.body.find('\n', start);
        if (end == std::string::npos) end = metrics.body.size();
        const std::string_view line(metrics.body.data() + start, end - start);
        start = end + 1;
        if (line.rfind(std::string(name) + "{", 0) != 0) continue;
        const auto close = line.find('}');
        const auto set = line.substr(0, close);
        bool all = true;
        for (const auto& label : labels) all = all && set.find(label) != std::string_view::npos;
        if (all) return std::stod(std::string(line.substr(close + 2)));
    }
    return 0;
}

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

    static Seats make_seats(int count) { return test::make_seats(count); }

    static std::map<std::string, std::string> admitted(std::map<std::string, std::string> fan,
                                                       std::int64_t schedule) {
        return test::admitted(port(), std::move(fan), schedule);
    }

    static HttpReply post_hold(const std::string& body, std::map<std::string, std::string> headers = {}) {
        return test::post_hold(port(), body, std::move(headers));
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

// ADR 0042: a hold refused from memory with a pass checked a moment ago is answered by the route, returned
// rather than thrown. The 409 is the same problem, with the same headers, and counted as before. The first
// refusal below is thrown after the queue check (from memory, or by the lock or the database should the
// memory's 1 s have passed), the second returned by the route (or thrown, likewise): both must look the same.
TEST_F(BookingEndToEnd, AHoldRefusedFromMemoryIsTheSame409WithItsHeadersAndCounted) {
    const auto seats = make_seats(2);
    const auto fan = admitted(new_fan(port(), "booking-fan"), seats.schedule);
    const auto other = admitted(new_fan(port(), "booking-fan"), seats.schedule);
    const auto refused_holds = [&] {
        double sum = 0;
        for (const char* outcome : {"seat-taken-memory", "seat-taken-lock", "seat-taken-db"}) {
            sum += metric(port(), "booking_holds_total", {std::string("outcome=\"") + outcome + '"'});
        }
        return sum;
    };
    const std::vector<std::string> answered{R"(method="POST")", R"(route="/api/v1/reservations")",
                                            R"(status="409")"};
    ASSERT_EQ(post_hold(hold_body(seats.schedule, {seats.ids[0]}), fan).status, 201);
    const double refused_before = refused_holds();
    const double answered_before = metric(port(), "http_requests_total", answered);

    const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    std::vector<HttpReply> refusals;
    for (const char* request_id : {"hot-seat-thrown", "hot-seat-returned"}) {
        auto headers = other;
        headers["X-Request-Id"] = request_id;
        headers["traceparent"] = "00-" + trace_id + "-00f067aa0ba902b7-01";
        refusals.push_back(post_hold(hold_body(seats.schedule, {seats.ids[1], seats.ids[0]}), headers));
        const auto& refused = refusals.back();
        ASSERT_EQ(refused.status, 409) << refused.body;
        EXPECT_EQ(refused.headers.at("content-type"), "application/problem+json");
        EXPECT_EQ(refused.headers.at("x-request-id"), request_id);
        const auto& traceparent = refused.headers.at("traceparent");
        EXPECT_EQ(traceparent.substr(0, 36), "00-" + trace_id + "-");  // the caller's trace, a span of ours
        EXPECT_NE(traceparent.substr(36, 16), "00f067aa0ba902b7");
        const auto problem = json_of(refused);
        EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/seat-taken");
        EXPECT_EQ(problem.at("title").as_string(), "Conflict");
        EXPECT_EQ(problem.at("status").as_int64(), 409);
        EXPECT_EQ(problem.at("detail").as_string(), "a requested seat is already held or sold");
        EXPECT_EQ(problem.at("instance").as_string(), "/api/v1/reservations");
        json::array taken;  // the taken one only
        taken.emplace_back(seats.ids[0]);
        EXPECT_EQ(problem.at("seats").as_array(), taken);
    }
    EXPECT_EQ(refusals[0].body, refusals[1].body);
    EXPECT_EQ(refused_holds(), refused_before + 2);
    EXPECT_EQ(metric(port(), "http_requests_total", answered), answered_before + 2);

    // The free seat alone is still held: memory only refuses.
    EXPECT_EQ(post_hold(hold_body(seats.schedule, {seats.ids[1]}), other).status, 201);
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

// The per-fan ticket limit (ADR 0025): one fan's second hold of 4 seats on a schedule is 409
// ticket-limit-reached with `limit` and `taken`; releasing the first gives the places back.
TEST_F(BookingEndToEnd, ASecondHoldPastTheTicketLimitIs409WithLimitAndTaken) {
    const auto seats = make_seats(8);
    const auto fan = admitted(new_fan(port(), "limit-fan"), seats.schedule);
    const auto first =
        post_hold(hold_body(seats.schedule, {seats.ids[0], seats.ids[1], seats.ids[2], seats.ids[3]}), fan);
    ASSERT_EQ(first.status, 201) << first.body;
    const auto second =
        post_hold(hold_body(seats.schedule, {seats.ids[4], seats.ids[5], seats.ids[6], seats.ids[7]}), fan);
    ASSERT_EQ(second.status, 409) << second.body;
    EXPECT_EQ(second.headers.at("content-type"), "application/problem+json");
    const auto problem = json_of(second);
    EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/ticket-limit-reached");
    EXPECT_EQ(problem.at("status").as_int64(), 409);
    EXPECT_EQ(problem.at("limit").as_int64(), 4);
    EXPECT_EQ(problem.at("taken").as_int64(), 4);
    const std::string id(json_of(first).at("id").as_string());
    ASSERT_EQ(http_request(port(), "DELETE", "/api/v1/reservations/" + id, {}, fan).status, 204);
    EXPECT_EQ(
        post_hold(hold_body(seats.schedule, {seats.ids[4], seats.ids[5], seats.ids[6], seats.ids[7]}), fan)
            .status,
        201);
}

// Best available (ADR 0025): {scheduleId, zoneId, count} answers 201 with the seats the server chose, side by
// side; 409 no-seats-available when the zone has fewer free; 400 for both seatIds and zoneId, or a bad count.
TEST_F(BookingEndToEnd, BestAvailableHoldsSeatsTheServerChoosesOr409WhenTheZoneIsFull) {
    const auto seats = make_seats(5);
    const auto zone = sql("SELECT zone_id FROM catalog.seats WHERE id = $1", db::params(seats.ids[0]))
                          .get<std::int64_t>(0, 0);
    const auto best_body = [&](int count) {
        return R"({"scheduleId":)" + std::to_string(seats.schedule) + R"(,"zoneId":)" + std::to_string(zone) +
               R"(,"count":)" + std::to_string(count) + "}";
    };
    const auto fan = admitted(new_fan(port(), "best-fan"), seats.schedule);
    const auto held = post_hold(best_body(3), fan);
    ASSERT_EQ(held.status, 201) << held.body;
    const auto body = json_of(held);
    EXPECT_EQ(body.at("state").as_string(), "HELD");
    EXPECT_EQ(body.at("totalPrice").as_int64(), 3 * 90000);
    ASSERT_EQ(body.at("seats").as_array().size(), 3U);
    // Five seats in one row: the middle three.
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(body.at("seats").as_array().at(i).as_object().at("seatId").as_int64(), seats.ids[i + 1]);
        EXPECT_EQ(body.at("seats").as_array().at(i).as_object().at("zoneId").as_int64(), zone);
    }
    const std::string id(body.at("id").as_string());
    EXPECT_EQ(held.headers.at("location"), "/api/v1/reservations/" + id);

    const auto other = admitted(new_fan(port(), "best-fan"), seats.schedule);
    const auto full = post_hold(best_body(3), other);
    ASSERT_EQ(full.status, 409) << full.body;
    EXPECT_EQ(json_of(full).at("type").as_string(), "https://marquee.dev/problems/no-seats-available");
    EXPECT_EQ(post_hold(best_body(2), other).status, 201);

    const auto both = post_hold(R"({"scheduleId":)" + std::to_string(seats.schedule) + R"(,"zoneId":)" +
                                    std::to_string(zone) + R"(,"count":1,"seatIds":[)" +
                                    std::to_string(seats.ids[0]) + "]}",
                                other);
    EXPECT_EQ(both.status, 400);
    EXPECT_EQ(json_of(both).at("field").as_string(), "zoneId");
    const auto bad = post_hold(best_body(5), other);
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(json_of(bad).at("field").as_string(), "count");
}

// Idempotent holds (ADR 0032): a hold sent again with its Idempotency-Key answers 201 with the same
// reservation and `replayed`, the same seats, never a second hold or the fan's own seats called taken; the
// key with another body is 422; a malformed key is 400. Best available replays the seats it chose.
TEST_F(BookingEndToEnd, AHoldRetriedWithItsIdempotencyKeyAnswersTheSameReservation) {
    const auto seats = make_seats(6);
    auto fan = admitted(new_fan(port(), "idem-fan"), seats.schedule);
    fan["Idempotency-Key"] = "hold-retry-1";
    const auto body = hold_body(seats.schedule, {seats.ids[0], seats.ids[1]});
    const auto first = post_hold(body, fan);
    ASSERT_EQ(first.status, 201) << first.body;
    EXPECT_FALSE(json_of(first).contains("replayed"));
    const std::string id(json_of(first).at("id").as_string());
    const auto again = post_hold(body, fan);
    ASSERT_EQ(again.status, 201) << again.body;
    const auto replay = json_of(again);
    EXPECT_EQ(replay.at("id").as_string(), id);
    EXPECT_TRUE(replay.at("replayed").as_bool());
    EXPECT_EQ(replay.at("state").as_string(), "HELD");
    EXPECT_EQ(replay.at("seats"), json_of(first).at("seats"));
    EXPECT_EQ(again.headers.at("location"), "/api/v1/reservations/" + id);
    const auto list = http_request(port(), "GET", "/api/v1/reservations", {}, fan);
    EXPECT_EQ(json_of(list).at("items").as_array().size(), 1U);

    const auto reused = post_hold(hold_body(seats.schedule, {seats.ids[2]}), fan);
    ASSERT_EQ(reused.status, 422) << reused.body;
    EXPECT_EQ(reused.headers.at("content-type"), "application/problem+json");
    EXPECT_EQ(json_of(reused).at("type").as_string(), "https://marquee.dev/problems/idempotency-key-reused");
    auto bad = fan;
    bad["Idempotency-Key"] = std::string(256, 'k');
    const auto malformed = post_hold(hold_body(seats.schedule, {seats.ids[2]}), bad);
    EXPECT_EQ(malformed.status, 400) << malformed.body;
    EXPECT_EQ(json_of(malformed).at("field").as_string(), "Idempotency-Key");

    const auto zone = sql("SELECT zone_id FROM catalog.seats WHERE id = $1", db::params(seats.ids[0]))
                          .get<std::int64_t>(0, 0);
    fan["Idempotency-Key"] = "hold-retry-2";
    const auto best = R"({"scheduleId":)" + std::to_string(seats.schedule) + R"(,"zoneId":)" +
                      std::to_string(zone) + R"(,"count":2})";
    const auto chosen = post_hold(best, fan);
    ASSERT_EQ(chosen.status, 201) << chosen.body;
    const auto rechosen = post_hold(best, fan);
    ASSERT_EQ(rechosen.status, 201) << rechosen.body;
    EXPECT_EQ(json_of(rechosen).at("id"), json_of(chosen).at("id"));
    EXPECT_EQ(json_of(rechosen).at("seats"), json_of(chosen).at("seats"));
    EXPECT_TRUE(json_of(rechosen).at("replayed").as_bool());
}

}  // namespace
}  // namespace marquee::test
