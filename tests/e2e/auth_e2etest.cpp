// End to end: sign-up, login, the current user, refresh-token rotation and reuse, logout, rate limits and
// bearer-token rejection, through the real binary (docs/sequences/auth-login-refresh.md).
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "jwt/base64url.hpp"
#include "jwt/token.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kPassword = "Tickets-2026";

json::object json_of(const HttpReply& reply) {
    return json::parse(reply.body).as_object();
}

std::string unique_email() {
    return unique_name("fan") + "@Example.com";
}

HttpReply post(std::uint16_t port, const std::string& target, const json::object& body) {
    const std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
    return http_request(port, "POST", target, json::serialize(body), headers);
}

HttpReply me(std::uint16_t port, const std::string& token) {
    return http_request(port, "GET", "/api/v1/auth/me", {}, {{"Authorization", "Bearer " + token}});
}

std::string read_file(const std::string& path) {
    std::ifstream file(path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

/// The local signing key (.local/keys, written by scripts/dev), so the test can mint tokens the server
/// would accept apart from what the test changes.
jwt::PrivateKey local_private_key() {
    return jwt::PrivateKey::from_pem(read_file(local_setting("MARQUEE_JWT_PRIVATE_KEY_FILE")));
}

void expect_problem(const HttpReply& reply, unsigned status, std::string_view type) {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(reply.headers.count("content-type") ? reply.headers.at("content-type") : "",
              "application/problem+json");
    if (reply.status == status) {
        EXPECT_EQ(json_of(reply).at("type").as_string(), "https://marquee.dev/problems/" + std::string(type));
    }
}

void expect_invalid_token(const HttpReply& reply) {
    expect_problem(reply, 401, "unauthorized");
    ASSERT_TRUE(reply.headers.count("www-authenticate"));
    EXPECT_EQ(reply.headers.at("www-authenticate"), R"(Bearer realm="marquee", error="invalid_token")");
}

class AuthEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // Every test logs in from 127.0.0.1: keep the per-address limit out of the way here (it has its
        // own test below).
        process_ = new MarqueeProcess({"--service=auth"}, {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    /// Signs up a fresh user; returns the email as given.
    static std::string signup() {
        std::string email = unique_email();
        const auto reply = post(port(), "/api/v1/auth/signup",
                                {{"email", email}, {"password", kPassword}, {"displayName", "Kim Fan"}});
        EXPECT_EQ(reply.status, 201) << reply.body;
        return email;
    }
    static json::object login(const std::string& email) {
        const auto reply = post(port(), "/api/v1/auth/login", {{"email", email}, {"password", kPassword}});
        EXPECT_EQ(reply.status, 200) << reply.body;
        return json_of(reply);
    }

    static MarqueeProcess* process_;
};
MarqueeProcess* AuthEndToEnd::process_ = nullptr;

TEST_F(AuthEndToEnd, SignupThenLoginThenMe) {
    const std::string email = unique_email();
    const auto created = post(port(), "/api/v1/auth/signup",
                              {{"email", email}, {"password", kPassword}, {"displayName", "  Kim Fan "}});
    ASSERT_EQ(created.status, 201) << created.body;
    const auto user = json_of(created);
    std::string lower = email;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(user.at("email").as_string(), lower);
    EXPECT_EQ(user.at("displayName").as_string(), "Kim Fan");
    EXPECT_FALSE(user.contains("password"));
    EXPECT_FALSE(user.contains("passwordHash"));
    EXPECT_EQ(created.headers.at("location"), "/api/v1/auth/me");

    const auto reply = post(port(), "/api/v1/auth/login", {{"email", lower}, {"password", kPassword}});
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.headers.at("cache-control"), "no-store");
    const auto tokens = json_of(reply);
    EXPECT_EQ(tokens.at("tokenType").as_string(), "Bearer");
    EXPECT_EQ(tokens.at("expiresIn").as_int64(), 900);
    EXPECT_EQ(tokens.at("refreshToken").as_string().size(), 43u);

    const auto who = me(port(), std::string(tokens.at("accessToken").as_string()));
    ASSERT_EQ(who.status, 200) << who.body;
    EXPECT_EQ(json_of(who).at("id"), user.at("id"));
    EXPECT_EQ(json_of(who).at("roles"), json::array{"fan"});
}

TEST_F(AuthEndToEnd, DuplicateEmailInAnyCaseIsConflict) {
    const std::string email = signup();
    std::string upper = email;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto reply = post(port(), "/api/v1/auth/signup",
                            {{"email", upper}, {"password", kPassword}, {"displayName", "Again"}});
    expect_problem(reply, 409, "email-taken");
}

TEST_F(AuthEndToEnd, BadSignupInputsNameTheField) {
    const auto field_of = [](const json::object& body) {
        const auto reply = post(port(), "/api/v1/auth/signup", body);
        expect_problem(reply, 400, "invalid-field");
        return reply.status == 400 ? std::string(json_of(reply).at("field").as_string()) : std::string();
    };
    const std::string email = unique_email();
    EXPECT_EQ(field_of({{"email", "not-an-email"}, {"password", kPassword}, {"displayName", "K"}}), "email");
    EXPECT_EQ(field_of({{"password", kPassword}, {"displayName", "K"}}), "email");
    EXPECT_EQ(field_of({{"email", 42}, {"password", kPassword}, {"displayName", "K"}}), "email");
    EXPECT_EQ(field_of({{"email", email}, {"password", "short1"}, {"displayName", "K"}}), "password");
    EXPECT_EQ(field_of({{"email", email}, {"password", "onlylowercaseletters"}, {"displayName", "K"}}),
              "password");
    EXPECT_EQ(field_of({{"email", email}, {"password", std::string(129, 'a') + "1"}, {"displayName", "K"}}),
              "password");
    EXPECT_EQ(field_of({{"email", email}, {"password", json::array{}}, {"displayName", "K"}}), "password");
    EXPECT_EQ(field_of({{"email", email}, {"password", kPassword}, {"displayName", " "}}), "displayName");
    EXPECT_EQ(field_of({{"email", email}, {"password", kPassword}, {"displayName", std::string(51, 'x')}}),
              "displayName");
    EXPECT_EQ(field_of({{"email", email}, {"password", kPassword}, {"displayName", nullptr}}), "displayName");
    // None of them created the account.
    EXPECT_EQ(
        post(port(), "/api/v1/auth/signup", {{"email", email}, {"password", kPassword}, {"displayName", "K"}})
            .status,
        201);
}

TEST_F(AuthEndToEnd, WrongPasswordAndUnknownEmailAnswerAlike) {
    const std::string email = signup();
    const auto wrong =
        post(port(), "/api/v1/auth/login", {{"email", email}, {"password", "Wrong-password-1"}});
    const auto unknown =
        post(port(), "/api/v1/auth/login", {{"email", unique_email()}, {"password", "Wrong-password-1"}});
    expect_problem(wrong, 401, "invalid-credentials");
    EXPECT_EQ(wrong.status, unknown.status);
    EXPECT_EQ(wrong.body, unknown.body);  // the request id is a header, not part of the body
    auto headers_without_id = [](std::map<std::string, std::string> h) {
        h.erase("x-request-id");
        h.erase("traceparent");  // a new span per request, like the request id
        h.erase("date");
        return h;
    };
    EXPECT_EQ(headers_without_id(wrong.headers), headers_without_id(unknown.headers));
}

TEST_F(AuthEndToEnd, RefreshRotatesAndReusingARotatedTokenRevokesTheFamily) {
    const auto first = login(signup());
    const std::string r1(first.at("refreshToken").as_string());
    const auto second = post(port(), "/api/v1/auth/refresh", {{"refreshToken", r1}});
    ASSERT_EQ(second.status, 200) << second.body;
    const std::string r2(json_of(second).at("refreshToken").as_string());
    EXPECT_NE(r1, r2);
    EXPECT_EQ(me(port(), std::string(json_of(second).at("accessToken").as_string())).status, 200);

    // r1 was used: presenting it again means it leaked. Refused, and r2 (the family) dies with it.
    expect_problem(post(port(), "/api/v1/auth/refresh", {{"refreshToken", r1}}), 401,
                   "invalid-refresh-token");
    expect_problem(post(port(), "/api/v1/auth/refresh", {{"refreshToken", r2}}), 401,
                   "invalid-refresh-token");
    expect_problem(post(port(), "/api/v1/auth/refresh", {{"refreshToken", "made-up"}}), 401,
                   "invalid-refresh-token");
}

TEST_F(AuthEndToEnd, LogoutRevokesTheRefreshToken) {
    const auto tokens = login(signup());
    const std::string refresh(tokens.at("refreshToken").as_string());
    EXPECT_EQ(post(port(), "/api/v1/auth/logout", {{"refreshToken", refresh}}).status, 204);
    EXPECT_EQ(post(port(), "/api/v1/auth/logout", {{"refreshToken", refresh}}).status, 204);  // idempotent
    expect_problem(post(port(), "/api/v1/auth/refresh", {{"refreshToken", refresh}}), 401,
                   "invalid-refresh-token");
}

TEST_F(AuthEndToEnd, MeRejectsMissingForgedExpiredAndUnsignedTokens) {
    const auto missing = http_request(port(), "GET", "/api/v1/auth/me");
    expect_problem(missing, 401, "unauthorized");
    EXPECT_EQ(missing.headers.at("www-authenticate"), R"(Bearer realm="marquee")");

    const auto tokens = login(signup());
    const std::string valid(tokens.at("accessToken").as_string());
    const auto now = std::chrono::system_clock::now();

    const jwt::Signer forger(jwt::PrivateKey::from_raw(jwt::random_bytes(32)), "k1");
    expect_invalid_token(me(port(), forger.issue("someone", {"fan", "admin"}, now, 15min)));

    const jwt::Signer local(local_private_key(), "k1");
    expect_invalid_token(me(port(), local.issue("someone", {"fan"}, now - 1h, 15min)));  // expired

    const std::string payload = valid.substr(valid.find('.') + 1, valid.rfind('.') - valid.find('.') - 1);
    expect_invalid_token(
        me(port(), jwt::base64url_encode(R"({"alg":"none","typ":"JWT","kid":"k1"})") + "." + payload + "."));
    expect_invalid_token(me(port(), valid.substr(0, valid.size() - 2) + (valid.back() == 'A' ? "BB" : "AA")));
    expect_invalid_token(me(port(), std::string(9000, 'a')));
    EXPECT_EQ(me(port(), valid).status, 200);
}

TEST(AuthRateLimits, AccountIsLockedAfterTheConfiguredFailures) {
    MarqueeProcess process({"--service=auth"}, {{"MARQUEE_LOGIN_ATTEMPTS_PER_ACCOUNT", "3"},
                                                {"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"}});
    const std::string email = unique_email();
    ASSERT_EQ(post(process.port(), "/api/v1/auth/signup",
                   {{"email", email}, {"password", kPassword}, {"displayName", "K"}})
                  .status,
              201);
    for (int i = 0; i < 3; ++i) {
        expect_problem(
            post(process.port(), "/api/v1/auth/login", {{"email", email}, {"password", "Wrong-pass-1"}}), 401,
            "invalid-credentials");
    }
    // Locked now, even with the right password; an unknown account locks the same way.
    const auto locked =
        post(process.port(), "/api/v1/auth/login", {{"email", email}, {"password", kPassword}});
    expect_problem(locked, 429, "rate-limited");
    ASSERT_TRUE(locked.headers.count("retry-after"));
    const int retry = std::stoi(locked.headers.at("retry-after"));
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 60);
}

TEST(AuthRateLimits, AnAddressIsLimitedAcrossAccounts) {
    // The per-address counter is shared with every other test logging in from 127.0.0.1 in this minute,
    // so only "a 429 comes within limit + 1 attempts" is certain, not which attempt it is.
    MarqueeProcess process({"--service=auth"}, {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "2"}});
    bool limited = false;
    for (int i = 0; i < 4 && !limited; ++i) {
        const auto reply = post(process.port(), "/api/v1/auth/login",
                                {{"email", unique_email()}, {"password", "Wrong-pass-1"}});
        if (reply.status == 429) {
            limited = true;
            expect_problem(reply, 429, "rate-limited");
            EXPECT_TRUE(reply.headers.count("retry-after"));
        } else {
            expect_problem(reply, 401, "invalid-credentials");
        }
    }
    EXPECT_TRUE(limited);
}

