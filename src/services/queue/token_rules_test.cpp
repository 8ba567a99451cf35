#include "services/queue/token_rules.hpp"

#include <limits>

#include <gtest/gtest.h>

#include "services/queue/store.hpp"

namespace marquee::queue {
namespace {

using namespace std::chrono_literals;

TEST(TokenRules, StatesRoundTripThroughText) {
    for (const auto state : {TokenState::Waiting, TokenState::Active, TokenState::Used, TokenState::Expired,
                             TokenState::PreQueue}) {
        EXPECT_EQ(parse_state(to_string(state)), state);
    }
    EXPECT_EQ(parse_state("waiting"), std::nullopt);
    EXPECT_EQ(parse_state(""), std::nullopt);
}

TEST(TokenRules, OnlyForwardTransitionsAreAllowed) {
    EXPECT_TRUE(can_move(TokenState::Waiting, TokenState::Active));
    EXPECT_TRUE(can_move(TokenState::Waiting, TokenState::Expired));
    EXPECT_TRUE(can_move(TokenState::Active, TokenState::Used));
    EXPECT_TRUE(can_move(TokenState::Active, TokenState::Expired));
    EXPECT_FALSE(can_move(TokenState::Waiting, TokenState::Used));
    EXPECT_FALSE(can_move(TokenState::Active, TokenState::Waiting));
    EXPECT_FALSE(can_move(TokenState::Used, TokenState::Active));
    // ADR 0026: a pre-queued token only ever becomes WAITING (at the opening's shuffle), and ranks below it.
    EXPECT_TRUE(can_move(TokenState::PreQueue, TokenState::Waiting));
    EXPECT_FALSE(can_move(TokenState::PreQueue, TokenState::Active));
    EXPECT_FALSE(can_move(TokenState::Waiting, TokenState::PreQueue));
    EXPECT_LT(state_rank(TokenState::PreQueue), state_rank(TokenState::Waiting));
    EXPECT_FALSE(can_move(TokenState::Expired, TokenState::Active));
    EXPECT_FALSE(can_move(TokenState::Expired, TokenState::Used));
    EXPECT_LT(state_rank(TokenState::Waiting), state_rank(TokenState::Active));
    EXPECT_LT(state_rank(TokenState::Active), state_rank(TokenState::Used));
    EXPECT_EQ(state_rank(TokenState::Used), state_rank(TokenState::Expired));
    EXPECT_TRUE(is_ended(TokenState::Used));
    EXPECT_TRUE(is_ended(TokenState::Expired));
    EXPECT_FALSE(is_ended(TokenState::Active));
}

TEST(TokenRules, EtaRoundsUpToWholeSeconds) {
    EXPECT_EQ(eta_seconds(0, 50), 0);
    EXPECT_EQ(eta_seconds(1, 50), 1);
    EXPECT_EQ(eta_seconds(50, 50), 1);
    EXPECT_EQ(eta_seconds(51, 50), 2);
    EXPECT_EQ(eta_seconds(10'000, 50), 200);
    EXPECT_EQ(eta_seconds(3, 0), 3) << "a zero rate is treated as one per second, never a division by zero";
}

TEST(TokenRules, PollAfterGrowsWithThePlaceInTheQueueWithinBounds) {
    EXPECT_EQ(poll_after_ms(1, 5000), 500) << "the front asks twice a second";
    EXPECT_EQ(poll_after_ms(0, 50), 500);
    EXPECT_EQ(poll_after_ms(400, 5000), 2000) << "5 ms per place ahead when admission is fast";
    EXPECT_EQ(poll_after_ms(400, 50), 2000) << "a quarter of the 8 s ETA";
    EXPECT_EQ(poll_after_ms(2000, 50), 10'000) << "a quarter of the 40 s ETA beats 5 ms per place";
    EXPECT_EQ(poll_after_ms(10'000, 50), 15'000) << "never longer than 15 s";
    EXPECT_EQ(poll_after_ms(10'000, 0), 15'000) << "a zero rate is one per second";
    EXPECT_EQ(poll_after_ms(std::numeric_limits<std::int64_t>::max() / 2, 1), 15'000) << "no overflow";
}

TEST(TokenRules, APausedRoomIsAskedEveryFiveSecondsAtMostAndNeverMoreOftenThanRunning) {
    EXPECT_EQ(paused_poll_after_ms(1, 50), 5'000)
        << "the front does not ask twice a second while nobody moves";
    EXPECT_EQ(paused_poll_after_ms(0, 50), 5'000);
    EXPECT_EQ(paused_poll_after_ms(2000, 50), 10'000) << "the back asks as rarely as it would while running";
    EXPECT_EQ(paused_poll_after_ms(10'000, 50), 15'000) << "never longer than 15 s (the QueueToken maximum)";
}

TEST(TokenRules, BurstPerTickIsRateTimesTickRoundedUpAtLeastOne) {
    EXPECT_EQ(burst_per_tick(50, 500ms), 25);
    EXPECT_EQ(burst_per_tick(3, 500ms), 2);
    EXPECT_EQ(burst_per_tick(1, 100ms), 1);
    EXPECT_EQ(burst_per_tick(0, 500ms), 1);
    EXPECT_EQ(burst_per_tick(1000, 1000ms), 1000);
}

TEST(TokenRules, KeysShareTheScheduleHashTag) {
    EXPECT_EQ(key_prefix(42), "queue:{42}:");
}

TEST(TokenRules, ParsesTheAuditEventTheScriptsWrite) {
    const auto record = parse_audit_event(
        R"({"id":"0f8fad5b-d9cb-469f-a165-70867728950e","user":"u1","schedule":"42","state":"ACTIVE",)"
        R"("seq":"7","issued":"1764150000000","admitted":"1764150001000","expires":"1764150601000","ended":false})");
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    EXPECT_EQ(record->user_id, "u1");
    EXPECT_EQ(record->schedule_id, 42);
    EXPECT_EQ(record->state, TokenState::Active);
    EXPECT_EQ(record->position, 7);
    EXPECT_EQ(record->issued_at, 1764150000000);
    EXPECT_EQ(record->admitted_at, 1764150001000);
    EXPECT_EQ(record->expires_at, 1764150601000);
    EXPECT_EQ(record->ended_at, 0);
    EXPECT_EQ(parse_audit_event("not json"), std::nullopt);
    EXPECT_EQ(
        parse_audit_event(R"({"id":"x","user":"u","schedule":"1","state":"NOPE","seq":"1","issued":"1"})"),
        std::nullopt);
}

TEST(TokenRules, MergeMovesForwardOnly) {
    AuditRecord joined{"t", "u", 1, TokenState::Waiting, 3, 1000, 0, 0, 0};
    AuditRecord admitted{"t", "u", 1, TokenState::Active, 3, 1000, 2000, 9000, 0};
    AuditRecord expired{"t", "u", 1, TokenState::Expired, 3, 1000, 2000, 9000, 9500};

    AuditRecord a = joined;
    merge(a, expired);
    merge(a, admitted);  // arrives late: must not move EXPIRED back to ACTIVE
    EXPECT_EQ(a.state, TokenState::Expired);
    EXPECT_EQ(a.admitted_at, 2000);
    EXPECT_EQ(a.ended_at, 9500);
    EXPECT_EQ(a.expires_at, 9000);
}

TEST(TokenRules, MergeBatchKeepsOneRecordPerToken) {
    std::vector<AuditRecord> batch{{"a", "u", 1, TokenState::Waiting, 1, 10, 0, 0, 0},
                                   {"b", "u2", 1, TokenState::Waiting, 2, 11, 0, 0, 0},
                                   {"a", "u", 1, TokenState::Active, 1, 10, 20, 30, 0}};
    const auto merged = merge_batch(batch);
    ASSERT_EQ(merged.size(), 2u);
    EXPECT_EQ(merged[0].id, "a");
    EXPECT_EQ(merged[0].state, TokenState::Active);
    EXPECT_EQ(merged[1].id, "b");
    EXPECT_EQ(merged[1].state, TokenState::Waiting);
}

}  // namespace
}  // namespace marquee::queue
