#include "core/expiring_set.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace marquee::core {
namespace {

using namespace std::chrono_literals;
using Set = ExpiringSet<std::string>;
constexpr Set::Clock::time_point kT0{std::chrono::hours(1)};

std::vector<std::string> fresh_of(Set& set, const std::vector<std::string>& keys,
                                  Set::Clock::time_point now) {
    std::vector<std::string> out;
    set.for_each_fresh(keys, now, [&out](const std::string& key) { out.push_back(key); });
    return out;
}

TEST(ExpiringSet, AKeyIsFreshForTheBoundAfterItWasSeenAndIsDroppedWhenFoundStale) {
    Set set(1000ms, 8);
    EXPECT_FALSE(set.fresh("a", kT0));
    set.remember("a", kT0);
    EXPECT_TRUE(set.fresh("a", kT0));
    EXPECT_TRUE(set.fresh("a", kT0 + 999ms));
    EXPECT_EQ(set.size(), 1U);
    EXPECT_FALSE(set.fresh("a", kT0 + 1000ms));
    EXPECT_EQ(set.size(), 0U);
    EXPECT_FALSE(set.fresh("a", kT0 + 500ms));  // gone, not merely stale
}

TEST(ExpiringSet, KeepsTheLaterDeadlineOfTwoSightings) {
    Set set(1000ms, 8);
    set.remember("a", kT0 + 500ms);
    set.remember("a", kT0);
    EXPECT_TRUE(set.fresh("a", kT0 + 1499ms));
    EXPECT_FALSE(set.fresh("a", kT0 + 1500ms));
}

TEST(ExpiringSet, RangesAreRememberedCheckedInOrderAndForgotten) {
    Set set(1000ms, 8);
    set.remember_all(std::vector<std::string>{"b", "d"}, kT0);
    EXPECT_EQ(fresh_of(set, {"a", "b", "c", "d"}, kT0), (std::vector<std::string>{"b", "d"}));
    set.forget_all(std::vector<std::string>{"b"});
    EXPECT_EQ(fresh_of(set, {"a", "b", "c", "d"}, kT0), (std::vector<std::string>{"d"}));
    EXPECT_TRUE(fresh_of(set, {"d"}, kT0 + 1000ms).empty());
    EXPECT_EQ(set.size(), 0U);
}

TEST(ExpiringSet, AFullSetDropsTheExpiredKeysFirstThenEverything) {
    Set set(1000ms, 3);
    set.remember_all(std::vector<std::string>{"old-1", "old-2"}, kT0);
    set.remember("live", kT0 + 900ms);
    set.remember("live", kT0 + 950ms);  // already there: needs no room, drops nothing
    EXPECT_EQ(set.size(), 3U);
    set.remember("new", kT0 + 1000ms);  // the two expired keys make room
    EXPECT_EQ(set.size(), 2U);
    EXPECT_TRUE(set.fresh("live", kT0 + 1000ms));
    set.remember("third", kT0 + 1000ms);
    EXPECT_EQ(set.size(), 3U);
    set.remember_all(std::vector<std::string>{"x", "y"}, kT0 + 1000ms);  // nothing expired: everything goes
    EXPECT_EQ(set.size(), 2U);
    EXPECT_FALSE(set.fresh("live", kT0 + 1000ms));
    EXPECT_EQ(fresh_of(set, {"x", "y"}, kT0 + 1000ms), (std::vector<std::string>{"x", "y"}));
}

TEST(ExpiringSet, BoundZeroIsOff) {
    Set set(0ms, 8);
    EXPECT_FALSE(set.enabled());
    set.remember("a", kT0);
    set.remember_all(std::vector<std::string>{"b"}, kT0);
    EXPECT_EQ(set.size(), 0U);
    EXPECT_FALSE(set.fresh("a", kT0));
    EXPECT_TRUE(fresh_of(set, {"b"}, kT0).empty());
}

}  // namespace
}  // namespace marquee::core
