#include "services/queue/admission.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.hpp"
#include "services/queue/install.hpp"

namespace marquee::queue {
namespace {

using namespace std::chrono_literals;

AdmissionLimits limits() {
    AdmissionLimits l;
    l.floor = 10;
    l.ceiling = 1000;
    l.start = 40;
    l.interval = 1000ms;
    return l;
}

/// A synthetic system: purchases complete at `per_s` per second, each taking `purchase_ms` from the first
/// check and `active_ms` in ACTIVE; fans wait and the room is as full as the bound allows.
struct Synthetic {
    std::int64_t now = 1'000'000;
    std::int64_t used = 0;
    std::int64_t busy = 0;
    std::int64_t in_active = 0;

    AdmissionSample second(double per_s, double purchase_ms, double active_ms, std::int64_t active,
                           std::int64_t waiting = 5000, std::uint64_t shed = 0) {
        now += 1000;
        const auto done = static_cast<std::int64_t>(per_s);
        used += done;
        busy += static_cast<std::int64_t>(purchase_ms * static_cast<double>(done));
        in_active += static_cast<std::int64_t>(active_ms * static_cast<double>(done));
        return AdmissionSample{now, used, busy, in_active, waiting, active, shed};
    }
};

TEST(Admission, TheFirstStepStartsAtTheStartBound) {
    Synthetic s;
    const auto d = admission_step({}, s.second(0, 0, 0, 0), limits());
    EXPECT_EQ(d.move, AdmissionMove::Start);
    EXPECT_DOUBLE_EQ(d.next.bound, 40);
    EXPECT_DOUBLE_EQ(d.next.rate, 40);
    EXPECT_TRUE(d.next.probing);
    EXPECT_EQ(d.next.at, s.now);
    EXPECT_EQ(applied_bound(admission_start(limits()).bound), 40);
}

TEST(Admission, TheStartIsClampedIntoFloorAndCeiling) {
    AdmissionLimits l = limits();
    l.start = 5;
    EXPECT_DOUBLE_EQ(admission_start(l).bound, 10);
    l.start = 5000;
    EXPECT_DOUBLE_EQ(admission_start(l).bound, 1000);
    l.floor = 0;
    l.ceiling = 0;
    EXPECT_DOUBLE_EQ(admission_start(l).bound, 1);  // never an empty room
}

TEST(Admission, AStepIsDueOncePerInterval) {
    AdmissionState state;
    EXPECT_TRUE(admission_due(state, 5000, limits()));  // never stepped
    state.at = 5000;
    EXPECT_FALSE(admission_due(state, 5999, limits()));
    EXPECT_TRUE(admission_due(state, 6000, limits()));
    EXPECT_TRUE(admission_due(state, 4000, limits()));  // a clock that went back never freezes it
}

TEST(Admission, SlowStartDoublesWhileTheBoundHoldsFansBackAndPurchasesStayFast) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    auto d = admission_step(state, s.second(100, 50, 300, 40), limits());
    EXPECT_EQ(d.move, AdmissionMove::Increase);
    EXPECT_DOUBLE_EQ(d.next.bound, 80);
    EXPECT_DOUBLE_EQ(d.purchase_ms, 50);
    EXPECT_DOUBLE_EQ(d.next.base_ms, 50);
    EXPECT_DOUBLE_EQ(d.next.throughput, 100);
    d = admission_step(d.next, s.second(200, 55, 300, 80), limits());
    EXPECT_EQ(d.move, AdmissionMove::Increase);
    EXPECT_DOUBLE_EQ(d.next.bound, 160);
}

TEST(Admission, SlowPurchasesDecreaseTheBoundAndEndSlowStart) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state = admission_step(state, s.second(100, 50, 300, 40), limits()).next;     // base 50 ms, bound 80
    const auto d = admission_step(state, s.second(100, 251, 400, 80), limits());  // > 2 x base
    EXPECT_EQ(d.move, AdmissionMove::Decrease);
    EXPECT_DOUBLE_EQ(d.next.bound, 56);
    EXPECT_FALSE(d.next.probing);
    // Afterwards the increase is additive: start / 4 per step.
    const auto e = admission_step(d.next, s.second(100, 60, 300, 56), limits());
    EXPECT_EQ(e.move, AdmissionMove::Increase);
    EXPECT_DOUBLE_EQ(e.next.bound, 66);
}