// ADR 0056 (amended): a login that would wait, or has waited, in the logins' lane longer than
// --login-lane-max-wait-ms is answered 503 problem+json with Retry-After, not left to the client's timeout. A
// pool of 2 gives the lane one place, which each login holds through its Argon2 verification (tens of ms), so
// of 8 logins sent at once some wait past a bound of 1 ms; without the bound every one of them would wait its
// turn.
TEST(AuthLoginLane, ALoginThatWaitsPastTheBoundIsAnswered503WithRetryAfter) {
    MarqueeProcess process({"--service=auth", "--db-pool-size=2", "--login-lane-max-wait-ms=1"},
                           {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"}});
    const std::string email = unique_email();
    ASSERT_EQ(post(process.port(), "/api/v1/auth/signup",
                   {{"email", email}, {"password", kPassword}, {"displayName", "K"}})
                  .status,
              201);
    std::optional<HttpReply> refused;
    int logged_in = 0;
    for (int round = 0; round < 5 && !refused; ++round) {
        std::vector<HttpReply> replies(8);
        std::vector<std::thread> fans;
        fans.reserve(replies.size());
        for (std::size_t i = 0; i < replies.size(); ++i) {
            fans.emplace_back([&, i] {
                replies[i] =
                    post(process.port(), "/api/v1/auth/login", {{"email", email}, {"password", kPassword}});
            });
        }
        for (auto& fan : fans) fan.join();
        for (const HttpReply& reply : replies) {
            if (reply.status == 200) {
                ++logged_in;
            } else if (reply.status == 503) {
                refused = reply;
            } else {
                ADD_FAILURE() << "a login answered " << reply.status << ": " << reply.body;
            }
        }
    }
    EXPECT_GT(logged_in, 0);
    ASSERT_TRUE(refused.has_value()) << "no login was refused for waiting past 1 ms in a lane of one place";
    expect_problem(*refused, 503, "dependency-unavailable");
    ASSERT_TRUE(refused->headers.count("retry-after"));
    EXPECT_EQ(refused->headers.at("retry-after"), "1");
    const json::object problem = json_of(*refused);
    EXPECT_EQ(problem.at("dependency").as_string(), "postgres");
    EXPECT_NE(
        std::string(problem.at("detail").as_string()).find("too many logins are waiting for the database"),
        std::string::npos)
        << refused->body;
}

std::string startup_failure(const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& env) {
    try {
        MarqueeProcess process(args, env);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "marquee started";
    return {};
}

TEST(AuthStartup, ServicesRefuseToStartWithoutVerificationKeys) {
    const std::string output = startup_failure({"--service=auth"}, {{"MARQUEE_JWT_PUBLIC_KEYS", ""}});
    EXPECT_NE(output.find("MARQUEE_JWT_PUBLIC_KEYS"), std::string::npos) << output;
}

TEST(AuthStartup, AuthRefusesToStartWithoutItsSigningKey) {
    const std::string output =
        startup_failure({"--service=auth"}, {{"MARQUEE_JWT_PRIVATE_KEY_FILE", "/nonexistent/jwt.pem"}});
    EXPECT_NE(output.find("/nonexistent/jwt.pem"), std::string::npos) << output;
}

TEST(AuthStartup, GatewayAloneRunsWithoutKeys) {
    MarqueeProcess gateway({"--service=gateway"},
                           {{"MARQUEE_JWT_PUBLIC_KEYS", ""}, {"MARQUEE_JWT_PRIVATE_KEY_FILE", ""}});
    EXPECT_EQ(http_request(gateway.port(), "GET", "/healthz").status, 200u);
}

}  // namespace
}  // namespace marquee::test
