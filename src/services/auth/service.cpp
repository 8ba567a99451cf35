#include "services/auth/service.hpp"

#include <utility>

#include "core/problem.hpp"
#include "jwt/base64url.hpp"
#include "jwt/key.hpp"
#include "services/auth/credential_rules.hpp"

namespace marquee::auth {
namespace {

namespace asio = boost::asio;

core::Problem invalid_credentials() {
    return core::Problem{401, "invalid-credentials", "Invalid credentials", "the email or password is wrong"};
}

core::Problem invalid_refresh_token() {
    return core::Problem{401, "invalid-refresh-token", "Invalid refresh token",
                         "the refresh token is unknown, expired, revoked or already used; log in again"};
}

}  // namespace

std::string new_refresh_token() {
    return jwt::base64url_encode(jwt::random_bytes(32));
}

std::string refresh_token_hash(std::string_view token) {
    return jwt::sha256(token);
}

Service::Service(Store& store, LoginLimits& limits, PasswordHasher& hasher, jwt::Signer signer,
                 std::shared_ptr<const core::Clock> clock, ServiceOptions options)
    : store_(store),
      limits_(limits),
      hasher_(hasher),
      signer_(std::move(signer)),
      clock_(std::move(clock)),
      options_(std::move(options)),
      dummy_hash_(hash_password(jwt::base64url_encode(jwt::random_bytes(16)), hasher.params())) {}

asio::awaitable<User> Service::signup(std::string email, std::string password, std::string display_name) {
    std::string normalized = normalize_email(email);
    check_password(password);
    std::string name = normalize_display_name(display_name);
    std::string hash = co_await hasher_.hash(std::move(password));
    co_return co_await store_.insert_user(std::move(normalized), std::move(hash), std::move(name));
}

asio::awaitable<TokenPair> Service::login(std::string email, std::string password, std::string address) {
    co_await limits_.count_attempt(std::move(address));
    // A malformed email or an over-long password cannot match any account: the same 401, no 400 that
    // would tell an attacker anything about the account.
    std::string normalized;
    try {
        normalized = normalize_email(email);
    } catch (const core::Problem&) {
        normalized = email;
    }
    co_await limits_.check_account(normalized);
    // The rest of a login in its own lane (ADR 0056): its two statements and the password check and Redis
    // counters between them. A burst of logins waits for a place here, so at most the lane's width of them
    // queue for the pool's connections; a login waits here at most the lane's max_wait (503 past it).
    loop::Lane::Pass place;
    if (options_.login_lane) {
        place = co_await options_.login_lane->enter();
    }
    const std::optional<Credentials> found = co_await store_.find_credentials(normalized);
    // Unknown email: verify against a dummy hash of the same cost, so the answer takes as long.
    std::string phc = found ? found->password_hash : dummy_hash_;
    if (password.size() > kMaxPasswordBytes) password.resize(kMaxPasswordBytes + 1);
    const bool matches = co_await hasher_.verify(std::move(phc), std::move(password));
    if (!found || !matches) {
        co_await limits_.count_failure(normalized);
        throw invalid_credentials();
    }
    co_await limits_.clear_failures(normalized);
    std::string refresh = new_refresh_token();
    co_await store_.insert_refresh_token(found->user.id, refresh_token_hash(refresh),
                                         options_.refresh_token_ttl);
    co_return issue(found->user, std::move(refresh));
}

asio::awaitable<TokenPair> Service::refresh(std::string refresh_token) {
    std::string next = new_refresh_token();
    const Rotation rotation = co_await store_.rotate_refresh_token(
        refresh_token_hash(refresh_token), refresh_token_hash(next), options_.refresh_token_ttl);
    if (rotation.outcome != RotationOutcome::Rotated) throw invalid_refresh_token();
    co_return issue(rotation.user, std::move(next));
}

asio::awaitable<void> Service::logout(std::string refresh_token) {
    (void)co_await store_.revoke_family(refresh_token_hash(refresh_token));
}

asio::awaitable<User> Service::get_user(std::string user_id) {
    std::optional<User> user = co_await store_.find_user(std::move(user_id));
    if (!user) throw core::Problem::unauthorized("the user of this token no longer exists", "invalid_token");
    co_return std::move(*user);
}

TokenPair Service::issue(const User& user, std::string refresh_token) const {
    const jwt::Claims claims =
        jwt::new_claims(user.id, roles_of(user.role), clock_->now(), options_.access_token_ttl);
    std::string access_token = signer_.sign(claims);
    if (options_.on_issued) options_.on_issued(access_token, claims);
    return TokenPair{std::move(access_token), options_.access_token_ttl.count(), std::move(refresh_token)};
}

}  // namespace marquee::auth
