#include "db/params.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/problem.hpp"

namespace marquee::db {
namespace {

TEST(Params, ConvertsNumbersAndBoolsToPostgresText) {
    const Params p = Params{}
                         .add(std::int64_t{-42})
                         .add(std::numeric_limits<std::uint64_t>::max())
                         .add(7)
                         .add(true)
                         .add(false)
                         .add(0.1)
                         .add(std::numeric_limits<double>::quiet_NaN())
                         .add(-std::numeric_limits<double>::infinity());
    ASSERT_EQ(p.size(), 8u);
    EXPECT_EQ(p.text(0), "-42");
    EXPECT_EQ(p.text(1), "18446744073709551615");
    EXPECT_EQ(p.text(2), "7");
    EXPECT_EQ(p.text(3), "true");
    EXPECT_EQ(p.text(4), "false");
    EXPECT_EQ(p.text(5), "0.1");
    EXPECT_EQ(p.text(6), "NaN");
    EXPECT_EQ(p.text(7), "-Infinity");
}

TEST(Params, KeepsStringsByteForByte) {
    const std::string quoted = "O'Brien\"; DROP TABLE x; --";
    const Params p = params(quoted, "콘서트 🎫", std::string_view("\\x"));
    EXPECT_EQ(p.text(0), quoted);
    EXPECT_EQ(p.text(1), "콘서트 🎫");
    EXPECT_EQ(p.text(2), "\\x");
    EXPECT_FALSE(p.is_null(0));
}

TEST(Params, NulloptAndEmptyOptionalAreNull) {
    const Params p = params(std::nullopt, std::optional<std::int64_t>{}, std::optional<std::int64_t>{5},
                            std::optional<std::string>{"a"});
    EXPECT_TRUE(p.is_null(0));
    EXPECT_TRUE(p.is_null(1));
    EXPECT_FALSE(p.is_null(2));
    EXPECT_EQ(p.text(2), "5");
    EXPECT_EQ(p.text(3), "a");
}

TEST(Params, VariadicHelperMatchesBuilder) {
    const Params built = Params{}.add(1).add("two").add(std::nullopt);
    const Params helped = params(1, "two", std::nullopt);
    ASSERT_EQ(built.size(), helped.size());
    for (std::size_t i = 0; i < built.size(); ++i) {
        EXPECT_EQ(built.is_null(i), helped.is_null(i));
        EXPECT_EQ(built.text(i), helped.text(i));
    }
}

TEST(Params, TimePointIsSentAsUtcWithMicroseconds) {
    using namespace std::chrono;
    const core::TimePoint t =
        sys_days{year{2026} / 11 / 26} + hours{9} + minutes{5} + seconds{7} + microseconds{123456};
    EXPECT_EQ(params(t).text(0), "2026-11-26 09:05:07.123456+00");
}

TEST(Params, TextWithNulIsRefusedAsBadRequest) {
    const std::string with_nul("a\0b", 3);
    try {
        Params{}.add(with_nul);
        FAIL() << "expected a Problem";
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 400);
    }
}

}  // namespace
}  // namespace marquee::db
