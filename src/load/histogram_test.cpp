#include "load/histogram.hpp"

#include <gtest/gtest.h>

namespace marquee::load {
namespace {

TEST(Histogram, EmptyReportsZeros) {
    const Histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(99), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, SmallValuesAreExact) {
    Histogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.percentile(50), 50u);
    EXPECT_EQ(h.percentile(99), 99u);
    EXPECT_EQ(h.percentile(100), 100u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, BucketsAreContiguousAndWithinOneSixtyFourth) {
    for (int b = 0; b + 1 < Histogram::kBuckets; ++b) {
        ASSERT_EQ(Histogram::highest_in(b) + 1, Histogram::lowest_in(b + 1)) << "bucket " << b;
        ASSERT_EQ(Histogram::bucket_of(Histogram::lowest_in(b)), b);
        ASSERT_EQ(Histogram::bucket_of(Histogram::highest_in(b)), b);
        const auto low = Histogram::lowest_in(b);
        const auto width = Histogram::highest_in(b) - low + 1;
        if (b >= Histogram::kLinear) {
            ASSERT_LE(width * 64, low) << "bucket " << b;
        }
    }
    EXPECT_EQ(Histogram::bucket_of(~std::uint64_t{0}), Histogram::kBuckets - 1);
}

TEST(Histogram, PercentilesOfLargeValuesStayWithinResolution) {
    Histogram h;
    // 990 fast answers of 2 ms and 10 slow ones of 1.5 s: p99 is fast, p99.9 and max are slow.
    h.record(2'000, 990);
    h.record(1'500'000, 10);
    EXPECT_NEAR(static_cast<double>(h.percentile(50)), 2'000, 2'000 / 64.0);
    EXPECT_NEAR(static_cast<double>(h.percentile(99)), 2'000, 2'000 / 64.0);
    EXPECT_NEAR(static_cast<double>(h.percentile(99.9)), 1'500'000, 1'500'000 / 64.0);
    EXPECT_EQ(h.max(), 1'500'000u);
    EXPECT_LE(h.percentile(100), h.max());
}

TEST(Histogram, MergeAddsCountsAndKeepsExtremes) {
    Histogram a;
    Histogram b;
    a.record(10);
    a.record(20);
    b.record(5);
    b.record(70'000);
    a.merge(b);
    EXPECT_EQ(a.count(), 4u);
    EXPECT_EQ(a.min(), 5u);
    EXPECT_EQ(a.max(), 70'000u);
    EXPECT_EQ(a.percentile(50), 10u);
}

}  // namespace
}  // namespace marquee::load
