// ADR 0049: held polls (GET /api/v1/queue/me?waitMs=) against real Redis (and PostgreSQL for the operators'
// controls, ADR 0027). A held poll is started as its own coroutine; the test runs the loop until the poll is
// registered, then changes the room.
#include <future>
#include <memory>
#include <vector>

#include <boost/json/parse.hpp>

#include "core/problem.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/controls_rules.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/routes.hpp"
#include "services/queue/sold_out.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using testing::FakeAuthenticator;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

/// One admission step admits 20 (rate 1/s, tick 20 s) and a fan 20th in line is told pollAfterMs 5,000 (a
/// quarter of its 20 s ETA): its held poll's timeout is 5 s, far longer than anything the tests do before
/// they look at how it ended (the outcome counters, not the clock, say whether it was woken).
Settings held_settings() {
    Settings s = test_settings();
    s.admit_per_second = 1;
    s.tick = std::chrono::milliseconds(20'000);
    return s;
}
constexpr int kLine = 20;

class HeldPollsDbTest : public testing::QueueDbTest {
  protected:
    struct Outcome {
        int status = 0;
        boost::json::object body;  ///< the JSON body, or the problem document
    };

    /// The GET, started as its own coroutine on the loop (not run yet).
    std::future<Outcome> start(const std::string& target, const std::string& user) {
        http::Fields headers;
        headers.emplace_back("Authorization", "Bearer user:" + user);
        auto ctx = std::make_shared<http::Context>("GET", target, std::move(headers), std::string(), "rid");
        ctx->set_authenticator(&authenticator_);
        const auto match = router_.match("GET", ctx->path());
        EXPECT_EQ(match.outcome, http::Router::Match::Outcome::Found) << target;
        ctx->set_route(match.pattern, match.params);
        const auto* handler = match.handler;
        return asio::co_spawn(
            io_,
            [ctx, handler]() -> asio::awaitable<Outcome> {
                Outcome outcome;
                try {
                    const http::Response response = co_await (*handler)(*ctx);
                    outcome.status = static_cast<int>(response.status);
                    outcome.body = boost::json::parse(response.body).as_object();
                } catch (const core::Problem& problem) {
                    outcome.status = problem.status();
                    outcome.body = problem.to_json();
                }
                co_return outcome;
            },
            asio::use_future);
    }

    /// Runs the loop until `held` polls are registered (or the poll has ended, or the loop ran dry).
    void run_until_held(std::size_t held, std::future<Outcome>& poll) {
        io_.restart();
        while (room_->held_polls().counts().held < held &&
               poll.wait_for(std::chrono::seconds(0)) != std::future_status::ready && io_.run_one() > 0) {
        }
    }

    /// Runs the loop until it has no work left; the poll's outcome.
    Outcome finish(std::future<Outcome>& poll) {
        io_.restart();
        io_.run();
        return poll.get();
    }

    std::string me(std::int64_t schedule, const std::string& wait) {
        return "/api/v1/queue/me?scheduleId=" + std::to_string(schedule) + "&waitMs=" + wait;
    }

    /// kLine fans in line; the last one's id.
    std::string line_up(std::int64_t schedule) {
        std::string last;
        for (int i = 0; i < kLine; ++i) {
            last = unique_user();
            EXPECT_EQ(run(room_->join(last, schedule)).status.state, TokenState::Waiting);
        }
        run(room_->refresh_memory());
        return last;
    }

    void SetUp() override {
        QueueDbTest::SetUp();
        routes_.add_to(router_);
    }

    std::shared_ptr<WaitingRoom> room_ = std::make_shared<WaitingRoom>(redis_, held_settings());
    Routes routes_{room_};
    http::Router router_;
    FakeAuthenticator authenticator_;
};

TEST_F(HeldPollsDbTest, AHeldPollIsAnsweredActiveWhenAdmissionPassesItsPlace) {
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    auto poll = start(me(schedule, "30000"), last);
    run_until_held(1, poll);
    ASSERT_EQ(room_->held_polls().counts().held, 1U) << "the WAITING fan's poll is held";
    ASSERT_EQ(run(room_->admit(schedule)).admitted, kLine);  // this process's own step: seen at once
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.status, 200);
    EXPECT_EQ(outcome.body.at("state").as_string(), "ACTIVE");
    EXPECT_TRUE(outcome.body.contains("expiresAt"));
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 1U) << "answered because admission woke it";
    EXPECT_EQ(counts.timed_out, 0U) << "not at its timeout";
    EXPECT_EQ(counts.held, 0U);
}

