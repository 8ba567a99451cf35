#include <boost/json/parse.hpp>

#include "core/problem.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/routes.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::FakeAuthenticator;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

/// Collects the events a stream producer sends; runs `on_first_event` inside the first send (so a test can
/// change the state between two ticks without sleeping).
class RecordingStream final : public http::EventStream {
  public:
    asio::awaitable<bool> send(std::string event, std::string data, std::string) override {
        events.emplace_back(std::move(event), std::move(data));
        if (events.size() == 1 && on_first_event) {
            co_await on_first_event();
        }
        co_return true;
    }
    asio::awaitable<bool> heartbeat() override { co_return true; }
    bool open() const override { return true; }
    std::vector<std::pair<std::string, std::string>> events;
    std::function<asio::awaitable<void>()> on_first_event;
};

class QueueRoutesDbTest : public testing::RedisTest {
  protected:
    struct Outcome {
        int status = 0;
        boost::json::object body;  ///< the JSON body, or the problem document
        http::Response response;
    };

    Outcome call(const std::string& method, const std::string& target, const std::string& user) {
        http::Fields headers;
        if (!user.empty()) headers.emplace_back("Authorization", "Bearer user:" + user);
        http::Context ctx(method, target, std::move(headers), {}, "rid");
        ctx.set_authenticator(&authenticator_);
        const auto match = router_.match(method, ctx.path());
        EXPECT_EQ(match.outcome, http::Router::Match::Outcome::Found) << target;
        ctx.set_route(match.pattern, match.params);
        Outcome outcome;
        try {
            outcome.response = run((*match.handler)(ctx));
            outcome.status = static_cast<int>(outcome.response.status);
            if (!outcome.response.stream) {
                outcome.body = boost::json::parse(outcome.response.body).as_object();
            }
        } catch (const core::Problem& problem) {
            outcome.status = problem.status();
            outcome.body = problem.to_json();
        }
        return outcome;
    }

    std::string type_of(const Outcome& outcome) { return std::string(outcome.body.at("type").as_string()); }

    void SetUp() override { routes_.add_to(router_); }

    std::shared_ptr<WaitingRoom> room_ =
        std::make_shared<WaitingRoom>(redis_, test_settings(/*max_active=*/1, /*burst=*/20));
    Routes routes_{room_};
    http::Router router_;
    FakeAuthenticator authenticator_;
};

TEST_F(QueueRoutesDbTest, JoinIs201ThenTheSameTokenWith200) {
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const std::string target = "/api/v1/schedules/" + std::to_string(schedule) + "/queue";
    const Outcome first = call("POST", target, user);
    ASSERT_EQ(first.status, 201);
    EXPECT_EQ(first.body.at("state").as_string(), "WAITING");
    EXPECT_EQ(first.body.at("position").as_int64(), 1);
    EXPECT_EQ(first.body.at("etaSeconds").as_int64(), 1);
    EXPECT_EQ(first.body.at("scheduleId").as_int64(), schedule);
    const Outcome second = call("POST", target, user);
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.body.at("token"), first.body.at("token"));
    bool has_location = false;
    for (const auto& [name, value] : first.response.headers) {
        if (name == "Location") {
            has_location = value == "/api/v1/queue/me?scheduleId=" + std::to_string(schedule);
        }
    }
    EXPECT_TRUE(has_location);
}

TEST_F(QueueRoutesDbTest, EveryRouteNeedsAUser) {
    const auto schedule = std::to_string(unique_schedule());
    for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/api/v1/schedules/" + schedule + "/queue"},
             {"GET", "/api/v1/queue/me?scheduleId=" + schedule},
             {"GET", "/api/v1/queue/me/events?scheduleId=" + schedule}}) {
        const Outcome outcome = call(method, target, "");
        EXPECT_EQ(outcome.status, 401) << target;
    }
}

