#include "http/router.hpp"

#include <gtest/gtest.h>

namespace marquee::http {
namespace {

using Outcome = Router::Match::Outcome;

Handler noop() {
    return [](Context&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

Router sample() {
    Router router;
    router.get("/healthz", noop());
    router.get("/api/v1/concerts", noop());
    router.post("/api/v1/concerts", noop());
    router.get("/api/v1/concerts/{id}", noop());
    router.get("/api/v1/concerts/{id}/schedules", noop());
    router.get("/api/v1/concerts/popular", noop());
    router.get("/api/v1/schedules/{id}/seats/{seatId}", noop());
    return router;
}

TEST(Router, MatchesLiteralRoute) {
    const auto router = sample();
    const auto match = router.match("GET", "/healthz");
    EXPECT_EQ(match.outcome, Outcome::Found);
    EXPECT_EQ(match.pattern, "/healthz");
    EXPECT_NE(match.handler, nullptr);
}

TEST(Router, ExtractsPathParameters) {
    const auto router = sample();
    const auto match = router.match("GET", "/api/v1/schedules/42/seats/A-17");
    ASSERT_EQ(match.outcome, Outcome::Found);
    EXPECT_EQ(match.pattern, "/api/v1/schedules/{id}/seats/{seatId}");
    EXPECT_EQ(match.params, (Fields{{"id", "42"}, {"seatId", "A-17"}}));
}

TEST(Router, LiteralBeatsParameter) {
    const auto router = sample();
    EXPECT_EQ(router.match("GET", "/api/v1/concerts/popular").pattern, "/api/v1/concerts/popular");
    EXPECT_EQ(router.match("GET", "/api/v1/concerts/7").pattern, "/api/v1/concerts/{id}");
}

TEST(Router, FallsBackToParameterWhenLiteralBranchDeadEnds) {
    const auto router = sample();
    const auto match = router.match("GET", "/api/v1/concerts/popular/schedules");
    ASSERT_EQ(match.outcome, Outcome::Found);
    EXPECT_EQ(match.pattern, "/api/v1/concerts/{id}/schedules");
    EXPECT_EQ(match.params, (Fields{{"id", "popular"}}));
}

TEST(Router, DecodesPercentEncodedParameters) {
    const auto router = sample();
    const auto match = router.match("GET", "/api/v1/concerts/a%20b%2Fc");
    ASSERT_EQ(match.outcome, Outcome::Found);
    EXPECT_EQ(match.params, (Fields{{"id", "a b/c"}}));
}

TEST(Router, RejectsInvalidPercentEncoding) {
    EXPECT_EQ(sample().match("GET", "/api/v1/concerts/%zz").outcome, Outcome::BadPath);
}

TEST(Router, UnknownPathIsNotFound) {
    const auto router = sample();
    EXPECT_EQ(router.match("GET", "/nope").outcome, Outcome::NotFound);
    EXPECT_EQ(router.match("GET", "/api/v1").outcome, Outcome::NotFound);
    EXPECT_EQ(router.match("GET", "/api/v1/concerts/1/schedules/extra").outcome, Outcome::NotFound);
    EXPECT_EQ(router.match("GET", "/").outcome, Outcome::NotFound);
}

TEST(Router, EmptySegmentsAndTrailingSlashDoNotMatch) {
    const auto router = sample();
    EXPECT_EQ(router.match("GET", "/healthz/").outcome, Outcome::NotFound);
    EXPECT_EQ(router.match("GET", "/api//v1/concerts").outcome, Outcome::NotFound);
    EXPECT_EQ(router.match("GET", "/api/v1/concerts//schedules").outcome, Outcome::NotFound);
}

TEST(Router, PathWithoutLeadingSlashIsBad) {
    EXPECT_EQ(sample().match("GET", "healthz").outcome, Outcome::BadPath);
    EXPECT_EQ(sample().match("GET", "").outcome, Outcome::BadPath);
}

TEST(Router, WrongMethodListsAllowedMethods) {
    const auto match = sample().match("DELETE", "/api/v1/concerts");
    EXPECT_EQ(match.outcome, Outcome::MethodNotAllowed);
    EXPECT_EQ(match.allowed, (std::vector<std::string>{"GET", "POST"}));
}

TEST(Router, RejectsDuplicateAndMalformedRoutes) {
    Router router;
    router.get("/a/{id}", noop());
    EXPECT_THROW(router.get("/a/{id}", noop()), std::invalid_argument);
    EXPECT_THROW(router.get("no-slash", noop()), std::invalid_argument);
    EXPECT_THROW(router.get("/a//b", noop()), std::invalid_argument);
    EXPECT_THROW(router.get("/a/x{y}", noop()), std::invalid_argument);
}

TEST(Router, RoutesMayNameTheSameSegmentDifferently) {
    Router router;
    router.get("/schedules/{id}/seats", noop());
    router.post("/schedules/{scheduleId}/queue", noop());
    router.get("/schedules/{scheduleId}", noop());
    EXPECT_EQ(router.match("GET", "/schedules/7/seats").params, (Fields{{"id", "7"}}));
    EXPECT_EQ(router.match("POST", "/schedules/7/queue").params, (Fields{{"scheduleId", "7"}}));
    EXPECT_EQ(router.match("GET", "/schedules/7").params, (Fields{{"scheduleId", "7"}}));
}

TEST(Router, ListsRoutesSorted) {
    const auto routes = sample().routes();
    ASSERT_EQ(routes.size(), 7u);
    EXPECT_EQ(routes.front(), (std::pair<std::string, std::string>{"GET", "/api/v1/concerts"}));
    EXPECT_EQ(routes.back(), (std::pair<std::string, std::string>{"GET", "/healthz"}));
}

}  // namespace
}  // namespace marquee::http
