#include "core/problem.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/gate.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

class GateDbTest : public testing::RedisTest {
  protected:
    Joined join(WaitingRoom& room, const std::string& user, std::int64_t schedule) {
        return run(room.join(user, schedule));
    }
};

TEST_F(GateDbTest, ActiveTokenOfThisUserAndSchedulePasses) {
    WaitingRoom room(redis_, test_settings());
    Gate gate(room);
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    run(room.admit(schedule));
    EXPECT_EQ(run(gate.require_active(user, schedule, joined.status.token)), joined.status.token);
    // Upper case is the same token.
    std::string upper = joined.status.token;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(run(gate.require_active(user, schedule, upper)), joined.status.token);
}

TEST_F(GateDbTest, PassingSlidesTheIdleExpiry) {
    Settings settings = test_settings();
    WaitingRoom admit_short(redis_, [&] {
        Settings s = settings;
        s.active_ttl = 1min;
        return s;
    }());
    WaitingRoom room(redis_, settings);  // active TTL 10 min
    Gate gate(room);
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    run(admit_short.admit(schedule));
    const auto before = run(room.find_status(user, schedule));
    ASSERT_TRUE(before && before->state == TokenState::Active);
    run(gate.require_active(user, schedule, joined.status.token));
    const auto after = run(room.find_status(user, schedule));
    ASSERT_TRUE(after.has_value());
    EXPECT_GE(after->expires_at, before->expires_at + std::int64_t{9} * 60'000)
        << "slid to about now + 10 min";
}

TEST_F(GateDbTest, MissingTokenIsForbiddenAsRequired) {
    WaitingRoom room(redis_, test_settings());
    Gate gate(room);
    const auto problem = refusal(gate, unique_user(), unique_schedule(), "");
    EXPECT_EQ(problem.status(), 403);
    EXPECT_EQ(problem.type(), "queue-token-required");
}

TEST_F(GateDbTest, MalformedUnknownOrSomeoneElsesTokenIsInvalid) {
    WaitingRoom room(redis_, test_settings());
    Gate gate(room);
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    run(room.admit(schedule));
    for (const auto& [who, where, token] :
         std::vector<std::tuple<std::string, std::int64_t, std::string>>{
             {user, schedule, "not-a-token"},
             {user, schedule, new_token_id()},                 // forged: well formed, unknown
             {unique_user(), schedule, joined.status.token},   // another user's
             {user, unique_schedule(), joined.status.token}})  // another schedule's
    {
        const auto problem = refusal(gate, who, where, token);
        EXPECT_EQ(problem.status(), 403) << token;
        EXPECT_EQ(problem.type(), "queue-token-invalid") << token;
    }
}

TEST_F(GateDbTest, WaitingTokenIsForbiddenWithPositionAndEta) {
    WaitingRoom room(redis_, test_settings());
    Gate gate(room);
    const auto schedule = unique_schedule();
    join(room, unique_user(), schedule);
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    const auto problem = refusal(gate, user, schedule, joined.status.token);
    EXPECT_EQ(problem.status(), 403);
    EXPECT_EQ(problem.type(), "queue-not-admitted");
    EXPECT_EQ(problem.extensions().at("position").as_int64(), 2);
    EXPECT_EQ(problem.extensions().at("etaSeconds").as_int64(), 1);
}

TEST_F(GateDbTest, UsedTokenIsGone) {
    WaitingRoom room(redis_, test_settings());
    Gate gate(room);
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    run(room.admit(schedule));
    ASSERT_TRUE(run(room.release(schedule, joined.status.token)));
    const auto problem = refusal(gate, user, schedule, joined.status.token);
    EXPECT_EQ(problem.status(), 410);
    EXPECT_EQ(problem.type(), "queue-token-expired");
}

TEST_F(GateDbTest, ExpiredTokenIsGoneEvenBeforeTheSchedulerRuns) {
    Settings settings = test_settings();
    settings.active_ttl = 0ms;
    WaitingRoom room(redis_, settings);
    Gate gate(room);
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    run(room.admit(schedule));
    const auto problem = refusal(gate, user, schedule, joined.status.token);
    EXPECT_EQ(problem.status(), 410);
    EXPECT_EQ(problem.type(), "queue-token-expired");
    EXPECT_EQ(run(room.find_status(user, schedule))->state, TokenState::Expired);
}

TEST_F(GateDbTest, AsFunctionCallsRequireActive) {
    WaitingRoom room(redis_, test_settings());
    Gate gate(room);
    const Gate::Function check = gate.as_function();
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const Joined joined = join(room, user, schedule);
    run(room.admit(schedule));
    EXPECT_EQ(run(check(user, schedule, joined.status.token)), joined.status.token);
}

}  // namespace
}  // namespace marquee::queue
