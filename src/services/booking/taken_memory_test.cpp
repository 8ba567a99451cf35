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

// ADR 0046: from half the bound on, one lookup that may claim is told to ask the database again; the others
// are still refused until the bound, and never after it unless the answer came back.
TEST(TakenMemory, FromHalfTheBoundOneClaimantAsksAgainAndTheOthersAreRefused) {
    TakenMemory memory(1000ms);
    memory.remember(7, {1}, kT0);
    auto known = memory.lookup(7, {1}, kT0 + 499ms, TakenMemory::Claim::Yes);
    EXPECT_EQ(known.seats, Seats{1});
    EXPECT_FALSE(known.refresh);
    // Without a claim, a due refresh is reported but nobody is chosen.
    known = memory.lookup(7, {1}, kT0 + 500ms, TakenMemory::Claim::No);
    EXPECT_TRUE(known.refresh);
    known = memory.lookup(7, {1}, kT0 + 500ms, TakenMemory::Claim::No);
    EXPECT_TRUE(known.refresh);
    // The first claimant is chosen; the next ones are refused from memory.
    known = memory.lookup(7, {1}, kT0 + 500ms, TakenMemory::Claim::Yes);
    EXPECT_EQ(known.seats, Seats{1});
    EXPECT_TRUE(known.refresh);
    known = memory.lookup(7, {1}, kT0 + 501ms, TakenMemory::Claim::Yes);
    EXPECT_EQ(known.seats, Seats{1});
    EXPECT_FALSE(known.refresh);
    EXPECT_FALSE(memory.lookup(7, {1}, kT0 + 600ms, TakenMemory::Claim::No).refresh);
    // Its answer: the seat was taken at kT0 + 500ms, so it is refused until kT0 + 1500ms, due at kT0 +
    // 1000ms.
    memory.remember(7, {1}, kT0 + 500ms);
    known = memory.lookup(7, {1}, kT0 + 999ms, TakenMemory::Claim::Yes);
    EXPECT_EQ(known.seats, Seats{1});
    EXPECT_FALSE(known.refresh);
    known = memory.lookup(7, {1}, kT0 + 1200ms, TakenMemory::Claim::Yes);
    EXPECT_EQ(known.seats, Seats{1});
    EXPECT_TRUE(known.refresh);
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0 + 1500ms).empty());
}

TEST(TakenMemory, AClaimNotAnsweredIsClaimableAgainAfterAQuarterButTheBoundStands) {
    TakenMemory memory(1000ms);
    memory.remember(7, {1}, kT0);
    EXPECT_TRUE(memory.lookup(7, {1}, kT0 + 600ms, TakenMemory::Claim::Yes).refresh);
    EXPECT_FALSE(memory.lookup(7, {1}, kT0 + 849ms, TakenMemory::Claim::Yes).refresh);
    // The claimant never answered (its queue check failed, or it is slow): another one is chosen.
    EXPECT_TRUE(memory.lookup(7, {1}, kT0 + 850ms, TakenMemory::Claim::Yes).refresh);
    EXPECT_FALSE(memory.lookup(7, {1}, kT0 + 900ms, TakenMemory::Claim::Yes).refresh);
    // Claims never lengthen the memory: without an answer the seat lapses at the bound.
    EXPECT_EQ(memory.known_taken(7, {1}, kT0 + 999ms), Seats{1});
    const auto lapsed = memory.lookup(7, {1}, kT0 + 1000ms, TakenMemory::Claim::Yes);
    EXPECT_TRUE(lapsed.seats.empty());
    EXPECT_FALSE(lapsed.refresh);
    EXPECT_EQ(memory.size(), 0u);
}

TEST(TakenMemory, AClaimCoversEverySeatOfTheRequestThatIsDue) {
    TakenMemory memory(1000ms);
    memory.remember(7, {1}, kT0);
    memory.remember(7, {2}, kT0 + 300ms);
    // Seat 1 is due, seat 2 is not: the request is chosen to ask; both are named.
    auto known = memory.lookup(7, {1, 2, 3}, kT0 + 600ms, TakenMemory::Claim::Yes);
    EXPECT_EQ(known.seats, (Seats{1, 2}));
    EXPECT_TRUE(known.refresh);
    // Seat 1 alone is now claimed; seat 2 falls due later and is claimed on its own.
    EXPECT_FALSE(memory.lookup(7, {1}, kT0 + 700ms, TakenMemory::Claim::Yes).refresh);
    EXPECT_TRUE(memory.lookup(7, {2}, kT0 + 800ms, TakenMemory::Claim::Yes).refresh);
}

TEST(TakenMemory, AForgottenSeatIsNeitherRefusedNorRefreshed) {
    TakenMemory memory(1000ms);
    memory.remember(7, {1}, kT0);
    memory.forget(7, {1});
    const auto known = memory.lookup(7, {1}, kT0 + 600ms, TakenMemory::Claim::Yes);
    EXPECT_TRUE(known.seats.empty());
    EXPECT_FALSE(known.refresh);
}

TEST(TakenMemory, BoundZeroIsOff) {
    TakenMemory memory(0ms);
    EXPECT_FALSE(memory.enabled());
    memory.remember(7, {1}, kT0);
    EXPECT_EQ(memory.size(), 0u);
    EXPECT_TRUE(memory.known_taken(7, {1}, kT0).empty());
    EXPECT_FALSE(memory.lookup(7, {1}, kT0, TakenMemory::Claim::Yes).refresh);
}

}  // namespace
}  // namespace marquee::booking