TEST(Admission, PurchasesWithinTheBudgetAreNotCongestionEvenAtTwiceTheBase) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state = admission_step(state, s.second(100, 20, 300, 40), limits()).next;  // base 20 ms
    Synthetic t = s;
    const auto d = admission_step(state, s.second(100, 75, 400, 80), limits());  // within the 80 ms budget
    EXPECT_EQ(d.move, AdmissionMove::Increase);
    AdmissionLaw strict;
    strict.budget_ms = 0;
    EXPECT_EQ(admission_step(state, t.second(100, 75, 400, 80), limits(), strict).move,
              AdmissionMove::Decrease);
}

TEST(Admission, PoolShedsAreCongestionEvenWhenPurchasesLookFast) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    const auto d = admission_step(state, s.second(100, 50, 300, 40, 5000, /*shed=*/3), limits());
    EXPECT_EQ(d.move, AdmissionMove::Decrease);
    EXPECT_DOUBLE_EQ(d.next.bound, 28);
}

TEST(Admission, TheBoundStaysWithinFloorAndCeiling) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    for (int i = 0; i < 50; ++i) {
        state = admission_step(state, s.second(100, 50, 300, 1000000), limits()).next;
        EXPECT_LE(state.bound, 1000);
    }
    EXPECT_DOUBLE_EQ(state.bound, 1000);
    for (int i = 0; i < 50; ++i) {
        state = admission_step(state, s.second(100, 50, 300, 1000, 5000, /*shed=*/1), limits()).next;
        EXPECT_GE(state.bound, 10);
    }
    EXPECT_DOUBLE_EQ(state.bound, 10);
}

TEST(Admission, ItHoldsWhenNobodyWaitsOrTheRoomIsNotFull) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    auto d = admission_step(state, s.second(100, 50, 300, 40, /*waiting=*/0), limits());
    EXPECT_EQ(d.move, AdmissionMove::Hold);
    EXPECT_DOUBLE_EQ(d.next.bound, 40);
    d = admission_step(d.next, s.second(100, 50, 300, /*active=*/10), limits());
    EXPECT_EQ(d.move, AdmissionMove::Hold);
    EXPECT_DOUBLE_EQ(d.next.bound, 40);
}

TEST(Admission, TooFewCompletionsSayNothingAboutLatency) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state = admission_step(state, s.second(100, 50, 300, 40), limits()).next;  // base 50
    // Three purchases of 500 ms each: below min_samples, no verdict either way (and no growth, ADR 0019).
    const auto d = admission_step(state, s.second(3, 500, 900, 80), limits());
    EXPECT_EQ(d.move, AdmissionMove::Hold);
    EXPECT_DOUBLE_EQ(d.purchase_ms, 0);
    EXPECT_DOUBLE_EQ(d.next.base_ms, 50);
}

TEST(Admission, IntervalsWithTooFewCompletionsDoNotGrowTheBound) {
    // A stalled sale (the machine starved, a pool or Redis queue in the way): fans wait, the room is full,
    // and almost nothing completes. Growing the bound on no evidence admitted thousands into the stall.
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state = admission_step(state, s.second(100, 50, 300, 40), limits()).next;  // measured and fast: 80
    ASSERT_DOUBLE_EQ(state.bound, 80);
    for (int i = 0; i < 30; ++i) {
        const auto d = admission_step(state, s.second(i % 4, 50, 300, 80), limits());
        EXPECT_EQ(d.move, AdmissionMove::Hold) << "step " << i;
        state = d.next;
    }
    EXPECT_DOUBLE_EQ(state.bound, 80);
    // Evidence again, fast: growth resumes where it stopped.
    EXPECT_EQ(admission_step(state, s.second(100, 50, 300, 80), limits()).move, AdmissionMove::Increase);
}

