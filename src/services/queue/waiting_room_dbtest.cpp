#include <set>

#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

class WaitingRoomDbTest : public testing::RedisTest {
  protected:
    std::vector<Joined> join_all(WaitingRoom& room, std::int64_t schedule,
                                 const std::vector<std::string>& users) {
        return run([&]() -> asio::awaitable<std::vector<Joined>> {
            std::vector<Joined> joined;
            joined.reserve(users.size());
            for (const auto& user : users) {
                joined.push_back(co_await room.join(user, schedule));
            }
            co_return joined;
        }());
    }
    std::vector<std::string> users(int n) {
        std::vector<std::string> out;
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) out.push_back(unique_user());
        return out;
    }
    TokenStatus status_of(WaitingRoom& room, const std::string& user, std::int64_t schedule) {
        const auto status = run(room.find_status(user, schedule));
        EXPECT_TRUE(status.has_value());
        return status.value_or(TokenStatus{});
    }
};

TEST_F(WaitingRoomDbTest, JoinIssuesWaitingTokenAtTheBack) {
    WaitingRoom room(redis_, test_settings());
    const auto schedule = unique_schedule();
    const auto joined = join_all(room, schedule, users(3));
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(joined[i].created);
        EXPECT_EQ(joined[i].status.state, TokenState::Waiting);
        EXPECT_EQ(joined[i].status.position, i + 1);
        EXPECT_EQ(joined[i].status.schedule_id, schedule);
        EXPECT_TRUE(normalize_token_id(joined[i].status.token).has_value());
    }
    EXPECT_NE(joined[0].status.token, joined[1].status.token);
}

TEST_F(WaitingRoomDbTest, JoiningAgainReturnsTheSameToken) {
    WaitingRoom room(redis_, test_settings());
    const auto schedule = unique_schedule();
    const auto user = unique_user();
    const auto first = join_all(room, schedule, {unique_user(), user});
    const auto again = join_all(room, schedule, {user});
    EXPECT_FALSE(again[0].created);
    EXPECT_EQ(again[0].status.token, first[1].status.token);
    EXPECT_EQ(again[0].status.position, 2);
    // Another schedule is another queue.
    const auto other = join_all(room, unique_schedule(), {user});
    EXPECT_TRUE(other[0].created);
    EXPECT_NE(other[0].status.token, first[1].status.token);
}

TEST_F(WaitingRoomDbTest, FindStatusIsNulloptForAUserWhoNeverJoined) {
    WaitingRoom room(redis_, test_settings());
    EXPECT_EQ(run(room.find_status(unique_user(), unique_schedule())), std::nullopt);
}

TEST_F(WaitingRoomDbTest, AdmissionIsFifoAndPositionsCloseUp) {
    WaitingRoom room(redis_, test_settings(/*max_active=*/2));
    const auto schedule = unique_schedule();
    const auto u = users(5);
    join_all(room, schedule, u);
    const AdmitStep step = run(room.admit(schedule));
    EXPECT_EQ(step.admitted, 2);
    EXPECT_EQ(step.waiting, 3);
    EXPECT_EQ(step.active, 2);
    EXPECT_EQ(step.sequence, 5);
    EXPECT_EQ(status_of(room, u[0], schedule).state, TokenState::Active);
    EXPECT_EQ(status_of(room, u[1], schedule).state, TokenState::Active);
    EXPECT_GT(status_of(room, u[1], schedule).expires_at, 0);
    for (int i = 2; i < 5; ++i) {
        const auto status = status_of(room, u[i], schedule);
        EXPECT_EQ(status.state, TokenState::Waiting);
        EXPECT_EQ(status.position, i - 1);
    }
}

