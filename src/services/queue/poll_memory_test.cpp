// ADR 0039: the decision behind a poll answered from memory, and the memory's bookkeeping.
#include "services/queue/poll_memory.hpp"

#include <gtest/gtest.h>

namespace marquee::queue {
namespace {

/// A fan confirmed WAITING at place 40, position 7, when the admitted counter was 100, at steady ms 1,000.
FanMemory fan() {
    return FanMemory{"tok", 40, 7, 100, 1'000, 50'000, 0};
}

/// A view sent at steady ms `read_ms`.
RoomView view(std::int64_t head, std::int64_t admitted, std::int64_t read_ms) {
    RoomView v;
    v.has_head = head >= 0;
    v.head = head;
    v.admitted = admitted;
    v.read_ms = read_ms;
    return v;
}

const MemoryLimits kLimits{1'500, 900'000};

TEST(PollMemoryDecision, WithoutAViewNothingIsDecided) {
    EXPECT_FALSE(decide_position(fan(), std::nullopt, 1'100, kLimits));
}

TEST(PollMemoryDecision, AViewSentBeforeTheConfirmationKeepsTheConfirmedPosition) {
    EXPECT_EQ(decide_position(fan(), view(10, 90, 900), 1'200, kLimits), 7);
    // Sent in the same millisecond as the answer came back: taken as newer, and judged by head and counter.
    EXPECT_FALSE(decide_position(fan(), view(10, 90, 1'000), 1'200, kLimits));
    EXPECT_EQ(decide_position(fan(), view(10, 100, 1'000), 1'200, kLimits), 7);
}

TEST(PollMemoryDecision, ANewerViewMovesThePositionByWhatAdmissionTook) {
    EXPECT_EQ(decide_position(fan(), view(30, 100, 1'100), 1'200, kLimits), 7);
    EXPECT_EQ(decide_position(fan(), view(36, 106, 1'100), 1'200, kLimits), 1);
    EXPECT_EQ(decide_position(fan(), view(40, 106, 1'100), 1'200, kLimits), 1);  // the fan is the head
}

TEST(PollMemoryDecision, AFanThatMayHaveBeenAdmittedGoesToRedis) {
    // The head is past the fan's place: admission (lowest places first) took it, or it ended.
    EXPECT_FALSE(decide_position(fan(), view(41, 107, 1'100), 1'200, kLimits));
    // The waiting set is empty.
    EXPECT_FALSE(decide_position(fan(), view(-1, 107, 1'100), 1'200, kLimits));
    // The counter says more were admitted than were ahead of the fan: something memory cannot see.
    EXPECT_FALSE(decide_position(fan(), view(40, 107, 1'100), 1'200, kLimits));
}

TEST(PollMemoryDecision, AStaleViewALostEpochOrAnOpeningDecideNothing) {
    EXPECT_FALSE(decide_position(fan(), view(30, 100, 1'100), 1'100 + 1'501, kLimits));
    EXPECT_EQ(decide_position(fan(), view(30, 100, 1'100), 1'100 + 1'500, kLimits), 7);
    RoomView lost = view(30, 100, 1'100);
    lost.epoch = false;
    EXPECT_FALSE(decide_position(fan(), lost, 1'200, kLimits));
    RoomView opening = view(30, 100, 1'100);
    opening.pre = 3;
    EXPECT_FALSE(decide_position(fan(), opening, 1'200, kLimits));
}

TEST(PollMemoryDecision, ACounterThatWentBackDecidesNothing) {
    // Redis restarted and lost the counter: the fan's confirmation and the view do not compare.
    EXPECT_FALSE(decide_position(fan(), view(30, 0, 1'100), 1'200, kLimits));
}

TEST(PollMemoryDecision, AFanNotConfirmedForLongGoesToRedis) {
    const MemoryLimits short_limits{1'500, 10'000};
    EXPECT_EQ(decide_position(fan(), view(30, 100, 11'000), 11'000, short_limits), 7);
    EXPECT_FALSE(decide_position(fan(), view(30, 100, 11'001), 11'001, short_limits));
}

TEST(PollMemory, AnswersOnlyRememberedFansOfARoomWithAView) {
    PollMemory memory(kLimits);
    EXPECT_FALSE(memory.answer(5, "u", 1'100, 60'000));
    memory.remember(5, "u", fan());
    EXPECT_FALSE(memory.answer(5, "u", 1'100, 60'000)) << "no view yet";
    memory.note_view(5, view(38, 102, 1'050));
    const auto answer = memory.answer(5, "u", 1'100, 60'000);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->token, "tok");
    EXPECT_EQ(answer->position, 5);
    EXPECT_FALSE(memory.answer(5, "other", 1'100, 60'000));
    EXPECT_FALSE(memory.answer(6, "u", 1'100, 60'000));
    memory.forget(5, "u");
    EXPECT_FALSE(memory.answer(5, "u", 1'100, 60'000));
    EXPECT_EQ(memory.fans(), 0u);
}

TEST(PollMemory, AnOlderViewNeverReplacesANewerOne) {
    PollMemory memory(kLimits);
    memory.remember(5, "u", fan());
    memory.note_view(5, view(38, 102, 1'050));
    memory.note_view(5, view(41, 107, 1'040));  // sent earlier, came back later
    EXPECT_EQ(memory.view(5)->head, 38);
}

TEST(PollMemory, AViewOfARoomWithNoRememberedFansIsNotKept) {
    PollMemory memory(kLimits);
    memory.note_view(5, view(38, 102, 1'050));
    EXPECT_FALSE(memory.view(5));
}

TEST(PollMemory, IsBoundedAndDropsIdleRooms) {
    PollMemory memory(kLimits, 2);
    memory.remember(5, "a", fan());
    memory.remember(5, "b", fan());
    memory.remember(5, "c", fan());  // past the bound: not remembered
    EXPECT_EQ(memory.fans(), 2u);
    memory.remember(5, "a", fan());  // a known fan is updated, not added
    EXPECT_EQ(memory.fans(), 2u);
    memory.remember(9, "z", FanMemory{"t9", 1, 1, 0, 50'000, 0, 0});
    EXPECT_EQ(memory.fans(), 2u);
    const auto kept = memory.schedules(/*now=*/20'000, /*idle=*/30'000);
    EXPECT_EQ(kept, std::vector<std::int64_t>{5});
    EXPECT_TRUE(memory.schedules(/*now=*/31'001, /*idle=*/30'000).empty()) << "idle since 1,000";
    EXPECT_EQ(memory.fans(), 0u);
}

TEST(PollMemory, LastSeenTimesAreDueOnceAndOnlyWhenOld) {
    PollMemory memory(kLimits);
    memory.remember(5, "u", fan());  // Redis saw the fan at epoch ms 50,000
    memory.note_view(5, view(30, 100, 1'050));
    EXPECT_TRUE(memory.due_seen(5, 60'000, 1'000).empty()) << "not polled from memory since";
    ASSERT_TRUE(memory.answer(5, "u", 1'100, 55'000));
    EXPECT_TRUE(memory.due_seen(5, 55'500, 10'000).empty()) << "Redis's time is recent enough";
    const auto due = memory.due_seen(5, 60'000, 10'000);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0], (std::pair<std::string, std::int64_t>{"tok", 55'000}));
    EXPECT_TRUE(memory.due_seen(5, 90'000, 10'000).empty()) << "written once";
    // A script's answer that comes back late never moves the written time back.
    memory.remember(5, "u", fan());
    ASSERT_TRUE(memory.answer(5, "u", 1'100, 91'000));
    const auto again = memory.due_seen(5, 120'000, 10'000);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].second, 91'000);
}

}  // namespace
}  // namespace marquee::queue
