#include "services/booking/pass_memory.hpp"

#include <gtest/gtest.h>

namespace marquee::booking {
namespace {

using namespace std::chrono_literals;
using Clock = PassMemory::Clock;

TEST(PassMemory, APassIsFreshForTheBoundAfterItsCheckAndNoLonger) {
    PassMemory passes(1000ms);
    const auto t0 = Clock::now();
    passes.remember("fan-1", 7, "pass-a", t0);
    EXPECT_TRUE(passes.fresh("fan-1", 7, "pass-a", t0));
    EXPECT_TRUE(passes.fresh("fan-1", 7, "pass-a", t0 + 999ms));
    EXPECT_FALSE(passes.fresh("fan-1", 7, "pass-a", t0 + 1000ms));
    EXPECT_EQ(passes.size(), 0U);  // the stale entry went on the way
}

TEST(PassMemory, OnlyTheSameFanScheduleAndPassAreFresh) {
    PassMemory passes(1000ms);
    const auto t0 = Clock::now();
    passes.remember("fan-1", 7, "pass-a", t0);
    EXPECT_FALSE(passes.fresh("fan-2", 7, "pass-a", t0));
    EXPECT_FALSE(passes.fresh("fan-1", 8, "pass-a", t0));
    EXPECT_FALSE(passes.fresh("fan-1", 7, "pass-b", t0));
    EXPECT_FALSE(passes.fresh("fan-1", 7, "", t0));
    // No part can be shifted into another: "fan-1/7/" + "x" is not "fan-1/7" + "/x".
    passes.remember("fan-1", 7, "/x", t0);
    EXPECT_FALSE(passes.fresh("fan-1", 7, "x", t0));
}

TEST(PassMemory, ALaterCheckExtendsAndAnEarlierOneNeverShortens) {
    PassMemory passes(1000ms);
    const auto t0 = Clock::now();
    passes.remember("fan-1", 7, "pass-a", t0 + 500ms);
    passes.remember("fan-1", 7, "pass-a", t0);
    EXPECT_TRUE(passes.fresh("fan-1", 7, "pass-a", t0 + 1400ms));
    EXPECT_FALSE(passes.fresh("fan-1", 7, "pass-a", t0 + 1500ms));
}

TEST(PassMemory, OffRemembersNothing) {
    PassMemory passes(0ms);
    const auto t0 = Clock::now();
    passes.remember("fan-1", 7, "pass-a", t0);
    EXPECT_FALSE(passes.enabled());
    EXPECT_FALSE(passes.fresh("fan-1", 7, "pass-a", t0));
    EXPECT_EQ(passes.size(), 0U);
}

TEST(PassMemory, AFullMemoryDropsTheExpiredPassesFirstThenEverything) {
    PassMemory passes(1000ms, 2);
    const auto t0 = Clock::now();
    passes.remember("old", 1, "p", t0);
    passes.remember("live", 1, "p", t0 + 900ms);
    passes.remember("new", 1, "p", t0 + 1000ms);  // "old" expired at t0 + 1000ms and makes room
    EXPECT_TRUE(passes.fresh("live", 1, "p", t0 + 1000ms));
    EXPECT_TRUE(passes.fresh("new", 1, "p", t0 + 1000ms));
    passes.remember("newest", 1, "p", t0 + 1000ms);  // nothing expired: everything goes
    EXPECT_EQ(passes.size(), 1U);
    EXPECT_FALSE(passes.fresh("live", 1, "p", t0 + 1000ms));
    EXPECT_TRUE(passes.fresh("newest", 1, "p", t0 + 1000ms));
}

}  // namespace
}  // namespace marquee::booking
