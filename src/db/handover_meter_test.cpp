#include "db/detail/handover_meter.hpp"

#include <chrono>
#include <cstddef>

#include <gtest/gtest.h>

namespace marquee::db::detail {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using TimePoint = HandoverMeter::TimePoint;

constexpr auto kDeadline = milliseconds(5000);  // the pool's default timeout; it refuses beyond half of it

/// `count` hand-overs `gap` apart from `from`; returns the time of the last.
TimePoint hand_over(HandoverMeter& meter, TimePoint from, microseconds gap, std::size_t count) {
    TimePoint at = from;
    for (std::size_t i = 0; i < count; ++i) {
        at += gap;
        meter.handover(at);
    }
    return at;
}

TEST(HandoverMeterTest, EstimatesNothingUntilEnoughHandOversWereMeasured) {
    HandoverMeter meter;
    const TimePoint start{milliseconds(1000)};
    meter.queue_formed(start);
    const TimePoint last = hand_over(meter, start, microseconds(1000), HandoverMeter::kMinMeasured - 1);
    EXPECT_EQ(meter.expected_wait(100, last), HandoverMeter::Duration{0});
    meter.handover(last + microseconds(1000));
    EXPECT_GT(meter.expected_wait(100, last + microseconds(1000)), HandoverMeter::Duration{0});
}

TEST(HandoverMeterTest, TheQueueFormingStartsTheFirstGap) {
    HandoverMeter meter;
    meter.handover(TimePoint{milliseconds(10)});  // no queue had formed: nothing to measure from
    EXPECT_EQ(meter.measured(), 0U);
    meter.queue_formed(TimePoint{milliseconds(20)});
    meter.handover(TimePoint{milliseconds(23)});
    EXPECT_EQ(meter.measured(), 1U);
    EXPECT_EQ(meter.interval(), milliseconds(3));
}

TEST(HandoverMeterTest, AtASteadyRateTheWaitIsTheQueueTimesTheInterval) {
    HandoverMeter meter;
    const TimePoint start{milliseconds(1000)};
    meter.queue_formed(start);
    const TimePoint last = hand_over(meter, start, microseconds(500), 1000);
    EXPECT_EQ(meter.interval(), microseconds(500));
    // 999 queued + the caller itself, 0.5 ms each.
    EXPECT_EQ(meter.expected_wait(999, last), milliseconds(500));
    // A gap in progress shorter than the mean changes nothing.
    EXPECT_EQ(meter.expected_wait(999, last + microseconds(400)), milliseconds(500));
}

// The case that refused callers the pool would have served (ADR 0056): a process that waited 200 ms for a
// core, then handed over what had piled up within a millisecond. The old smoothed gap (1/8 of each new one)
// read such a moment as 9 to 26 ms per hand-over (7 to 21 s for 800 queued callers: refused); the mean over
// the window reads the rate the pool kept.
TEST(HandoverMeterTest, OneLongGapAmongFastHandOversCountsAsItsShareOfTheWindow) {
    HandoverMeter meter;
    const TimePoint start{milliseconds(1000)};
    meter.queue_formed(start);
    TimePoint last = hand_over(meter, start, microseconds(1000), HandoverMeter::kWindow);
    last = hand_over(meter, last, microseconds(200'000), 1);  // descheduled for 200 ms
    last = hand_over(meter, last, microseconds(20), 8);       // the 8 connections' replies, read at once
    // The window: 247 gaps of 1 ms, one of 200 ms and 8 of 20 us.
    const std::chrono::nanoseconds window = microseconds(247 * 1000 + 200'000 + 8 * 20);
    EXPECT_EQ(meter.interval(), window / static_cast<long>(HandoverMeter::kWindow));
    // 800 callers queue (100 fans' worth of statements per connection): 1.4 s, served, not refused.
    const auto wait = meter.expected_wait(800, last);
    EXPECT_LT(wait, kDeadline / 2);
    EXPECT_GT(wait, milliseconds(1000));
}

TEST(HandoverMeterTest, AStalledPoolIsNoticedAsFastAsItsQueueGrows) {
    HandoverMeter meter;
    const TimePoint start{milliseconds(1000)};
    meter.queue_formed(start);
    const TimePoint last = hand_over(meter, start, microseconds(1000), HandoverMeter::kWindow);
    // Nothing handed over for 600 ms: with a short queue the callers wait (they time out alone if it
    // lasts)...
    EXPECT_LT(meter.expected_wait(16, last + milliseconds(600)), kDeadline / 2);
    // ... with the 1,000 callers such a stall gathers at 1,700 arrivals a second, the next is refused.
    EXPECT_GT(meter.expected_wait(1000, last + milliseconds(600)), kDeadline / 2);
    // The gap in progress is part of the estimate: the same queue without it would be served.
    EXPECT_LT(meter.expected_wait(1000, last), kDeadline / 2);
}

TEST(HandoverMeterTest, ASlowPoolStillRefusesALongQueue) {
    HandoverMeter meter;
    const TimePoint start{milliseconds(1000)};
    meter.queue_formed(start);
    // 8 connections at 40 ms a statement: 5 ms between hand-overs, 200 a second.
    const TimePoint last = hand_over(meter, start, microseconds(5000), 500);
    EXPECT_LT(meter.expected_wait(400, last), kDeadline / 2);  // 2.0 s: served
    EXPECT_GT(meter.expected_wait(600, last), kDeadline / 2);  // 3.0 s: refused at once
}

TEST(HandoverMeterTest, TheWindowForgetsOldGaps) {
    HandoverMeter meter;
    const TimePoint start{milliseconds(1000)};
    meter.queue_formed(start);
    TimePoint last = hand_over(meter, start, microseconds(10'000), HandoverMeter::kWindow);
    EXPECT_EQ(meter.interval(), milliseconds(10));
    last = hand_over(meter, last, microseconds(100), HandoverMeter::kWindow);
    EXPECT_EQ(meter.interval(), microseconds(100));
    EXPECT_EQ(meter.measured(), 2 * HandoverMeter::kWindow);
}

}  // namespace
}  // namespace marquee::db::detail
