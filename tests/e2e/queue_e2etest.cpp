// End to end: join the waiting room, read the token, follow it over Server-Sent Events until it is admitted,
// through the real binary with a real JWT (docs/sequences/queue-hold-pay.md, part 1).
#include <random>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;

json::object json_of(const HttpReply& reply) {
    return json::parse(reply.body).as_object();
}

std::int64_t unique_schedule() {
    std::random_device device;
    return std::int64_t{5'000'000'000} + std::int64_t{device() % 1'000'000'000u};
}

class QueueEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // One ACTIVE token per schedule and a fast tick, so admission is quick and the second fan waits. Its
        // own index of waiting rooms: the schedulers of other tests' processes (other limits, same Redis)
        // must not admit these fans.
        process_ = new MarqueeProcess(
            {"--service=auth,queue"},
            {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
             {"MARQUEE_QUEUE_SCHEDULES_KEY", "queue:schedules:" + unique_name("queue-e2e")},
             {"MARQUEE_QUEUE_MAX_ACTIVE", "1"},
             {"MARQUEE_QUEUE_ADMIT_PER_SECOND", "100"},
             {"MARQUEE_QUEUE_TICK_MS", "50"}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    static std::map<std::string, std::string> new_fan() { return test::new_fan(port(), "queue-fan"); }

    static MarqueeProcess* process_;
};
MarqueeProcess* QueueEndToEnd::process_ = nullptr;

TEST_F(QueueEndToEnd, JoinThenFollowTheStreamUntilAdmitted) {
    // A schedule catalog knows (queue refuses the others with 404).
    const auto schedule = std::to_string(make_seats(1).schedule);
    const auto fan = new_fan();
    const auto joined = http_request(port(), "POST", "/api/v1/schedules/" + schedule + "/queue", {}, fan);
    ASSERT_EQ(joined.status, 201) << joined.body;
    const auto token = json_of(joined).at("token");
    EXPECT_EQ(json_of(joined).at("state").as_string(), "WAITING");
    EXPECT_EQ(json_of(joined).at("position").as_int64(), 1);

    const auto again = http_request(port(), "POST", "/api/v1/schedules/" + schedule + "/queue", {}, fan);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(json_of(again).at("token"), token) << "joining twice returns the same token";

    // The stream ends by itself once the token is ACTIVE: no polling, no sleeping.
    const auto events =
        http_request(port(), "GET", "/api/v1/queue/me/events?scheduleId=" + schedule, {}, fan);
    EXPECT_EQ(events.status, 200);
    EXPECT_EQ(events.headers.count("content-type") ? events.headers.at("content-type") : "",
              "text/event-stream");
    EXPECT_NE(events.body.find("event: admitted"), std::string::npos) << events.body;

    const auto me = http_request(port(), "GET", "/api/v1/queue/me?scheduleId=" + schedule, {}, fan);
    ASSERT_EQ(me.status, 200);
    EXPECT_EQ(json_of(me).at("state").as_string(), "ACTIVE");
    EXPECT_TRUE(json_of(me).contains("expiresAt"));

    // The slot is taken (maximum 1): the next fan waits at the head of the line.
    const auto second = new_fan();
    const auto waiting = http_request(port(), "POST", "/api/v1/schedules/" + schedule + "/queue", {}, second);
    ASSERT_EQ(waiting.status, 201);
    const auto status = http_request(port(), "GET", "/api/v1/queue/me?scheduleId=" + schedule, {}, second);
    EXPECT_EQ(json_of(status).at("state").as_string(), "WAITING");
    EXPECT_EQ(json_of(status).at("position").as_int64(), 1);

    const auto metrics = http_request(port(), "GET", "/metrics");
    EXPECT_NE(metrics.body.find("queue_admitted_total"), std::string::npos);
}

TEST_F(QueueEndToEnd, NeedsAJwtAndAValidScheduleId) {
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/schedules/1/queue").status, 401);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/queue/me?scheduleId=1").status, 401);
    const auto fan = new_fan();
    const auto bad = http_request(port(), "GET", "/api/v1/queue/me?scheduleId=abc", {}, fan);
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(json_of(bad).at("field").as_string(), "scheduleId");
    const auto none = http_request(
        port(), "GET", "/api/v1/queue/me?scheduleId=" + std::to_string(unique_schedule()), {}, fan);
    EXPECT_EQ(none.status, 404);
    EXPECT_EQ(json_of(none).at("type").as_string(), "https://marquee.dev/problems/queue-token-not-found");
}

}  // namespace
}  // namespace marquee::test