TEST_F(WaitingRoomDbTest, AdmissionRespectsTheRateBurstAndTheMaximum) {
    // 1000/s with a 5 ms tick: a burst of 5 per step at most.
    WaitingRoom room(redis_, test_settings(/*max_active=*/8, /*burst=*/5));
    const auto schedule = unique_schedule();
    join_all(room, schedule, users(20));
    const AdmitStep first = run(room.admit(schedule));
    EXPECT_EQ(first.admitted, 5) << "a fresh schedule starts with a full burst";
    std::int64_t total = first.admitted;
    for (int i = 0; i < 50; ++i) {
        const AdmitStep step = run(room.admit(schedule));
        EXPECT_LE(step.admitted, 5);
        EXPECT_LE(step.active, 8);
        total += step.admitted;
    }
    EXPECT_LE(total, 8) << "never more ACTIVE than the maximum";
}

TEST_F(WaitingRoomDbTest, ReleaseFreesTheSlotAtOnce) {
    WaitingRoom room(redis_, test_settings(/*max_active=*/1));
    const auto schedule = unique_schedule();
    const auto u = users(2);
    const auto joined = join_all(room, schedule, u);
    EXPECT_EQ(run(room.admit(schedule)).admitted, 1);
    EXPECT_EQ(run(room.admit(schedule)).admitted, 0) << "the maximum is reached";
    EXPECT_TRUE(run(room.release(schedule, joined[0].status.token)));
    EXPECT_FALSE(run(room.release(schedule, joined[0].status.token))) << "USED is final";
    EXPECT_EQ(status_of(room, u[0], schedule).state, TokenState::Used);
    const AdmitStep step = run(room.admit(schedule));
    EXPECT_EQ(step.admitted, 1);
    EXPECT_EQ(status_of(room, u[1], schedule).state, TokenState::Active);
}

TEST_F(WaitingRoomDbTest, ExpiredActiveTokensFreeTheirSlots) {
    Settings settings = test_settings(/*max_active=*/1);
    settings.active_ttl = 0ms;  // expires at the instant of admission: any later step finds it due
    WaitingRoom room(redis_, settings);
    const auto schedule = unique_schedule();
    const auto u = users(2);
    join_all(room, schedule, u);
    EXPECT_EQ(run(room.admit(schedule)).admitted, 1);
    const AdmitStep step = run(room.admit(schedule));
    EXPECT_EQ(step.expired, 1);
    EXPECT_EQ(step.admitted, 1);
    EXPECT_EQ(status_of(room, u[0], schedule).state, TokenState::Expired);
}

TEST_F(WaitingRoomDbTest, WaitingTokensNotPolledExpire) {
    Settings settings = test_settings(/*max_active=*/0);
    settings.waiting_ttl = 0ms;
    WaitingRoom room(redis_, settings);
    const auto schedule = unique_schedule();
    const auto u = users(3);
    join_all(room, schedule, u);
    const AdmitStep step = run(room.admit(schedule));
    EXPECT_EQ(step.expired, 3);
    EXPECT_EQ(step.waiting, 0);
    EXPECT_EQ(status_of(room, u[2], schedule).state, TokenState::Expired);
}

TEST_F(WaitingRoomDbTest, JoiningAfterTheTokenEndedIssuesANewOneAtTheBack) {
    WaitingRoom room(redis_, test_settings(/*max_active=*/1));
    const auto schedule = unique_schedule();
    const auto u = users(2);
    const auto joined = join_all(room, schedule, u);
    run(room.admit(schedule));
    ASSERT_TRUE(run(room.release(schedule, joined[0].status.token)));
    const auto again = join_all(room, schedule, {u[0]});
    EXPECT_TRUE(again[0].created);
    EXPECT_NE(again[0].status.token, joined[0].status.token);
    EXPECT_EQ(again[0].status.position, 2) << "behind the one still waiting";
}

