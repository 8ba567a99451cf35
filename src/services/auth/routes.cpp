#include "services/auth/routes.hpp"

#include <string>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/problem.hpp"

namespace marquee::auth {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

/// A required string member; 400 invalid-field naming it when absent or not a string.
std::string string_field(const json::object& body, std::string_view name) {
    const json::value* value = body.if_contains(name);
    if (value == nullptr)
        throw core::Problem::invalid_field(std::string(name), std::string(name) + " is required");
    const json::string* text = value->if_string();
    if (text == nullptr)
        throw core::Problem::invalid_field(std::string(name), std::string(name) + " must be a string");
    return std::string(*text);
}

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
    const json::object body = ctx.json_object();
    std::string email = string_field(body, "email");
    std::string password = string_field(body, "password");
    std::string display_name = string_field(body, "displayName");
    const User user =
        co_await service_.signup(std::move(email), std::move(password), std::move(display_name));
    co_return http::created(user_json(user), "/api/v1/auth/me");
}

// POST /api/v1/auth/login {email, password} -> 200 access and refresh token.
asio::awaitable<http::Response> Routes::login(http::Context& ctx) {
    const json::object body = ctx.json_object();
    std::string email = string_field(body, "email");
    std::string password = string_field(body, "password");
    std::string address(ctx.remote_address());
    const TokenPair pair = co_await service_.login(std::move(email), std::move(password), std::move(address));
    co_return tokens_json(pair);
}

// POST /api/v1/auth/refresh {refreshToken} -> 200 a new pair; the presented token is used up.
asio::awaitable<http::Response> Routes::refresh(http::Context& ctx) {
    const json::object body = ctx.json_object();
    std::string token = string_field(body, "refreshToken");
    const TokenPair pair = co_await service_.refresh(std::move(token));
    co_return tokens_json(pair);
}

// POST /api/v1/auth/logout {refreshToken} -> 204; the token's family is revoked.
asio::awaitable<http::Response> Routes::logout(http::Context& ctx) {
    const json::object body = ctx.json_object();
    std::string token = string_field(body, "refreshToken");
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