TEST(Admission, TheBaseFollowsTheFastestRecentPurchaseAndCreepsUpSlowly) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state = admission_step(state, s.second(100, 80, 300, 0, 0), limits()).next;
    EXPECT_DOUBLE_EQ(state.base_ms, 80);
    state = admission_step(state, s.second(100, 40, 300, 0, 0), limits()).next;
    EXPECT_DOUBLE_EQ(state.base_ms, 40);
    state = admission_step(state, s.second(100, 70, 300, 0, 0), limits()).next;
    EXPECT_DOUBLE_EQ(state.base_ms, 40 * 1.02);
}

TEST(Admission, TheRateRefillsTheRoomTwicePerTimeInActive) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    // Room not full, bound 40; fans spend 500 ms in ACTIVE: 2 x 40 / 0.5 s = 160/s.
    const auto d = admission_step(state, s.second(50, 50, 500, 10), limits());
    EXPECT_DOUBLE_EQ(d.next.rate, 160);
    // Unmeasured (no completions): 2 x bound per second, and never below what was in force.
    const auto e = admission_step(d.next, s.second(0, 0, 0, 10), limits());
    EXPECT_DOUBLE_EQ(e.next.rate, 160);
}

TEST(Admission, ConvergesNearTheKneeOfASaturatingSystem) {
    // A system that completes at most 300 purchases/s; a purchase takes 40 ms plus queueing, fans spend
    // 200 ms in ACTIVE before their first check. In-flight purchases = bound x 40 / 240 (Little).
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    double best = 0;
    for (int i = 0; i < 120; ++i) {
        const double bound = std::floor(state.bound);
        const double unconstrained = bound / 0.24;  // purchases/s if nothing queued
        const double per_s = std::min(300.0, unconstrained);
        const double queueing_ms = per_s < 300 ? 0 : (bound / 300.0) * 1000 - 240;
        state =
            admission_step(
                state, s.second(per_s, 40 + queueing_ms, 240 + queueing_ms, static_cast<std::int64_t>(bound)),
                limits())
                .next;
        if (i >= 60) best = std::max(best, per_s);
    }
    // The knee is 72 fans (300/s x 240 ms); the bound settles between it and where purchases take 2x base.
    EXPECT_GE(state.bound, 50);
    EXPECT_LE(state.bound, 200);  // where purchases reach the 80 ms budget: 84 fans
    EXPECT_DOUBLE_EQ(best, 300);
}

TEST(Admission, AStoredStateThatMakesNoSenseStartsOver) {
    Synthetic s;
    AdmissionState broken;
    broken.at = 5;
    broken.bound = std::numeric_limits<double>::quiet_NaN();
    broken.rate = 10;
    const auto d = admission_step(broken, s.second(10, 50, 50, 10), limits());
    EXPECT_EQ(d.move, AdmissionMove::Start);
    EXPECT_DOUBLE_EQ(d.next.bound, 40);
    EXPECT_EQ(applied_bound(std::numeric_limits<double>::infinity()), 1);
    EXPECT_EQ(applied_bound(0.5), 1);
    EXPECT_EQ(applied_bound(12.9), 12);
}

TEST(Admission, CountersThatWentBackwardsRestartTheDeltas) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state = admission_step(state, s.second(100, 50, 300, 40), limits()).next;
    AdmissionSample reset{s.now + 1000, 2, 100, 600, 5000, 80, 0};
    const auto d = admission_step(state, reset, limits());
    EXPECT_NE(d.move, AdmissionMove::Decrease);
    EXPECT_EQ(d.next.used, 2);
    EXPECT_GE(d.next.throughput, 0);
}

// ADR 0045: the slow start's cap from the pool's measured capacity.

