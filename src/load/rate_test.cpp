#include "load/rate.hpp"

#include <gtest/gtest.h>

namespace marquee::load {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kStart = Clock::time_point(seconds(1000));

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

}  // namespace
}  // namespace marquee::load
