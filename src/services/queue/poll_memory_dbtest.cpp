// ADR 0039: polls answered from process memory, against real Redis. Two WaitingRoom objects on the same keys
// stand for two processes: one answers polls, the other admits.
#include <thread>

#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

std::int64_t steady_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

class PollMemoryDbTest : public testing::RedisTest {
  protected:
    /// Whether memory alone can answer the fan now (without noting a poll far in the future).
    std::optional<std::int64_t> from_memory(WaitingRoom& room, std::int64_t schedule,
                                            const std::string& user) {
        const auto answer = room.memory().answer(schedule, user, steady_now(), 0);
        if (!answer) return std::nullopt;
        return answer->position;
    }

    Settings settings_ = test_settings(/*max_active=*/1);
    std::shared_ptr<WaitingRoom> polls_ = std::make_shared<WaitingRoom>(redis_, settings_);
    std::shared_ptr<WaitingRoom> admits_ = std::make_shared<WaitingRoom>(redis_, settings_);
};

TEST_F(PollMemoryDbTest, AWaitingFanIsAnsweredFromMemoryAndAnAdmittedOneIsToldActiveAfterTheRefresh) {
    const auto schedule = unique_schedule();
    const std::vector<std::string> fans{unique_user(), unique_user(), unique_user()};
    for (const auto& fan : fans) {
        ASSERT_EQ(run(polls_->join(fan, schedule)).status.state, TokenState::Waiting);
    }
    EXPECT_FALSE(from_memory(*polls_, schedule, fans[2])) << "no view of the room yet";

    run(polls_->refresh_memory());
    EXPECT_EQ(from_memory(*polls_, schedule, fans[2]), 3);
    const auto third = run(polls_->poll_status(fans[2], schedule));
    ASSERT_TRUE(third);
    EXPECT_EQ(third->state, TokenState::Waiting);
    EXPECT_EQ(third->position, run(polls_->find_status(fans[2], schedule))->position);

    // Another process admits the first fan. After this process's next refresh, memory knows it cannot say.
    ASSERT_EQ(run(admits_->admit(schedule)).admitted, 1);
    run(polls_->refresh_memory());
    EXPECT_FALSE(from_memory(*polls_, schedule, fans[0]));
    const auto first = run(polls_->poll_status(fans[0], schedule));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->state, TokenState::Active);
    EXPECT_GT(first->expires_at, 0);
    EXPECT_FALSE(from_memory(*polls_, schedule, fans[0])) << "an ACTIVE fan is forgotten";
    // The others moved up by one, from memory, as Redis says.
    EXPECT_EQ(from_memory(*polls_, schedule, fans[1]), 1);
    EXPECT_EQ(from_memory(*polls_, schedule, fans[2]), 2);
    EXPECT_EQ(run(polls_->poll_status(fans[2], schedule))->position,
              run(admits_->find_status(fans[2], schedule))->position);

    // The first buys; the second is admitted by the other process; a refresh later it is told ACTIVE.
    ASSERT_TRUE(run(admits_->release(schedule, first->token)));
    ASSERT_EQ(run(admits_->admit(schedule)).admitted, 1);
    run(polls_->refresh_memory());
    EXPECT_EQ(run(polls_->poll_status(fans[1], schedule))->state, TokenState::Active);
    EXPECT_EQ(run(polls_->poll_status(fans[0], schedule))->state, TokenState::Used);
    const auto last = run(polls_->poll_status(fans[2], schedule));
    EXPECT_EQ(last->state, TokenState::Waiting);
    EXPECT_EQ(last->position, 1);
}

TEST_F(PollMemoryDbTest, ThisProcesssOwnAdmissionIsSeenAtOnce) {
    const auto schedule = unique_schedule();
    const auto first = unique_user();
    const auto second = unique_user();
    run(polls_->join(first, schedule));
    run(polls_->join(second, schedule));
    run(polls_->refresh_memory());
    ASSERT_EQ(from_memory(*polls_, schedule, first), 1);
    ASSERT_EQ(run(polls_->admit(schedule)).admitted, 1);  // no refresh in between
    EXPECT_FALSE(from_memory(*polls_, schedule, first));
    EXPECT_EQ(run(polls_->poll_status(first, schedule))->state, TokenState::Active);
    EXPECT_EQ(from_memory(*polls_, schedule, second), 1);
}

TEST_F(PollMemoryDbTest, ALostRoomGoesBackToRedis) {
    const auto schedule = unique_schedule();
    const auto fan = unique_user();
    run(polls_->join(fan, schedule));
    run(polls_->refresh_memory());
    ASSERT_EQ(from_memory(*polls_, schedule, fan), 1);
    // The waiting set is gone (Redis lost the schedule): the next refresh sees an empty room.
    std::vector<std::string> del{"DEL", key_prefix(schedule) + "waiting"};
    run(redis_.command(std::move(del)));
    run(polls_->refresh_memory());
    EXPECT_FALSE(from_memory(*polls_, schedule, fan));
    EXPECT_EQ(run(polls_->poll_status(fan, schedule))->state, TokenState::Expired);
}

TEST_F(PollMemoryDbTest, PollsAnsweredFromMemoryAreWrittenBackAsLastSeen) {
    Settings settings = settings_;
    settings.waiting_ttl = 40ms;  // written back once Redis's last-seen time is 10 ms old
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    const auto schedule = unique_schedule();
    const auto fan = unique_user();
    const auto gone = unique_user();
    const auto joined = run(room->join(fan, schedule)).status;
    const auto other = run(room->join(gone, schedule)).status;
    std::vector<std::string> zrem{"ZREM", key_prefix(schedule) + "seen", other.token};
    run(redis_.command(std::move(zrem)));  // no longer waiting (as an admission or an expiry leaves it)
    std::this_thread::sleep_for(20ms);
    const std::int64_t later = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count() +
                               60'000;
    // Polls answered from memory at `later` (the memory's record, as answer() leaves it).
    room->memory().remember(schedule, fan, FanMemory{joined.token, 1, 1, 0, steady_now(), 0, later});
    room->memory().remember(schedule, gone, FanMemory{other.token, 2, 2, 0, steady_now(), 0, later});
    run(room->refresh_memory());
    std::vector<std::string> zscore{"ZSCORE", key_prefix(schedule) + "seen", joined.token};
    EXPECT_EQ(run(redis_.command(std::move(zscore))).as_string(), std::to_string(later));
    std::vector<std::string> absent{"ZSCORE", key_prefix(schedule) + "seen", other.token};
    EXPECT_TRUE(run(redis_.command(std::move(absent))).is_nil()) << "XX: never put back";
}

}  // namespace
}  // namespace marquee::queue
