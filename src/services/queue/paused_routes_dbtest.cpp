#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>

#include "core/problem.hpp"
#include "http/context.hpp"
#include "http/router.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/gate.hpp"
#include "services/queue/routes.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using testing::FakeAuthenticator;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

/// Keeps the first event and closes the stream (a paused room's stream would otherwise go on).
class FirstEventStream final : public http::EventStream {
  public:
    asio::awaitable<bool> send(std::string event, std::string data, std::string) override {
        events.emplace_back(std::move(event), std::move(data));
        co_return false;
    }
    asio::awaitable<bool> heartbeat() override { co_return true; }
    bool open() const override { return false; }
    std::vector<std::pair<std::string, std::string>> events;
};

/// ADR 0033: while an operator has paused a schedule's admission (ADR 0027), the queue's answers say so and
/// give no ETA; once resumed, the ETA is back.
class PausedRoutesDbTest : public testing::QueueDbTest {
  protected:
    void SetUp() override {
        QueueDbTest::SetUp();
        routes_.set_controls(controls_);
        routes_.add_to(router_);
    }

    http::Response call(const std::string& method, const std::string& target, const std::string& user) {
        http::Fields headers{{"Authorization", "Bearer user:" + user}};
        http::Context ctx(method, target, std::move(headers), {}, "rid");
        ctx.set_authenticator(&authenticator_);
        const auto match = router_.match(method, ctx.path());
        EXPECT_EQ(match.outcome, http::Router::Match::Outcome::Found) << target;
        ctx.set_route(match.pattern, match.params);
        return run((*match.handler)(ctx));
    }

    boost::json::object json(const http::Response& response) {
        return boost::json::parse(response.body).as_object();
    }

    void patch(std::int64_t schedule, const char* body) {
        run(controls_->change(schedule, "00000000-0000-4000-8000-000000000001",
                              parse_controls_patch(boost::json::parse(body).as_object())));
    }

    std::shared_ptr<WaitingRoom> room_ =
        std::make_shared<WaitingRoom>(redis_, test_settings(/*max_active=*/1, /*burst=*/20));
    std::shared_ptr<Controls> controls_ = std::make_shared<Controls>(db_, nullptr);
    Routes routes_{room_};
    http::Router router_;
    FakeAuthenticator authenticator_;
};

TEST_F(PausedRoutesDbTest, APausedRoomSaysSoWithoutAnEtaAndTheEtaComesBackOnResume) {
    const auto schedule = unique_schedule();
    const std::string id = std::to_string(schedule);
    const auto user = unique_user();
    patch(schedule, R"({"paused": true})");

    const auto joined = json(call("POST", "/api/v1/schedules/" + id + "/queue", user));
    EXPECT_EQ(joined.at("state").as_string(), "WAITING");
    EXPECT_EQ(joined.at("position").as_int64(), 1) << "the place is kept";
    EXPECT_TRUE(joined.at("paused").as_bool());
    EXPECT_FALSE(joined.contains("etaSeconds")) << "no countdown while nobody is admitted";
    EXPECT_GE(joined.at("pollAfterMs").as_int64(), 5000) << "the front does not ask twice a second";

    const auto me = json(call("GET", "/api/v1/queue/me?scheduleId=" + id, user));
    EXPECT_TRUE(me.at("paused").as_bool());
    EXPECT_FALSE(me.contains("etaSeconds"));

    auto producer = call("GET", "/api/v1/queue/me/events?scheduleId=" + id, user).stream;
    ASSERT_TRUE(static_cast<bool>(producer));
    FirstEventStream stream;
    run(producer(stream));
    ASSERT_EQ(stream.events.size(), 1u);
    EXPECT_EQ(stream.events[0].first, "position");
    const auto event = boost::json::parse(stream.events[0].second).as_object();
    EXPECT_TRUE(event.at("paused").as_bool());
    EXPECT_FALSE(event.contains("etaSeconds"));

    patch(schedule, R"({"paused": false})");
    const auto resumed = json(call("GET", "/api/v1/queue/me?scheduleId=" + id, user));
    EXPECT_EQ(resumed.at("state").as_string(), "WAITING");
    EXPECT_FALSE(resumed.contains("paused")) << "only present while true";
    EXPECT_EQ(resumed.at("etaSeconds").as_int64(), 1);
    EXPECT_LT(resumed.at("pollAfterMs").as_int64(), 5000);
}

// A hold or payment from a WAITING fan of a paused schedule is refused with its place and `paused`, never
// with an ETA counting down a wait that is not moving; after resume the ETA is back.
TEST_F(PausedRoutesDbTest, TheGatesRefusalOfAWaitingTokenSaysPausedWithoutAnEta) {
    const auto schedule = unique_schedule();
    const std::string id = std::to_string(schedule);
    (void)call("POST", "/api/v1/schedules/" + id + "/queue", unique_user());  // takes the one ACTIVE place
    run(room_->admit(schedule));
    const auto user = unique_user();
    const auto joined = json(call("POST", "/api/v1/schedules/" + id + "/queue", user));
    const std::string token(joined.at("token").as_string());
    Gate gate(*room_);
    gate.set_controls(controls_);
    const auto refusal = [&] {
        try {
            (void)run(gate.require_active(user, schedule, token));
        } catch (const core::Problem& p) {
            return p;
        }
        ADD_FAILURE() << "the WAITING token passed the gate";
        return core::Problem::forbidden("none", "none");
    };

    patch(schedule, R"({"paused": true})");
    const auto paused = refusal();
    EXPECT_EQ(paused.status(), 403);
    EXPECT_EQ(paused.type(), "queue-not-admitted");
    EXPECT_EQ(paused.extensions().at("position").as_int64(), 1);
    EXPECT_TRUE(paused.extensions().at("paused").as_bool());
    EXPECT_FALSE(paused.extensions().contains("etaSeconds"));

    patch(schedule, R"({"paused": false})");
    const auto resumed = refusal();
    EXPECT_EQ(resumed.type(), "queue-not-admitted");
    EXPECT_FALSE(resumed.extensions().contains("paused"));
    EXPECT_TRUE(resumed.extensions().contains("etaSeconds"));
}

}  // namespace
}  // namespace marquee::queue
