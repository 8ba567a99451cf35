#include "pow/pow.hpp"

#include <string>

#include <gtest/gtest.h>

namespace marquee::pow {
namespace {

TEST(ProofOfWorkHash, LeadingZeroBits) {
    const unsigned char a[] = {0x00, 0x00, 0x0f, 0xff};
    EXPECT_EQ(leading_zero_bits(a, sizeof(a)), 20);
    const unsigned char b[] = {0x80, 0x00};
    EXPECT_EQ(leading_zero_bits(b, sizeof(b)), 0);
    const unsigned char c[] = {0x00, 0x00};
    EXPECT_EQ(leading_zero_bits(c, sizeof(c)), 16);
    const unsigned char d[] = {0x01};
    EXPECT_EQ(leading_zero_bits(d, sizeof(d)), 7);
    EXPECT_EQ(leading_zero_bits(d, 0), 0);
}

TEST(ProofOfWorkHash, SolveFindsTheSmallestNonceThatSolves) {
    const std::uint64_t nonce = solve("challenge", 10);
    EXPECT_TRUE(solves("challenge", std::to_string(nonce), 10));
    for (std::uint64_t smaller = 0; smaller < nonce; ++smaller) {
        ASSERT_FALSE(solves("challenge", std::to_string(smaller), 10)) << smaller;
    }
    EXPECT_FALSE(solves("another challenge", std::to_string(nonce), 24)) << "24 bits are not found by chance";
}

TEST(ProofOfWorkHash, DifficultyZeroAsksNothing) {
    EXPECT_TRUE(solves("anything", "x", 0));
    EXPECT_TRUE(solves("anything", "", -1));
    EXPECT_EQ(solve("anything", 0), 0U);
}

}  // namespace
}  // namespace marquee::pow