TEST_F(HeldPollsDbTest, EveryHeldPollAStepPassedIsAnsweredActiveSpreadOverThePeriod) {
    const auto schedule = unique_schedule();
    std::vector<std::string> fans;
    for (int i = 0; i < kLine; ++i) {
        fans.push_back(unique_user());
        ASSERT_EQ(run(room_->join(fans.back(), schedule)).status.state, TokenState::Waiting);
    }
    run(room_->refresh_memory());
    std::vector<std::future<Outcome>> polls;
    for (int i = kLine - 3; i < kLine; ++i) polls.push_back(start(me(schedule, "30000"), fans[i]));
    io_.restart();
    while (room_->held_polls().counts().held < 3 && io_.run_one() > 0) {
    }
    ASSERT_EQ(room_->held_polls().counts().held, 3U);
    ASSERT_EQ(run(room_->admit(schedule)).admitted, kLine);
    io_.restart();
    io_.run();
    for (auto& poll : polls) {
        const Outcome outcome = poll.get();
        EXPECT_EQ(outcome.status, 200);
        EXPECT_EQ(outcome.body.at("state").as_string(), "ACTIVE");
    }
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 3U) << "each answered at its turn of the spread, not at its timeout";
    EXPECT_EQ(counts.timed_out, 0U);
}

TEST_F(HeldPollsDbTest, AnAdmissionBeforeTheFansPlaceDoesNotEndItsHold) {
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    auto poll = start(me(schedule, "200"), last);
    run_until_held(1, poll);
    ASSERT_EQ(room_->held_polls().counts().held, 1U);
    ScheduleControls one;
    one.max_active = 1;
    ASSERT_EQ(run(room_->admit(schedule, one)).admitted, 1);  // the first fan, not the last
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.status, 200);
    EXPECT_EQ(outcome.body.at("state").as_string(), "WAITING");
    EXPECT_EQ(outcome.body.at("position").as_int64(), kLine - 1) << "the position as a poll reads it";
    EXPECT_TRUE(outcome.body.contains("pollAfterMs"));
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 0U);
    EXPECT_EQ(counts.timed_out, 1U);
}

TEST_F(HeldPollsDbTest, AHeldPollWithNoChangeIsAnsweredWaitingAtItsTimeout) {
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    auto poll = start(me(schedule, "50"), last);
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.status, 200);
    EXPECT_EQ(outcome.body.at("state").as_string(), "WAITING");
    EXPECT_EQ(outcome.body.at("position").as_int64(), kLine);
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.timed_out, 1U);
    EXPECT_EQ(counts.woken, 0U);
    EXPECT_EQ(counts.held, 0U);
}

TEST_F(HeldPollsDbTest, PollsOverTheBoundAreAnsweredAtOnce) {
    room_->held_polls().set_max_held(1);
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    const auto other = unique_user();
    ASSERT_EQ(run(room_->join(other, schedule)).status.state, TokenState::Waiting);
    auto first = start(me(schedule, "30000"), last);
    run_until_held(1, first);
    ASSERT_EQ(room_->held_polls().counts().held, 1U);
    // The second poll finds the one place taken: answered at once, WAITING, never a 5xx.
    auto second = start(me(schedule, "30000"), other);
    io_.restart();
    while (second.wait_for(std::chrono::seconds(0)) != std::future_status::ready && io_.run_one() > 0) {
    }
    ASSERT_EQ(second.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    const Outcome refused = second.get();
    EXPECT_EQ(refused.status, 200);
    EXPECT_EQ(refused.body.at("state").as_string(), "WAITING");
    EXPECT_EQ(refused.body.at("position").as_int64(), kLine + 1);
    EXPECT_EQ(room_->held_polls().counts().refused, 1U);
    EXPECT_EQ(room_->held_polls().counts().held, 1U) << "the first is still held";
    // The process stops: the held poll is answered (WAITING) and no new one is held.
    room_->stop_memory();
    const Outcome stopped = finish(first);
    EXPECT_EQ(stopped.status, 200);
    EXPECT_EQ(stopped.body.at("state").as_string(), "WAITING");
    EXPECT_EQ(room_->held_polls().counts().woken, 1U);
    EXPECT_EQ(room_->held_polls().counts().held, 0U);
}

TEST_F(HeldPollsDbTest, BadWaitMsIs400NamingIt) {
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    run(room_->join(user, schedule));
    for (const std::string wait : {"", "-1", "abc", "5s", "60001", "1e3"}) {
        auto poll = start(me(schedule, wait), user);
        const Outcome outcome = finish(poll);
        EXPECT_EQ(outcome.status, 400) << wait;
        EXPECT_EQ(outcome.body.at("field").as_string(), "waitMs") << wait;
        EXPECT_EQ(outcome.body.at("type").as_string(), "https://marquee.dev/problems/invalid-field") << wait;
    }
    // 0 is a plain poll.
    auto plain = start(me(schedule, "0"), user);
    EXPECT_EQ(finish(plain).body.at("state").as_string(), "WAITING");
    EXPECT_EQ(room_->held_polls().counts().timed_out + room_->held_polls().counts().woken, 0U);
}

/// ADR 0049, amended: a sell-out answers the schedule's held polls with `soldOut` from this process's memory
/// (no Redis read each: a sell-out wakes all of them at once).
TEST_F(HeldPollsDbTest, ASellOutAnswersAHeldPollSoldOut) {
    auto sold_out = std::make_shared<SoldOut>(redis_, db_, room_, std::chrono::milliseconds(50), nullptr);
    routes_.set_sold_out(sold_out);
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    // The verdict as the checking process writes it (ADR 0018), with this period's check taken by "another
    // process" (so this one does not count the test's seatless schedule again). Written before the poll:
    // run() runs the loop until it is idle, which would hold the poll to its timeout. Polls read only this
    // process's memory of the verdict, which has none yet.
    const std::string key = "queue:{" + std::to_string(schedule) + "}:sold-out";
    run(redis_.command({"SET", key + "-check", "1", "PX", "60000"}));
    run(redis_.command({"HSET", key, "sold_out", "1", "imminent", "1", "seats", "10", "sold", "10", "at", "1",
                        "checked", "1"}));
    auto poll = start(me(schedule, "30000"), last);
    run_until_held(1, poll);
    ASSERT_EQ(room_->held_polls().counts().held, 1U);
    // This process reads the verdict into memory, which wakes the schedule's held polls.
    ASSERT_TRUE(run(sold_out->sold_out(schedule)));
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.status, 200);
    EXPECT_TRUE(outcome.body.at("soldOut").as_bool());
    EXPECT_EQ(outcome.body.at("position").as_int64(), kLine) << "the status this process held, not Redis's";
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 1U) << "answered because the sell-out woke it";
    EXPECT_EQ(counts.timed_out, 0U);
    run(redis_.command({"DEL", key, key + "-check"}));
}