TEST(Admission, ThePoolCapIsTheBudgetOverTheHandOverInterval) {
    EXPECT_DOUBLE_EQ(pool_cap(0.4), 200);  // 8 connections at 2,500 statements/s: 200 fans within 80 ms
    EXPECT_DOUBLE_EQ(pool_cap(0.8), 100);
    EXPECT_DOUBLE_EQ(pool_cap(0), 0) << "unmeasured: no cap";
    EXPECT_DOUBLE_EQ(pool_cap(-1), 0);
    EXPECT_DOUBLE_EQ(pool_cap(std::numeric_limits<double>::quiet_NaN()), 0);
    AdmissionLaw law;
    law.budget_ms = 100;
    EXPECT_DOUBLE_EQ(pool_cap(1.25, law), 80);
}

TEST(Admission, TheSlowStartStopsAtWhatThePoolServesWithinTheBudget) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;  // 40
    AdmissionSample sample = s.second(100, 50, 300, 40);
    sample.handover_ms = 0.8;  // cap 100
    auto d = admission_step(state, sample, limits());
    EXPECT_EQ(d.move, AdmissionMove::Increase);
    EXPECT_DOUBLE_EQ(d.next.bound, 80) << "below the cap the slow start still doubles";
    EXPECT_TRUE(d.next.probing);
    EXPECT_FALSE(d.capped);
    EXPECT_DOUBLE_EQ(d.pool_cap, 100);
    EXPECT_DOUBLE_EQ(d.next.handover_ms, 0.8);

    sample = s.second(200, 55, 300, 80);
    sample.handover_ms = 0.8;
    d = admission_step(d.next, sample, limits());
    EXPECT_EQ(d.move, AdmissionMove::Increase);
    EXPECT_DOUBLE_EQ(d.next.bound, 100) << "160 would pass the cap: it stops at 100";
    EXPECT_FALSE(d.next.probing) << "the slow start ends at the cap";
    EXPECT_TRUE(d.capped);

    // Afterwards: additive growth (start / 4 = 10), no longer capped.
    sample = s.second(200, 55, 300, 100);
    sample.handover_ms = 0.8;
    d = admission_step(d.next, sample, limits());
    EXPECT_EQ(d.move, AdmissionMove::Increase);
    EXPECT_DOUBLE_EQ(d.next.bound, 110);
    EXPECT_FALSE(d.capped);
}

TEST(Admission, ABoundAlreadyAtThePoolCapEndsTheSlowStartWithoutGrowing) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;  // 40
    AdmissionSample sample = s.second(100, 50, 300, 40);
    sample.handover_ms = 3.2;  // cap 25: below the bound in force
    const auto d = admission_step(state, sample, limits());
    EXPECT_EQ(d.move, AdmissionMove::Hold);
    EXPECT_DOUBLE_EQ(d.next.bound, 40) << "the cap stops growth; only congestion decreases";
    EXPECT_FALSE(d.next.probing);
    EXPECT_TRUE(d.capped);
}

TEST(Admission, WithoutAMeasurementTheSlowStartDoublesAsBefore) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    for (const double expected : {80.0, 160.0, 320.0, 640.0}) {
        const auto d = admission_step(state, s.second(1000, 50, 300, 1000000), limits());
        EXPECT_DOUBLE_EQ(d.next.bound, expected);
        EXPECT_DOUBLE_EQ(d.pool_cap, 0);
        state = d.next;
    }
    EXPECT_TRUE(state.probing);
}

TEST(Admission, TheSharedStateCarriesTheLastMeasurementToReplicasWithoutOne) {
    // Replica A measured the pool; replica B, whose pool has not queued yet, takes the next step: the
    // interval stored in the shared state caps its doubling all the same.
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    AdmissionSample a = s.second(100, 50, 300, 40);
    a.handover_ms = 0.64;  // cap 125
    state = admission_step(state, a, limits()).next;
    ASSERT_DOUBLE_EQ(state.bound, 80);
    ASSERT_DOUBLE_EQ(state.handover_ms, 0.64);
    const auto b = admission_step(state, s.second(200, 50, 300, 80), limits());  // B: handover_ms 0
    EXPECT_DOUBLE_EQ(b.next.bound, 125);
    EXPECT_TRUE(b.capped);
    EXPECT_DOUBLE_EQ(b.next.handover_ms, 0.64) << "a step without a measurement keeps the stored one";
    // A later measurement replaces it (the pool got faster or slower).
    AdmissionSample c = s.second(200, 50, 300, 125);
    c.handover_ms = 1;
    EXPECT_DOUBLE_EQ(admission_step(b.next, c, limits()).next.handover_ms, 1);
}

