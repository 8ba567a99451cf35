#include "http/context.hpp"

#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "problem_field.hpp"

namespace marquee::http {
namespace {

Context make(std::string target, std::string body = {}, std::string content_type = "application/json") {
    return Context("POST", std::move(target),
                   Fields{{"Content-Type", std::move(content_type)}, {"X-Thing", "1"}}, std::move(body),
                   "rid");
}

TEST(Context, SplitsPathAndQuery) {
    const auto ctx = make("/api/v1/concerts?limit=10&cursor=abc");
    EXPECT_EQ(ctx.path(), "/api/v1/concerts");
    EXPECT_EQ(ctx.query("limit"), "10");
    EXPECT_EQ(ctx.query("cursor"), "abc");
    EXPECT_EQ(ctx.query("missing"), std::nullopt);
}

TEST(Context, DecodesQueryValues) {
    const auto ctx = make("/x?q=rock+%26+roll&flag&empty=");
    EXPECT_EQ(ctx.query("q"), "rock & roll");
    EXPECT_EQ(ctx.query("flag"), "");
    EXPECT_EQ(ctx.query("empty"), "");
}

TEST(Context, MalformedQueryIsBadRequest) {
    const auto ctx = make("/x?q=%zz");
    EXPECT_EQ(test::status_of_problem([&] { (void)ctx.query("q"); }), 400);
}

TEST(Context, HeadersAreCaseInsensitive) {
    const auto ctx = make("/x");
    EXPECT_EQ(ctx.header("x-thing"), "1");
    EXPECT_EQ(ctx.header("CONTENT-TYPE"), "application/json");
    EXPECT_EQ(ctx.header("absent"), std::nullopt);
}

TEST(Context, ParsesJsonObjectBody) {
    const auto ctx = make("/x", R"({"seatIds":[1,2]})");
    EXPECT_EQ(ctx.json_object().at("seatIds").as_array().size(), 2u);
}

TEST(Context, AcceptsStructuredJsonMediaTypes) {
    EXPECT_NO_THROW((void)make("/x", "{}", "application/merge-patch+json").json());
    EXPECT_NO_THROW((void)make("/x", "{}", "Application/JSON; charset=utf-8").json());
}

TEST(Context, MalformedJsonIs400) {
    const auto ctx = make("/x", R"({"a":)");
    try {
        (void)ctx.json();
        FAIL();
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 400);
        EXPECT_EQ(p.type(), "malformed-json");
    }
}

TEST(Context, NonObjectBodyIs400ForJsonObject) {
    EXPECT_EQ(test::status_of_problem([] { (void)make("/x", "[1,2]").json_object(); }), 400);
}

TEST(Context, WrongContentTypeIs415) {
    EXPECT_EQ(test::status_of_problem([] { (void)make("/x", "{}", "text/plain").json(); }), 415);
    EXPECT_EQ(test::status_of_problem([] { (void)make("/x", "{}", "application/jsonx").json(); }), 415);
}

TEST(Context, DeeplyNestedJsonIsRejected) {
    const std::string deep = std::string(1000, '[') + std::string(1000, ']');
    EXPECT_EQ(test::status_of_problem([&] { (void)make("/x", deep).json(); }), 400);
}

TEST(Context, IdParamMustBePositiveInteger) {
    auto ctx = make("/c/12");
    ctx.set_route("/c/{id}", {{"id", "12"}});
    EXPECT_EQ(ctx.id_param("id"), 12);
    ctx.set_route("/c/{id}", {{"id", "-1"}});
    EXPECT_EQ(test::status_of_problem([&] { (void)ctx.id_param("id"); }), 400);
    ctx.set_route("/c/{id}", {{"id", "12abc"}});
    EXPECT_EQ(test::status_of_problem([&] { (void)ctx.id_param("id"); }), 400);
    ctx.set_route("/c/{id}", {{"id", "99999999999999999999"}});
    EXPECT_EQ(test::status_of_problem([&] { (void)ctx.id_param("id"); }), 400);
}

class FixedAuthenticator : public Authenticator {
  public:
    Principal authenticate(std::string_view token) const override {
        ++calls;
        if (token == "good") return Principal{"u-1", {"fan"}};
        if (token == "boss") return Principal{"u-2", {"fan", "admin"}};
        throw core::Problem::unauthorized("bad token", "invalid_token");
    }
    mutable int calls = 0;
};

Context with_authorization(std::string value) {
    return Context("GET", "/x", Fields{{"Authorization", std::move(value)}}, {}, "rid");
}

TEST(Context, UserComesFromBearerTokenAndIsVerifiedOnce) {
    FixedAuthenticator auth;
    auto ctx = with_authorization("Bearer good");
    ctx.set_authenticator(&auth);
    EXPECT_EQ(ctx.user().user_id, "u-1");
    EXPECT_EQ(ctx.user().user_id, "u-1");
    EXPECT_EQ(auth.calls, 1);
}

TEST(Context, BearerSchemeIsCaseInsensitive) {
    FixedAuthenticator auth;
    auto ctx = with_authorization("bEaReR good");
    ctx.set_authenticator(&auth);
    EXPECT_EQ(ctx.user().user_id, "u-1");
}

TEST(Context, MissingOrMalformedAuthorizationIs401WithChallenge) {
    FixedAuthenticator auth;
    Context none("GET", "/x", Fields{}, {}, "rid");
    none.set_authenticator(&auth);
    try {
        (void)none.user();
        FAIL();
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 401);
        ASSERT_FALSE(p.headers().empty());
        EXPECT_EQ(p.headers()[0].first, "WWW-Authenticate");
    }
    for (const auto* header : {"Basic abc", "Bearer", "Bearer ", "Token good"}) {
        auto ctx = with_authorization(header);
        ctx.set_authenticator(&auth);
        EXPECT_EQ(test::status_of_problem([&] { (void)ctx.user(); }), 401) << header;
    }
    auto bad = with_authorization("Bearer forged");
    bad.set_authenticator(&auth);
    EXPECT_EQ(test::status_of_problem([&] { (void)bad.user(); }), 401);
}

TEST(Context, NoAuthenticatorMeans401) {
    auto ctx = with_authorization("Bearer good");
    EXPECT_EQ(test::status_of_problem([&] { (void)ctx.user(); }), 401);
}

TEST(Context, RequireRoleIs403WithoutTheRole) {
    FixedAuthenticator auth;
    auto fan = with_authorization("Bearer good");
    fan.set_authenticator(&auth);
    EXPECT_EQ(test::status_of_problem([&] { (void)fan.require_role("admin"); }), 403);
    auto admin = with_authorization("Bearer boss");
    admin.set_authenticator(&auth);
    EXPECT_EQ(admin.require_role("admin").user_id, "u-2");
}

}  // namespace
}  // namespace marquee::http