/// ADR 0049, amended: an operator's pause or resume (ADR 0027) wakes the room's held polls, which are
/// answered with the new state at once instead of at their timeout (5 s here; the counters, not the clock,
/// say which).
class HeldPollsControlsDbTest : public HeldPollsDbTest {
  protected:
    void SetUp() override {
        HeldPollsDbTest::SetUp();
        routes_.set_controls(controls_);
    }

    void patch(std::int64_t schedule, const char* body) {
        run(controls_->change(schedule, "00000000-0000-4000-8000-000000000001",
                              parse_controls_patch(boost::json::parse(body).as_object())));
    }

    std::shared_ptr<Controls> controls_ = std::make_shared<Controls>(db_, nullptr);
};

TEST_F(HeldPollsControlsDbTest, APauseAnswersAHeldPollPausedAtOnce) {
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    auto poll = start(me(schedule, "30000"), last);
    run_until_held(1, poll);
    ASSERT_EQ(room_->held_polls().counts().held, 1U) << "the WAITING fan's poll is held";
    patch(schedule, R"({"paused": true})");
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.status, 200);
    EXPECT_EQ(outcome.body.at("state").as_string(), "WAITING");
    EXPECT_TRUE(outcome.body.contains("paused") && outcome.body.at("paused").as_bool());
    EXPECT_FALSE(outcome.body.contains("etaSeconds")) << "no countdown while paused (ADR 0033)";
    EXPECT_EQ(outcome.body.at("position").as_int64(), kLine);
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 1U) << "answered because the pause woke it";
    EXPECT_EQ(counts.timed_out, 0U) << "not at its timeout";
    EXPECT_EQ(counts.held, 0U);
}

TEST_F(HeldPollsControlsDbTest, AResumeAnswersAPausedRoomsHeldPollWithItsEtaBack) {
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    patch(schedule, R"({"paused": true})");
    auto poll = start(me(schedule, "30000"), last);
    run_until_held(1, poll);
    ASSERT_EQ(room_->held_polls().counts().held, 1U) << "a paused room's WAITING fan is held too";
    patch(schedule, R"({"paused": false})");
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.status, 200);
    EXPECT_EQ(outcome.body.at("state").as_string(), "WAITING");
    EXPECT_FALSE(outcome.body.contains("paused"));
    EXPECT_TRUE(outcome.body.contains("etaSeconds")) << "the ETA is back";
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 1U) << "answered because the resume woke it";
    EXPECT_EQ(counts.timed_out, 0U);
}

TEST_F(HeldPollsControlsDbTest, AChangeOtherThanPauseLeavesTheHoldAlone) {
    const auto schedule = unique_schedule();
    const std::string last = line_up(schedule);
    auto poll = start(me(schedule, "200"), last);
    run_until_held(1, poll);
    ASSERT_EQ(room_->held_polls().counts().held, 1U);
    patch(schedule, R"({"maxActive": 5})");
    const Outcome outcome = finish(poll);
    EXPECT_EQ(outcome.body.at("state").as_string(), "WAITING");
    const auto counts = room_->held_polls().counts();
    EXPECT_EQ(counts.woken, 0U) << "only a pause or resume wakes the room";
    EXPECT_EQ(counts.timed_out, 1U);
}

}  // namespace
}  // namespace marquee::queue
