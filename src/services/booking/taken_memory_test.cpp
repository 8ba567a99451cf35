#include "services/booking/taken_memory.hpp"

#include <gtest/gtest.h>

namespace marquee::booking {
namespace {

using namespace std::chrono_literals;
using Seats = std::vector<std::int64_t>;
constexpr TakenMemory::Clock::time_point kT0{std::chrono::hours(1)};

TEST(TakenMemory, RefusesASeatSeenTakenUntilTheBoundAndNeverAfter) {
    TakenMemory memory(1000ms);
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0).empty());
    memory.remember(7, {1}, kT0);
    EXPECT_EQ(memory.known_taken(7, {1}, kT0), Seats{1});
    EXPECT_EQ(memory.known_taken(7, {1}, kT0 + 999ms), Seats{1});
    // At seen_at + bound it is no longer refused from memory, and the entry is gone.
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0 + 1000ms).empty());
    EXPECT_EQ(memory.size(), 0u);
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0 + 500ms).empty());
}

TEST(TakenMemory, NamesOnlyTheRequestedSeatsItKnowsOfThatSchedule) {
    TakenMemory memory(1000ms);
    memory.remember(7, {2, 4}, kT0);
    EXPECT_EQ(memory.known_taken(7, {1, 2, 3, 4}, kT0), (Seats{2, 4}));
    EXPECT_TRUE(memory.known_taken(7, {1, 3}, kT0).empty());
    EXPECT_TRUE(memory.known_taken(8, {2, 4}, kT0).empty());  // the same seat ids of another schedule
}

TEST(TakenMemory, KeepsTheLaterOfTwoSightings) {
    TakenMemory memory(1000ms);
    memory.remember(7, {1}, kT0 + 500ms);
    memory.remember(7, {1}, kT0);  // an older answer arriving late does not shorten it
    EXPECT_EQ(memory.known_taken(7, {1}, kT0 + 1400ms), Seats{1});
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0 + 1500ms).empty());
}

TEST(TakenMemory, ForgetsReleasedSeatsAtOnce) {
    TakenMemory memory(1000ms);
    memory.remember(7, {1, 2}, kT0);
    memory.forget(7, {1});
    EXPECT_EQ(memory.known_taken(7, {1, 2}, kT0 + 1ms), Seats{2});
}

TEST(TakenMemory, IsBoundedDroppingExpiredSeatsFirstThenEverything) {
    TakenMemory memory(1000ms, 3);
    memory.remember(7, {1, 2}, kT0);
    memory.remember(7, {3}, kT0 + 900ms);
    // Full: the two seats whose deadline passed make room; seat 3 stays.
    memory.remember(7, {4}, kT0 + 1000ms);
    EXPECT_EQ(memory.size(), 2u);
    EXPECT_EQ(memory.known_taken(7, {1, 2, 3, 4}, kT0 + 1000ms), (Seats{3, 4}));
    // Full of live seats: all are forgotten (they go back to Redis and the database), never more than 3.
    memory.remember(7, {5}, kT0 + 1000ms);
    memory.remember(7, {6, 7}, kT0 + 1000ms);
    EXPECT_LE(memory.size(), 3u);
    EXPECT_EQ(memory.known_taken(7, {6, 7}, kT0 + 1000ms), (Seats{6, 7}));
}

TEST(TakenMemory, BoundZeroIsOff) {
    TakenMemory memory(0ms);
    EXPECT_FALSE(memory.enabled());
    memory.remember(7, {1}, kT0);
    EXPECT_EQ(memory.size(), 0u);
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0).empty());
}

}  // namespace
}  // namespace marquee::booking
