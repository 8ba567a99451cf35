#include "services/auth/routes.hpp"

#include <string>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "services/auth/credential_rules.hpp"

namespace marquee::auth {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

json::object user_json(const User& user) {
    json::array roles;
    for (const auto& role : roles_of(user.role)) roles.emplace_back(role);
    return json::object{{"id", user.id},
                        {"email", user.email},
                        {"displayName", user.display_name},
                        {"roles", std::move(roles)},
                        {"createdAt", core::to_rfc3339(user.created_at)}};
}

http::Response tokens_json(const TokenPair& pair) {
    http::Response response = http::json(json::object{{"accessToken", pair.access_token},
                                                      {"tokenType", "Bearer"},
                                                      {"expiresIn", pair.expires_in},
                                                      {"refreshToken", pair.refresh_token}});
    // RFC 6749 section 5.1: token responses are never cached.
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

}  // namespace

void Routes::add_to(http::Router& router) {
    router.post("/api/v1/auth/signup", [this](http::Context& ctx) { return signup(ctx); });
    router.post("/api/v1/auth/login", [this](http::Context& ctx) { return login(ctx); });
    router.post("/api/v1/auth/refresh", [this](http::Context& ctx) { return refresh(ctx); });
    router.post("/api/v1/auth/logout", [this](http::Context& ctx) { return logout(ctx); });
    router.get("/api/v1/auth/me", [this](http::Context& ctx) { return me(ctx); });
}

// POST /api/v1/auth/signup {email, password, displayName} -> 201 the user.
asio::awaitable<http::Response> Routes::signup(http::Context& ctx) {
    SignupRequest request = signup_request_from(ctx.json_object());
    const User user = co_await service_.signup(std::move(request.email), std::move(request.password),
                                               std::move(request.display_name));
    co_return http::created(user_json(user), "/api/v1/auth/me");
}

// POST /api/v1/auth/login {email, password} -> 200 access and refresh token.
asio::awaitable<http::Response> Routes::login(http::Context& ctx) {
    LoginRequest request = login_request_from(ctx.json_object());
    std::string address(ctx.remote_address());
    const TokenPair pair =
        co_await service_.login(std::move(request.email), std::move(request.password), std::move(address));
    co_return tokens_json(pair);
}

// POST /api/v1/auth/refresh {refreshToken} -> 200 a new pair; the presented token is used up.
asio::awaitable<http::Response> Routes::refresh(http::Context& ctx) {
    std::string token = refresh_token_from(ctx.json_object());
    const TokenPair pair = co_await service_.refresh(std::move(token));
    co_return tokens_json(pair);
}

// POST /api/v1/auth/logout {refreshToken} -> 204; the token's family is revoked.
asio::awaitable<http::Response> Routes::logout(http::Context& ctx) {
    std::string token = refresh_token_from(ctx.json_object());
    co_await service_.logout(std::move(token));
    co_return http::no_content();
}

// GET /api/v1/auth/me -> 200 the user of the access token.
asio::awaitable<http::Response> Routes::me(http::Context& ctx) {
    std::string user_id = ctx.user().user_id;
    const User user = co_await service_.get_user(std::move(user_id));
    co_return http::json(user_json(user));
}

}  // namespace marquee::auth
