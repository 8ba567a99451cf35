#include "core/expiring_set.hpp"

#include <string>
#include <utility>
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

// ExpiringMap: the same deadlines with a value per key (TakenMemory's refresh instant, ADR 0046).
using Map = ExpiringMap<std::string, int>;

std::vector<std::pair<std::string, int>> fresh_of(Map& map, const std::vector<std::string>& keys,
                                                  Map::Clock::time_point now) {
    std::vector<std::pair<std::string, int>> out;
    map.for_each_fresh(keys, now,
                       [&out](const std::string& key, int& value) { out.emplace_back(key, value); });
    return out;
}

using Pairs = std::vector<std::pair<std::string, int>>;

TEST(ExpiringMap, AValueIsFoundWithItsKeyForTheBoundAndGoesWithItWhenStale) {
    Map map(1000ms, 8);
    map.remember("a", kT0, 1);
    map.remember_all(std::vector<std::string>{"b", "c"}, kT0 + 500ms, 2);
    EXPECT_EQ(fresh_of(map, {"c", "x", "a", "b"}, kT0 + 999ms), (Pairs{{"c", 2}, {"a", 1}, {"b", 2}}));
    EXPECT_EQ(fresh_of(map, {"a", "b"}, kT0 + 1000ms), (Pairs{{"b", 2}}));
    EXPECT_EQ(map.size(), 2U);  // "a" lapsed and was dropped on the way
    EXPECT_FALSE(map.fresh("a", kT0 + 500ms));
    EXPECT_TRUE(map.fresh("c", kT0 + 1499ms));
    EXPECT_FALSE(map.fresh("c", kT0 + 1500ms));
}

TEST(ExpiringMap, ALaterSightingTakesItsValueAnEarlierOrTheSameOneChangesNothing) {
    Map map(1000ms, 8);
    map.remember("a", kT0 + 500ms, 1);
    map.remember("a", kT0, 2);  // older: neither its deadline nor its value
    EXPECT_EQ(fresh_of(map, {"a"}, kT0 + 1499ms), (Pairs{{"a", 1}}));
    map.remember_all(std::vector<std::string>{"a"}, kT0 + 500ms, 3);  // the same deadline: the value stays
    EXPECT_EQ(fresh_of(map, {"a"}, kT0 + 1499ms), (Pairs{{"a", 1}}));
    map.remember("a", kT0 + 600ms, 4);  // later: both
    EXPECT_EQ(fresh_of(map, {"a"}, kT0 + 1599ms), (Pairs{{"a", 4}}));
    EXPECT_TRUE(fresh_of(map, {"a"}, kT0 + 1600ms).empty());
}

TEST(ExpiringMap, AValueChangedInPlaceIsKeptButNotItsDeadline) {
    Map map(1000ms, 8);
    map.remember_all(std::vector<std::string>{"a", "b"}, kT0, 1);
    map.for_each_fresh(std::vector<std::string>{"b"}, kT0 + 100ms,
                       [](const std::string&, int& value) { value = 7; });
    EXPECT_EQ(fresh_of(map, {"a", "b"}, kT0 + 999ms), (Pairs{{"a", 1}, {"b", 7}}));
    EXPECT_TRUE(fresh_of(map, {"a", "b"}, kT0 + 1000ms).empty());
    EXPECT_EQ(map.size(), 0U);
}

TEST(ExpiringMap, IsBoundedDroppingTheExpiredKeysFirstThenEverything) {
    Map map(1000ms, 3);
    map.remember_all(std::vector<std::string>{"old-1", "old-2"}, kT0, 1);
    map.remember("live", kT0 + 900ms, 2);
    map.remember("new", kT0 + 1000ms, 3);  // the two expired keys make room, "live" keeps its value
    EXPECT_EQ(map.size(), 2U);
    EXPECT_EQ(fresh_of(map, {"old-1", "live", "new"}, kT0 + 1000ms), (Pairs{{"live", 2}, {"new", 3}}));
    map.remember_all(std::vector<std::string>{"x", "y"}, kT0 + 1000ms, 4);  // nothing expired: all go
    EXPECT_EQ(map.size(), 2U);
    EXPECT_EQ(fresh_of(map, {"live", "new", "x", "y"}, kT0 + 1000ms), (Pairs{{"x", 4}, {"y", 4}}));
    map.forget_all(std::vector<std::string>{"x"});
    EXPECT_EQ(fresh_of(map, {"x", "y"}, kT0 + 1000ms), (Pairs{{"y", 4}}));
}

TEST(ExpiringMap, BoundZeroIsOff) {
    Map map(0ms, 8);
    EXPECT_FALSE(map.enabled());
    map.remember("a", kT0, 1);
    map.remember_all(std::vector<std::string>{"b"}, kT0, 2);
    EXPECT_EQ(map.size(), 0U);
    EXPECT_FALSE(map.fresh("a", kT0));
    EXPECT_TRUE(fresh_of(map, {"b"}, kT0).empty());
}

}  // namespace
}  // namespace marquee::core