TEST_F(QueueRoutesDbTest, BadScheduleIdIs400NamingIt) {
    const auto user = unique_user();
    for (const std::string target :
         {"/api/v1/queue/me", "/api/v1/queue/me?scheduleId=abc", "/api/v1/queue/me?scheduleId=0",
          "/api/v1/queue/me/events?scheduleId=-3"}) {
        const Outcome outcome = call("GET", target, user);
        EXPECT_EQ(outcome.status, 400) << target;
        EXPECT_EQ(outcome.body.at("field").as_string(), "scheduleId") << target;
    }
    const Outcome join = call("POST", "/api/v1/schedules/x1/queue", user);
    EXPECT_EQ(join.status, 400);
    EXPECT_EQ(join.body.at("field").as_string(), "scheduleId");
}

TEST_F(QueueRoutesDbTest, MeIs404BeforeJoiningThenFollowsTheState) {
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const std::string me = "/api/v1/queue/me?scheduleId=" + std::to_string(schedule);
    const Outcome none = call("GET", me, user);
    EXPECT_EQ(none.status, 404);
    EXPECT_EQ(type_of(none), "https://marquee.dev/problems/queue-token-not-found");

    const Outcome joined = call("POST", "/api/v1/schedules/" + std::to_string(schedule) + "/queue", user);
    const Outcome waiting = call("GET", me, user);
    EXPECT_EQ(waiting.status, 200);
    EXPECT_EQ(waiting.body.at("state").as_string(), "WAITING");
    EXPECT_EQ(waiting.body.at("position").as_int64(), 1);

    run(room_->admit(schedule));
    const Outcome active = call("GET", me, user);
    EXPECT_EQ(active.status, 200);
    EXPECT_EQ(active.body.at("state").as_string(), "ACTIVE");
    EXPECT_TRUE(active.body.contains("expiresAt"));
    EXPECT_FALSE(active.body.contains("position"));

    run(room_->release(schedule, std::string(joined.body.at("token").as_string())));
    const Outcome used = call("GET", me, user);
    EXPECT_EQ(used.status, 200);
    EXPECT_EQ(used.body.at("state").as_string(), "USED");
}

TEST_F(QueueRoutesDbTest, EventStreamSendsPositionsThenAdmittedAndEnds) {
    const auto schedule = unique_schedule();
    const auto first = unique_user();
    const auto user = unique_user();
    call("POST", "/api/v1/schedules/" + std::to_string(schedule) + "/queue", first);
    call("POST", "/api/v1/schedules/" + std::to_string(schedule) + "/queue", user);
    const Outcome none =
        call("GET", "/api/v1/queue/me/events?scheduleId=" + std::to_string(schedule), unique_user());
    EXPECT_EQ(none.status, 404) << "no stream for a user who never joined";

    run(room_->admit(schedule));  // max 1: `first` is ACTIVE, `user` waits at position 1
    const Outcome outcome =
        call("GET", "/api/v1/queue/me/events?scheduleId=" + std::to_string(schedule), user);
    ASSERT_EQ(outcome.status, 200);
    ASSERT_TRUE(static_cast<bool>(outcome.response.stream));
    RecordingStream stream;
    stream.on_first_event = [&]() -> asio::awaitable<void> {
        // `first` buys (frees the slot at once) and the scheduler admits `user` before the next tick.
        const auto status = co_await room_->find_status(first, schedule);
        co_await room_->release(schedule, status->token);
        co_await room_->admit(schedule);
    };
    auto producer = outcome.response.stream;
    run(producer(stream));  // returns by itself once it has sent `admitted`

    ASSERT_EQ(stream.events.size(), 2u);
    EXPECT_EQ(stream.events[0].first, "position");
    const auto waiting = boost::json::parse(stream.events[0].second).as_object();
    EXPECT_EQ(waiting.at("position").as_int64(), 1);
    EXPECT_EQ(stream.events[1].first, "admitted");
    const auto admitted = boost::json::parse(stream.events[1].second).as_object();
    EXPECT_EQ(admitted.at("state").as_string(), "ACTIVE");
    EXPECT_TRUE(admitted.contains("expiresAt"));
}

}  // namespace
}  // namespace marquee::queue
