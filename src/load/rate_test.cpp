#include "load/rate.hpp"

#include <gtest/gtest.h>

namespace marquee::load {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Clock::time_point kStart = Clock::time_point(seconds(1000));

TEST(RateSchedule, DueTimesFollowTheRateWithoutDrift) {
    const RateSchedule schedule(1000, kStart);
    EXPECT_EQ(schedule.due(0), kStart);
    EXPECT_EQ(schedule.due(1), kStart + milliseconds(1));
    EXPECT_EQ(schedule.due(1000), kStart + seconds(1));
    // Computed from the index, not summed: the millionth slot is exactly 1000 s on.
    EXPECT_EQ(schedule.due(1'000'000), kStart + seconds(1000));
}

TEST(RateSchedule, FractionalRatesSpaceRequestsEvenly) {
    const RateSchedule schedule(3, kStart);
    const auto gap = schedule.due(2) - schedule.due(1);
    EXPECT_EQ(schedule.due(1) - schedule.due(0), gap);
    EXPECT_EQ(schedule.due(3), kStart + seconds(1));
}

TEST(RateSchedule, RefusesARateOfZero) {
    EXPECT_THROW(RateSchedule(0, kStart), std::invalid_argument);
    EXPECT_THROW(RateSchedule(-5, kStart), std::invalid_argument);
}

TEST(RateSchedule, LatencyCountsFromTheDueTimeNotTheSendTime) {
    // Due at t, the client was stuck until t + 900 ms, the answer took 10 ms: 910 ms, not 10 ms.
    const RateSchedule schedule(100, kStart);
    const auto due = schedule.due(5);
    const auto sent = due + milliseconds(900);
    const auto done = sent + milliseconds(10);
    EXPECT_EQ(latency_us(due, done), 910'000u);
    EXPECT_EQ(latency_us(sent, done), 10'000u);
    EXPECT_EQ(latency_us(done, due), 0u);
}

TEST(Budget, StopsAtTheCount) {
    Budget budget(3, kStart + seconds(10));
    EXPECT_EQ(budget.claim(kStart), 0u);
    EXPECT_EQ(budget.claim(kStart), 1u);
    EXPECT_EQ(budget.claim(kStart), 2u);
    EXPECT_FALSE(budget.claim(kStart).has_value());
    EXPECT_EQ(budget.claimed(), 3u);
}

TEST(Budget, StopsAtTheDeadline) {
    Budget budget(0, kStart + seconds(10));
    EXPECT_TRUE(budget.claim(kStart + seconds(9)).has_value());
    EXPECT_FALSE(budget.claim(kStart + seconds(10)).has_value());
    EXPECT_EQ(budget.claimed(), 1u);
}

TEST(Pacer, ClosedLoopSendsAtOnceUntilTheDeadline) {
    Pacer pacer(0, kStart, kStart + seconds(10), 0);
    EXPECT_FALSE(pacer.fixed_rate());
    EXPECT_EQ(pacer.per_second(), 0.0);
    const auto first = pacer.claim(kStart);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->index, 0u);
    EXPECT_EQ(first->due, kAtSend);
    EXPECT_EQ(pacer.claim(kStart + seconds(9))->index, 1u);
    EXPECT_FALSE(pacer.claim(kStart + seconds(10)).has_value());
}

TEST(Pacer, FixedRateSlotsAreDueByIndexWhoeverClaimsThem) {
    Pacer pacer(0, kStart, kStart + seconds(10), 4);
    EXPECT_TRUE(pacer.fixed_rate());
    EXPECT_EQ(pacer.per_second(), 4.0);
    // Claimed early: due at the slot. Claimed late (no user was free): still due at the slot, so the wait
    // counts in the latency.
    EXPECT_EQ(pacer.claim(kStart)->due, kStart);
    EXPECT_EQ(pacer.claim(kStart)->due, kStart + milliseconds(250));
    const auto late = pacer.claim(kStart + seconds(3));
    ASSERT_TRUE(late.has_value());
    EXPECT_EQ(late->index, 2u);
    EXPECT_EQ(late->due, kStart + milliseconds(500));
}

TEST(Pacer, FixedRateStopsAtTheLastSlotBeforeTheDeadline) {
    // 4/s for 1 s: slots at 0, 250, 500 and 750 ms; the one at 1 s is past the run, even if claimed early.
    Pacer pacer(0, kStart, kStart + seconds(1), 4);
    for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(pacer.claim(kStart)->index, i);
    EXPECT_FALSE(pacer.claim(kStart).has_value());
    EXPECT_EQ(pacer.claimed(), 4u);
}

TEST(Pacer, CountsTheSlotsDueThatNoUserClaimed) {
    // 10/s for 2 s: 20 slots. Only 5 claimed (every user was busy): 15 due attempts were never sent.
    Pacer pacer(0, kStart, kStart + seconds(2), 10);
    for (int i = 0; i < 5; ++i) pacer.claim(kStart);
    EXPECT_EQ(pacer.due_before(kStart + seconds(5)), 20u);
    EXPECT_EQ(pacer.due_before(kStart + milliseconds(1000)), 10u);
    EXPECT_EQ(pacer.due_before(kStart + milliseconds(1001)), 11u);
    EXPECT_EQ(pacer.due_before(kStart), 0u);
    EXPECT_EQ(Pacer(7, kStart, kStart + seconds(2), 10).due_before(kStart + seconds(5)), 7u);
    Pacer closed(0, kStart, kStart + seconds(2), 0);
    closed.claim(kStart);
    EXPECT_EQ(closed.due_before(kStart + seconds(5)), 1u);
}

TEST(Pacer, FixedRateStopsAtTheCount) {
    Pacer pacer(2, kStart, kStart + seconds(10), 100);
    EXPECT_TRUE(pacer.claim(kStart).has_value());
    EXPECT_TRUE(pacer.claim(kStart).has_value());
    EXPECT_FALSE(pacer.claim(kStart).has_value());
}

}  // namespace
}  // namespace marquee::load
