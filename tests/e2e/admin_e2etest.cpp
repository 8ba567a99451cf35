// End to end: the operator's controls and figures of a schedule (issue 17, ADR 0027) through the real binary:
// each admin operation's 200/403/400/404, pause keeping fans WAITING, sales closed refusing joins and holds,
// a hold extension moving expires_at, and the figures after a small scripted sale.
#include <chrono>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Headers = std::map<std::string, std::string>;

/// An RFC 3339 answer as epoch seconds (PostgreSQL parses it).
double time_of(const json::value& text) {
    return sql("SELECT extract(epoch FROM $1::timestamptz)::float8 AS s",
               db::params(std::string(text.as_string())))
        .get<double>(0, "s");
}

class AdminEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        process_ = new MarqueeProcess(
            {}, {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
                 {"MARQUEE_QUEUE_ADMIT_PER_SECOND", "1000"},
                 {"MARQUEE_QUEUE_TICK_MS", "50"},
                 // Only this process admits this suite's schedules: another test's
                 // process would apply a pause only at its next poll (ADR 0027).
                 {"MARQUEE_QUEUE_SCHEDULES_KEY", "queue:schedules:" + unique_name("admin-e2e")}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    static std::string path(std::int64_t schedule, const std::string& what) {
        return "/api/v1/admin/schedules/" + std::to_string(schedule) + "/" + what;
    }

    static HttpReply patch(const Headers& who, std::int64_t schedule, const std::string& body) {
        return http_request(port(), "PATCH", path(schedule, "controls"), body, who);
    }

    static HttpReply join(const Headers& fan, std::int64_t schedule) {
        return http_request(port(), "POST", "/api/v1/schedules/" + std::to_string(schedule) + "/queue", {},
                            fan);
    }

    static MarqueeProcess* process_;
};
MarqueeProcess* AdminEndToEnd::process_ = nullptr;

TEST_F(AdminEndToEnd, EachOperationAnswers200ToAnAdmin403ToAFan400And404) {
    const auto seats = make_seats(2);
    const auto admin = new_admin(port(), "admin-e2e");
    auto fan = new_fan(port());
    fan["Content-Type"] = "application/json";
    constexpr std::int64_t kUnknown = 9'000'000'000'000;

    const auto controls = http_request(port(), "GET", path(seats.schedule, "controls"), {}, admin);
    ASSERT_EQ(controls.status, 200u) << controls.body;
    EXPECT_EQ(json::serialize(controls.json()),
              R"({"paused":false,"admitsPerMinute":null,"maxActive":null,"queueEveryone":false,)"
              R"("salesClosed":false,"holdExtensionSeconds":0,"powDifficulty":null})");
    EXPECT_EQ(http_request(port(), "GET", path(seats.schedule, "controls"), {}, fan).status, 403u);
    EXPECT_EQ(http_request(port(), "GET", path(seats.schedule, "controls")).status, 401u);
    EXPECT_EQ(http_request(port(), "GET", path(kUnknown, "controls"), {}, admin).status, 404u);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/admin/schedules/x/controls", {}, admin).status, 400u);

    const auto changed = patch(admin, seats.schedule, R"({"admitsPerMinute": 600, "powDifficulty": 12})");
    ASSERT_EQ(changed.status, 200u) << changed.body;
    EXPECT_EQ(changed.json().at("admitsPerMinute").as_int64(), 600);
    EXPECT_EQ(changed.json().at("powDifficulty").as_int64(), 12);
    const auto forbidden = patch(fan, seats.schedule, R"({"paused": true})");
    EXPECT_EQ(forbidden.status, 403u);
    const auto bad = patch(admin, seats.schedule, R"({"maxActive": 0})");
    EXPECT_EQ(bad.status, 400u) << bad.body;
    EXPECT_EQ(bad.json().at("field").as_string(), "maxActive");
    EXPECT_EQ(patch(admin, seats.schedule, R"({"nonsense": true})").status, 400u);
    EXPECT_EQ(patch(admin, kUnknown, R"({"paused": true})").status, 404u);
    const auto back = patch(admin, seats.schedule, R"({"admitsPerMinute": null, "powDifficulty": null})");
    ASSERT_EQ(back.status, 200u) << back.body;
    EXPECT_TRUE(back.json().at("admitsPerMinute").is_null());

    const auto audit = http_request(port(), "GET", path(seats.schedule, "audit"), {}, admin);
    ASSERT_EQ(audit.status, 200u) << audit.body;
    const json::object audit_doc = audit.json();
    const auto& items = audit_doc.at("items").as_array();
    ASSERT_EQ(items.size(), 4u) << audit.body;
    EXPECT_EQ(items.at(0).at("field").as_string(), "powDifficulty");
    EXPECT_EQ(items.at(0).at("before").as_int64(), 12);
    EXPECT_TRUE(items.at(0).at("after").is_null());
    EXPECT_EQ(items.at(0).at("actor").as_string(), user_id_of(port(), admin));
    EXPECT_EQ(http_request(port(), "GET", path(seats.schedule, "audit?limit=1"), {}, admin)
                  .json()
                  .at("items")
                  .as_array()
                  .size(),
              1u);
    EXPECT_EQ(http_request(port(), "GET", path(seats.schedule, "audit"), {}, fan).status, 403u);
    EXPECT_EQ(http_request(port(), "GET", path(seats.schedule, "audit?limit=0"), {}, admin).status, 400u);
    EXPECT_EQ(http_request(port(), "GET", path(kUnknown, "audit"), {}, admin).status, 404u);

    const auto stats = http_request(port(), "GET", path(seats.schedule, "stats"), {}, admin);
    ASSERT_EQ(stats.status, 200u) << stats.body;
    EXPECT_EQ(stats.json().at("waiting").as_int64(), 0);
    EXPECT_EQ(stats.json().at("seatsLeftByZone").as_array().at(0).at("left").as_int64(), 2);
    EXPECT_EQ(http_request(port(), "GET", path(seats.schedule, "stats"), {}, fan).status, 403u);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/admin/schedules/0/stats", {}, admin).status, 400u);
    EXPECT_EQ(http_request(port(), "GET", path(kUnknown, "stats"), {}, admin).status, 404u);
}

TEST_F(AdminEndToEnd, PausedAdmissionKeepsFansWaitingUntilResumed) {
    const auto seats = make_seats(1);
    const auto admin = new_admin(port(), "admin-e2e");
    ASSERT_EQ(patch(admin, seats.schedule, R"({"paused": true})").status, 200u);
    const auto fan = new_fan(port());
    const auto joined = join(fan, seats.schedule);
    ASSERT_EQ(joined.status, 201u) << joined.body;
    EXPECT_EQ(joined.json().at("state").as_string(), "WAITING");
    // ADR 0033: the answer says the room is paused and gives no estimate, which would count down for nothing.
    EXPECT_TRUE(joined.json().at("paused").as_bool()) << joined.body;
    EXPECT_FALSE(joined.json().contains("etaSeconds")) << joined.body;
    EXPECT_GE(joined.json().at("pollAfterMs").as_int64(), 5000) << joined.body;
    // Twenty admission ticks (50 ms each) later the fan still waits.
    std::this_thread::sleep_for(1s);
    const auto me =
        http_request(port(), "GET", "/api/v1/queue/me?scheduleId=" + std::to_string(seats.schedule), {}, fan);
    ASSERT_EQ(me.status, 200u) << me.body;
    EXPECT_EQ(me.json().at("state").as_string(), "WAITING");
    EXPECT_EQ(me.json().at("position").as_int64(), 1);
    EXPECT_TRUE(me.json().at("paused").as_bool()) << me.body;
    EXPECT_FALSE(me.json().contains("etaSeconds")) << me.body;

    ASSERT_EQ(patch(admin, seats.schedule, R"({"paused": false})").status, 200u);
    const auto ready = admitted(port(), fan, seats.schedule);  // follows the event stream to `admitted`
    EXPECT_EQ(ready.count("X-Queue-Token"), 1u);
}

TEST_F(AdminEndToEnd, ClosedSalesRefuseJoinsAndHoldsWith403) {
    const auto seats = make_seats(2);
    const auto admin = new_admin(port(), "admin-e2e");
    const auto inside = admitted(port(), new_fan(port()), seats.schedule);
    ASSERT_EQ(patch(admin, seats.schedule, R"({"salesClosed": true})").status, 200u);

    const auto late = join(new_fan(port()), seats.schedule);
    EXPECT_EQ(late.status, 403u) << late.body;
    EXPECT_EQ(problem_type(late), "sales-closed");
    const auto held = post_hold(port(), hold_body(seats.schedule, {seats.ids[0]}), inside);
    EXPECT_EQ(held.status, 403u) << held.body;
    EXPECT_EQ(problem_type(held), "sales-closed");

    ASSERT_EQ(patch(admin, seats.schedule, R"({"salesClosed": false})").status, 200u);
    EXPECT_EQ(post_hold(port(), hold_body(seats.schedule, {seats.ids[0]}), inside).status, 201u);
}

TEST_F(AdminEndToEnd, TheOperatorsProofOfWorkDifficultyIsWhatTheDoorAsks) {
    const auto seats = make_seats(1);
    const auto admin = new_admin(port(), "admin-e2e");
    const auto fan = new_fan(port());
    const std::string challenge = "/api/v1/schedules/" + std::to_string(seats.schedule) + "/queue/challenge";
    const auto difficulty = [&] {
        const auto reply = http_request(port(), "POST", challenge, {}, fan);
        EXPECT_EQ(reply.status, 200u) << reply.body;
        return reply.status == 200u ? reply.json().at("difficulty").as_int64() : -1;
    };
    EXPECT_EQ(difficulty(), 0);  // this process's default: off

    // The operator's difficulty (ADR 0027) is what the door asks (ADR 0026), on every replica at its next
    // poll.
    ASSERT_EQ(patch(admin, seats.schedule, R"({"powDifficulty": 8})").status, 200u);
    EXPECT_TRUE(eventually([&] { return difficulty() == 8; }));
    const auto refused = join(fan, seats.schedule);
    EXPECT_EQ(refused.status, 403u) << refused.body;
    EXPECT_EQ(problem_type(refused), "pow-required");

    ASSERT_EQ(patch(admin, seats.schedule, R"({"powDifficulty": null})").status, 200u);
    EXPECT_TRUE(eventually([&] { return difficulty() == 0; }));
    EXPECT_EQ(join(fan, seats.schedule).status, 201u);
}

TEST_F(AdminEndToEnd, AHoldExtensionMovesLiveHoldsAndLengthensNewOnes) {
    const auto seats = make_seats(2);
    const auto admin = new_admin(port(), "admin-e2e");
    const auto fan = admitted(port(), new_fan(port()), seats.schedule);
    const auto first = post_hold(port(), hold_body(seats.schedule, {seats.ids[0]}), fan);
    ASSERT_EQ(first.status, 201u) << first.body;
    const std::string id(first.json().at("id").as_string());
    const auto before = time_of(first.json().at("expiresAt"));
    const auto created = time_of(first.json().at("createdAt"));

    ASSERT_EQ(patch(admin, seats.schedule, R"({"holdExtensionSeconds": 600})").status, 200u);
    const auto read = http_request(port(), "GET", "/api/v1/reservations/" + id, {}, fan);
    ASSERT_EQ(read.status, 200u) << read.body;
    EXPECT_NEAR(time_of(read.json().at("expiresAt")) - before, 600, 0.01);

    const auto second = post_hold(port(), hold_body(seats.schedule, {seats.ids[1]}), fan);
    ASSERT_EQ(second.status, 201u) << second.body;
    const auto ttl = time_of(second.json().at("expiresAt")) - time_of(second.json().at("createdAt"));
    EXPECT_NEAR(ttl, before - created + 600, 0.01) << "a new hold gets the configured TTL plus the extension";
}

TEST_F(AdminEndToEnd, AnotherReplicaAppliesAChangeAtItsNextPoll) {
    // A second process on the same PostgreSQL and Redis, as another replica (booking and queue only).
    MarqueeProcess replica(
        {"--service=auth,queue,booking"},
        {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
         {"MARQUEE_QUEUE_SCHEDULES_KEY", "queue:schedules:" + unique_name("admin-replica")}});
    const auto seats = make_seats(1);
    const auto admin = new_admin(port(), "admin-e2e");
    const auto fan = new_fan(replica.port());
    ASSERT_EQ(patch(admin, seats.schedule, R"({"salesClosed": true})").status, 200u);
    HttpReply refused;
    EXPECT_TRUE(eventually([&] {
        refused = http_request(replica.port(), "POST",
                               "/api/v1/schedules/" + std::to_string(seats.schedule) + "/queue", {}, fan);
        return refused.status == 403u;
    })) << refused.status
        << " " << refused.body;
    EXPECT_EQ(problem_type(refused), "sales-closed");
    ASSERT_EQ(patch(admin, seats.schedule, R"({"salesClosed": false})").status, 200u);
    EXPECT_TRUE(eventually([&] {
        const auto joined =
            http_request(replica.port(), "POST",
                         "/api/v1/schedules/" + std::to_string(seats.schedule) + "/queue", {}, fan);
        // 200: a join the replica took before its poll saw the close (the fan's token, unchanged).
        return joined.status == 201u || joined.status == 200u;
    })) << "reopened on the replica too";
}

TEST_F(AdminEndToEnd, TheFiguresFollowASmallSale) {
    const auto seats = make_seats(3, 10'000);
    const auto admin = new_admin(port(), "admin-e2e");
    // Fan A buys one seat with points; fan B holds one and lets it expire; fan C waits behind a pause.
    const auto a = admitted(port(), new_fan(port()), seats.schedule);
    const auto b = admitted(port(), new_fan(port()), seats.schedule);
    const auto charged = top_up(port(), a, 10'000);
    ASSERT_EQ(charged.status, 201u) << charged.body;
    const auto held = post_hold(port(), hold_body(seats.schedule, {seats.ids[0]}), a);
    ASSERT_EQ(held.status, 201u) << held.body;
    Headers pay = a;
    pay["Content-Type"] = "application/json";
    pay["Idempotency-Key"] = unique_name("pay");
    const auto paid = http_request(
        port(), "POST", "/api/v1/payments",
        json::serialize(json::object{{"reservationId", held.json().at("id")}, {"method", "POINTS"}}), pay);
    ASSERT_EQ(paid.status, 201u) << paid.body;
    const auto lapsed = post_hold(port(), hold_body(seats.schedule, {seats.ids[1]}), b);
    ASSERT_EQ(lapsed.status, 201u) << lapsed.body;
    sql("UPDATE booking.reservations SET created_at = now() - interval '10 minutes', "
        "expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        db::params(std::string(lapsed.json().at("id").as_string())));
    ASSERT_EQ(patch(admin, seats.schedule, R"({"paused": true})").status, 200u);
    ASSERT_EQ(join(new_fan(port()), seats.schedule).status, 201u);

    json::object stats;
    const bool settled = eventually([&] {
        const auto reply = http_request(port(), "GET", path(seats.schedule, "stats"), {}, admin);
        if (reply.status != 200u) return false;
        stats = reply.json();
        return stats.at("conversion").at("admitted").as_int64() == 2 &&
               stats.at("abandoned").at("holdsExpiredUnpaid").as_int64() == 1;
    });
    ASSERT_TRUE(settled) << json::serialize(stats);
    EXPECT_EQ(stats.at("waiting").as_int64(), 1);
    EXPECT_EQ(stats.at("preQueued").as_int64(), 0);
    EXPECT_EQ(stats.at("active").as_int64(), 1) << "A's token ended USED with the payment; B's is ACTIVE";
    EXPECT_EQ(stats.at("admittedPerMinute").as_int64(), 2);
    EXPECT_EQ(stats.at("conversion").at("held").as_int64(), 2);
    EXPECT_EQ(stats.at("conversion").at("paid").as_int64(), 1);
    EXPECT_EQ(stats.at("abandoned").at("tokensExpiredWaiting").as_int64(), 0);
    EXPECT_GE(stats.at("waitSeconds").at("p95").as_double(), stats.at("waitSeconds").at("p50").as_double());
    const auto& zones = stats.at("seatsLeftByZone").as_array();
    ASSERT_EQ(zones.size(), 1u);
    EXPECT_EQ(zones.at(0).at("left").as_int64(), 2) << "one sold, the expired hold's seat back on sale";

    // The same figures as metrics, labelled by the (live) schedule, within an export period.
    const std::string label = "schedule=\"" + std::to_string(seats.schedule) + "\"";
    EXPECT_TRUE(eventually(
        [&] {
            const auto metrics = http_request(port(), "GET", "/metrics");
            return metrics.body.find("queue_schedule_conversion{" + label + ",stage=\"paid\"} 1") !=
                   std::string::npos;
        },
        30s));
}

}  // namespace
}  // namespace marquee::test