TEST(Admission, CongestionStillDecreasesUnderThePoolCap) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    AdmissionSample sample = s.second(100, 50, 300, 40, 5000, /*shed=*/2);
    sample.handover_ms = 1;
    const auto d = admission_step(state, sample, limits());
    EXPECT_EQ(d.move, AdmissionMove::Decrease);
    EXPECT_DOUBLE_EQ(d.next.bound, 28);
    EXPECT_FALSE(d.capped);
}

TEST(Admission, AnOperatorsFixedBoundIsNotMovedByThePoolCap) {
    // A fixed bound is floor = ceiling = start (Scheduler::control): the cap cannot move it either way.
    AdmissionLimits fixed = limits();
    fixed.floor = fixed.ceiling = fixed.start = 500;
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), fixed).next;
    AdmissionSample sample = s.second(100, 50, 300, 500);
    sample.handover_ms = 3.2;  // cap 25
    const auto d = admission_step(state, sample, fixed);
    EXPECT_DOUBLE_EQ(d.next.bound, 500);
    EXPECT_EQ(applied_bound(d.next.bound), 500);
}

TEST(Admission, ABrokenStoredIntervalIsForgotten) {
    Synthetic s;
    AdmissionState state = admission_step({}, s.second(0, 0, 0, 0), limits()).next;
    state.handover_ms = std::numeric_limits<double>::infinity();
    const auto d = admission_step(state, s.second(100, 50, 300, 40), limits());
    EXPECT_DOUBLE_EQ(d.next.handover_ms, 0);
    EXPECT_DOUBLE_EQ(d.next.bound, 80);
}

core::Config config_of(const std::vector<std::pair<std::string, std::string>>& env) {
    auto lookup = [env](std::string_view name) -> std::optional<std::string> {
        for (const auto& [k, v] : env) {
            if (k == name) return v;
        }
        return std::nullopt;
    };
    return *core::parse_config({}, lookup);
}

TEST(Admission, ByDefaultBothNumbersAreAutomatic) {
    const Settings s = settings_from(config_of({}));
    EXPECT_TRUE(s.auto_max_active);
    EXPECT_TRUE(s.auto_admit_rate);
    EXPECT_EQ(s.admission.floor, 16u);
    EXPECT_EQ(s.admission.ceiling, 2000u);
    EXPECT_EQ(s.admission.start, 64u);
    EXPECT_EQ(s.admission.interval, 1000ms);
}

TEST(Admission, AnOperatorsFixedNumbersOverrideEachOnItsOwn) {
    Settings s = settings_from(config_of({{"MARQUEE_QUEUE_MAX_ACTIVE", "200"}}));
    EXPECT_FALSE(s.auto_max_active);
    EXPECT_EQ(s.max_active, 200u);
    EXPECT_TRUE(s.auto_admit_rate);
    s = settings_from(config_of({{"MARQUEE_QUEUE_ADMIT_PER_SECOND", "5000"}}));
    EXPECT_TRUE(s.auto_max_active);
    EXPECT_FALSE(s.auto_admit_rate);
    EXPECT_EQ(s.admit_per_second, 5000u);
    s = settings_from(
        config_of({{"MARQUEE_QUEUE_MAX_ACTIVE", "auto"}, {"MARQUEE_QUEUE_ADMISSION_START", "100"}}));
    EXPECT_TRUE(s.auto_max_active);
    EXPECT_EQ(s.admission.start, 100u);
}

}  // namespace
}  // namespace marquee::queue
