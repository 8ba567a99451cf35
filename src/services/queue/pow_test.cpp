// ADR 0026: the proof-of-work challenge's verification: one HMAC and one SHA-256, and every way to cheat
// fails.
#include "services/queue/pow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace marquee::queue {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::string_view kUser = "0b7f3a52-8a4e-4c1e-9b59-2f1f4c3d9a10";

class ProofOfWorkTest : public ::testing::Test {
  protected:
    ProofOfWork pow_{"a queue secret of 16+ bytes", 8, std::chrono::seconds(120)};
};

// The hash rule's own tests (leading zero bits, the smallest nonce) are src/pow/pow_test.cpp.
TEST(ProofOfWorkRules, SolveFindsANonceThatSolves) {
    const std::string nonce = pow_solve("challenge", 12);
    EXPECT_TRUE(pow_solves("challenge", nonce, 12));
    EXPECT_TRUE(pow_solves("anything", "x", 0)) << "difficulty 0 asks nothing";
}

TEST_F(ProofOfWorkTest, AGoodAnswerPasses) {
    const PowChallenge c = pow_.issue(kUser, 42, 8, kNow);
    EXPECT_EQ(c.difficulty, 8);
    EXPECT_EQ(c.expires_at_ms, kNow + 120'000);
    const std::string nonce = pow_solve(c.challenge, 8);
    EXPECT_EQ(pow_.verify(c.challenge, nonce, kUser, 42, 8, kNow + 1000), PowVerdict::Ok);
    // Verified by another replica with the same secret.
    const ProofOfWork other("a queue secret of 16+ bytes", 0, std::chrono::seconds(5));
    EXPECT_EQ(other.verify(c.challenge, nonce, kUser, 42, 8, kNow), PowVerdict::Ok);
}

TEST_F(ProofOfWorkTest, AWrongNonceFails) {
    const PowChallenge c = pow_.issue(kUser, 42, 16, kNow);
    const std::string nonce = pow_solve(c.challenge, 16);
    // The next integers almost surely do not solve 16 bits (1 in 65,536 each); find one that does not.
    std::uint64_t wrong = std::stoull(nonce) + 1;
    while (pow_solves(c.challenge, std::to_string(wrong), 16)) ++wrong;
    EXPECT_EQ(pow_.verify(c.challenge, std::to_string(wrong), kUser, 42, 16, kNow), PowVerdict::Invalid);
    EXPECT_EQ(pow_.verify(c.challenge, "", kUser, 42, 16, kNow), PowVerdict::Invalid);
    EXPECT_EQ(pow_.verify(c.challenge, "12a", kUser, 42, 16, kNow), PowVerdict::Invalid);
    EXPECT_EQ(pow_.verify(c.challenge, " " + nonce, kUser, 42, 16, kNow), PowVerdict::Invalid);
}

TEST_F(ProofOfWorkTest, AnotherFansChallengeFails) {
    const PowChallenge c = pow_.issue(kUser, 42, 8, kNow);
    const std::string nonce = pow_solve(c.challenge, 8);
    EXPECT_EQ(pow_.verify(c.challenge, nonce, "11111111-2222-4333-8444-555555555555", 42, 8, kNow),
              PowVerdict::Invalid);
}

TEST_F(ProofOfWorkTest, AnotherSchedulesChallengeFails) {
    const PowChallenge c = pow_.issue(kUser, 42, 8, kNow);
    const std::string nonce = pow_solve(c.challenge, 8);
    EXPECT_EQ(pow_.verify(c.challenge, nonce, kUser, 43, 8, kNow), PowVerdict::Invalid);
}

TEST_F(ProofOfWorkTest, AnExpiredChallengeIsExpired) {
    const PowChallenge c = pow_.issue(kUser, 42, 8, kNow);
    const std::string nonce = pow_solve(c.challenge, 8);
    EXPECT_EQ(pow_.verify(c.challenge, nonce, kUser, 42, 8, c.expires_at_ms), PowVerdict::Expired);
    EXPECT_EQ(pow_.verify(c.challenge, nonce, kUser, 42, 8, c.expires_at_ms - 1), PowVerdict::Ok);
}

TEST_F(ProofOfWorkTest, ATamperedChallengeFails) {
    const PowChallenge c = pow_.issue(kUser, 42, 8, kNow);
    // Lower the difficulty, or push the expiry, and the signature no longer matches.
    std::string easier = c.challenge;
    easier.replace(easier.find(".8."), 3, ".0.");
    EXPECT_EQ(pow_.verify(easier, "0", kUser, 42, 0, kNow), PowVerdict::Invalid);
    std::string later = c.challenge;
    later.replace(later.find(std::to_string(c.expires_at_ms)), 13,
                  std::to_string(c.expires_at_ms + 1'000'000));
    EXPECT_EQ(pow_.verify(later, pow_solve(later, 8), kUser, 42, 8, kNow), PowVerdict::Invalid);
    // A challenge signed with another secret.
    const ProofOfWork forger("not the queue's secret at all", 8, std::chrono::seconds(120));
    const PowChallenge forged = forger.issue(kUser, 42, 8, kNow);
    EXPECT_EQ(pow_.verify(forged.challenge, pow_solve(forged.challenge, 8), kUser, 42, 8, kNow),
              PowVerdict::Invalid);
    EXPECT_EQ(pow_.verify("garbage", "1", kUser, 42, 8, kNow), PowVerdict::Invalid);
    EXPECT_EQ(pow_.verify("", "1", kUser, 42, 8, kNow), PowVerdict::Invalid);
}

TEST_F(ProofOfWorkTest, AChallengeEasierThanTheDifficultyInForceFails) {
    const PowChallenge c = pow_.issue(kUser, 42, 4, kNow);
    const std::string nonce = pow_solve(c.challenge, 4);
    EXPECT_EQ(pow_.verify(c.challenge, nonce, kUser, 42, 4, kNow), PowVerdict::Ok);
    EXPECT_EQ(pow_.verify(c.challenge, pow_solve(c.challenge, 8), kUser, 42, 8, kNow), PowVerdict::Invalid)
        << "the operator raised the difficulty after this challenge was issued";
}

TEST_F(ProofOfWorkTest, TheOperatorOverrideWinsPerSchedule) {
    boost::asio::io_context io;
    auto difficulty = [&](std::int64_t schedule) {
        int out = -1;
        boost::asio::co_spawn(
            io, [&]() -> boost::asio::awaitable<void> { out = co_await pow_.difficulty_for(schedule); },
            boost::asio::detached);
        io.run();
        io.restart();
        return out;
    };
    EXPECT_EQ(difficulty(1), 8);
    pow_.set_schedule_difficulty_override(1, 20);
    EXPECT_EQ(difficulty(1), 20);
    EXPECT_EQ(difficulty(2), 8);
    pow_.set_schedule_difficulty_override(1, std::nullopt);
    EXPECT_EQ(difficulty(1), 8);
    pow_.set_difficulty_override_source(
        [](std::int64_t schedule) -> boost::asio::awaitable<std::optional<int>> {
            co_return schedule == 2 ? std::optional<int>(0) : std::nullopt;
        });
    EXPECT_EQ(difficulty(2), 0);
    EXPECT_EQ(difficulty(3), 8);
}

}  // namespace
}  // namespace marquee::queue