TEST_F(WaitingRoomDbTest, ScheduleLeavesTheScanSetOnlyWhenEmptyAndNoJoinCameSince) {
    WaitingRoom room(redis_, test_settings());
    const auto schedule = unique_schedule();
    join_all(room, schedule, users(1));
    auto listed = [&] {
        const auto ids = run(room.schedules());
        return std::set<std::int64_t>(ids.begin(), ids.end()).count(schedule) == 1;
    };
    EXPECT_TRUE(listed());
    EXPECT_FALSE(run(room.try_forget(schedule, 0))) << "a join (arrival 1) came after arrival 0 was seen";
    EXPECT_TRUE(listed());
    EXPECT_TRUE(run(room.try_forget(schedule, 1)));
    EXPECT_FALSE(listed());
    join_all(room, schedule, users(1));
    EXPECT_TRUE(listed()) << "a new join lists it again";
    run(room.try_forget(schedule, 2));
}

TEST_F(WaitingRoomDbTest, EveryChangeLeavesOneAuditEvent) {
    WaitingRoom room(redis_, test_settings(/*max_active=*/1));
    const auto schedule = unique_schedule();
    const auto joined = join_all(room, schedule, users(2));
    run(room.admit(schedule));
    run(room.release(schedule, joined[0].status.token));
    const auto events = run(room.pop_audit(schedule, 100));
    ASSERT_EQ(events.size(), 4u);  // two joins, one admission, one release
    std::vector<TokenState> states;
    for (const auto& event : events) {
        const auto record = parse_audit_event(event);
        ASSERT_TRUE(record.has_value()) << event;
        EXPECT_EQ(record->schedule_id, schedule);
        states.push_back(record->state);
    }
    EXPECT_EQ(states, (std::vector<TokenState>{TokenState::Waiting, TokenState::Waiting, TokenState::Active,
                                               TokenState::Used}));
    EXPECT_TRUE(run(room.pop_audit(schedule, 100)).empty());
}

TEST_F(WaitingRoomDbTest, JoinsSkipTheScanSetOnlyWhileAStepSawTheRoomNonEmpty) {
    WaitingRoom room(redis_, test_settings());
    const auto schedule = unique_schedule();
    auto listed = [&] {
        const auto ids = run(room.schedules());
        return std::set<std::int64_t>(ids.begin(), ids.end()).count(schedule) == 1;
    };
    const auto first = users(1);
    join_all(room, schedule, first);  // no step yet: no flag, so this join adds the schedule
    EXPECT_TRUE(listed());
    const AdmitStep step = run(room.admit(schedule));  // non-empty: sets the scanned flag
    ASSERT_EQ(step.active, 1);
    // Take the schedule out by hand: a join that sees the flag does not put it back ...
    run(redis_.command("ZREM", room.settings().schedules_key, std::to_string(schedule)));
    const auto second = users(1);
    join_all(room, schedule, second);
    EXPECT_FALSE(listed()) << "the flag said a scheduler scans it: one round trip, no ZADD";
    // ... but a waiting fan's poll sees the flag gone (lapsed or dropped) and does.
    run(redis_.command("DEL", "queue:{" + std::to_string(schedule) + "}:scanned"));
    EXPECT_EQ(status_of(room, second[0], schedule).state, TokenState::Waiting);
    EXPECT_TRUE(listed()) << "the poll is the backstop";

    // A step that finds the room empty drops the flag, so the next join lists the schedule again.
    EXPECT_TRUE(run(room.release(schedule, status_of(room, first[0], schedule).token)));
    run(room.admit(schedule));  // admits the second fan
    EXPECT_TRUE(run(room.release(schedule, status_of(room, second[0], schedule).token)));
    const AdmitStep empty = run(room.admit(schedule));
    ASSERT_EQ(empty.waiting + empty.active, 0);
    EXPECT_TRUE(run(room.try_forget(schedule, empty.sequence)));
    EXPECT_FALSE(listed());
    join_all(room, schedule, users(1));
    EXPECT_TRUE(listed()) << "no flag after the empty step: the join adds it";
    run(room.try_forget(schedule, empty.sequence + 1));
}

}  // namespace
}  // namespace marquee::queue
