#include "core/problem.hpp"

#include <gtest/gtest.h>

namespace marquee::core {
namespace {

TEST(Problem, RendersStandardMembersAndExtensions) {
    const auto problem = Problem::conflict("seat-taken", "Seats A1 are already held").with("seats", {"A1"});
    const auto doc = problem.to_json("/api/v1/reservations");
    EXPECT_EQ(doc.at("type").as_string(), "https://marquee.dev/problems/seat-taken");
    EXPECT_EQ(doc.at("title").as_string(), "Conflict");
    EXPECT_EQ(doc.at("status").as_int64(), 409);
    EXPECT_EQ(doc.at("detail").as_string(), "Seats A1 are already held");
    EXPECT_EQ(doc.at("instance").as_string(), "/api/v1/reservations");
    ASSERT_TRUE(doc.at("seats").is_array());
    EXPECT_EQ(doc.at("seats").as_array().at(0).as_string(), "A1");
}

TEST(Problem, InvalidFieldNamesTheField) {
    const auto doc = Problem::invalid_field("email", "must be an email address").to_json();
    EXPECT_EQ(doc.at("status").as_int64(), 400);
    EXPECT_EQ(doc.at("field").as_string(), "email");
    EXPECT_EQ(doc.at("type").as_string(), "https://marquee.dev/problems/invalid-field");
}

TEST(Problem, ExtensionsNeverOverwriteStandardMembers) {
    auto problem = Problem::not_found("no such concert");
    problem.with("status", 200).with("type", "evil");
    const auto doc = problem.to_json();
    EXPECT_EQ(doc.at("status").as_int64(), 404);
    EXPECT_EQ(doc.at("type").as_string(), "https://marquee.dev/problems/not-found");
}

TEST(Problem, UnavailableCarriesRetryAfterAndDependency) {
    const auto problem = Problem::unavailable("redis", "Redis did not answer", std::chrono::seconds{2});
    EXPECT_EQ(problem.status(), 503);
    ASSERT_TRUE(problem.retry_after().has_value());
    EXPECT_EQ(problem.retry_after()->count(), 2);
    EXPECT_EQ(problem.to_json().at("dependency").as_string(), "redis");
}

TEST(Problem, UnauthorizedCarriesBearerChallenge) {
    const auto bare = Problem::unauthorized("no token");
    ASSERT_EQ(bare.headers().size(), 1u);
    EXPECT_EQ(bare.headers()[0].first, "WWW-Authenticate");
    EXPECT_EQ(bare.headers()[0].second, R"(Bearer realm="marquee")");
    const auto bad = Problem::unauthorized("expired", "invalid_token");
    EXPECT_EQ(bad.headers()[0].second, R"(Bearer realm="marquee", error="invalid_token")");
    EXPECT_EQ(bad.status(), 401);
}

TEST(Problem, OmitsEmptyDetailAndInstance) {
    const Problem problem{418, "teapot", "I'm a teapot"};
    const auto doc = problem.to_json();
    EXPECT_FALSE(doc.contains("detail"));
    EXPECT_FALSE(doc.contains("instance"));
    EXPECT_STREQ(problem.what(), "I'm a teapot");
}

}  // namespace
}  // namespace marquee::core
