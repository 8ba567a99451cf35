#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"
#include "jwt/token.hpp"
#include "loop/lane.hpp"
#include "services/auth/login_limits.hpp"
#include "services/auth/model.hpp"
#include "services/auth/password_hasher.hpp"
#include "services/auth/store.hpp"

namespace marquee::auth {

/// Told of every access token the service signs, with the claims it signed (ADR 0015: a process that also
/// verifies tokens remembers its own, so their first use is not verified again).
using TokenIssued = std::function<void(std::string_view token, const jwt::Claims& claims)>;

struct ServiceOptions {
    std::chrono::seconds access_token_ttl{15 * 60};
    std::chrono::seconds refresh_token_ttl{14 * 24 * 3600};
    TokenIssued on_issued;  ///< empty: nobody is told
    /// ADR 0056: the logins that read and write PostgreSQL at once (the rest wait here, in arrival order, not
    /// in the pool's queue ahead of the purchases); null: no lane.
    std::shared_ptr<loop::Lane> login_lane;
};

/// The auth rules: sign-up, login, refresh-token rotation with reuse detection, logout, the current user.
class Service {
  public:
    Service(Store& store, LoginLimits& limits, PasswordHasher& hasher, jwt::Signer signer,
            std::shared_ptr<const core::Clock> clock, ServiceOptions options);

    /// 400 invalid-field naming email, password or displayName; 409 email-taken.
    boost::asio::awaitable<User> signup(std::string email, std::string password, std::string display_name);
    /// 401 invalid-credentials for an unknown email and a wrong password alike (same body, same Argon2 work);
    /// 429 rate-limited per address and per account.
    boost::asio::awaitable<TokenPair> login(std::string email, std::string password, std::string address);
    /// A new pair for a live, unused refresh token; 401 invalid-refresh-token otherwise (and, for a token
    /// that was used before, the whole family is revoked first).
    boost::asio::awaitable<TokenPair> refresh(std::string refresh_token);
    /// Revokes the token's family; unknown tokens are ignored (logout is idempotent).
    boost::asio::awaitable<void> logout(std::string refresh_token);
    /// The user a verified access token names; 401 invalid_token when it no longer exists.
    boost::asio::awaitable<User> get_user(std::string user_id);

  private:
    TokenPair issue(const User& user, std::string refresh_token) const;

    Store& store_;
    LoginLimits& limits_;
    PasswordHasher& hasher_;
    jwt::Signer signer_;
    std::shared_ptr<const core::Clock> clock_;
    ServiceOptions options_;
    /// Verified against when the email is unknown, so that answer costs the same Argon2 work.
    std::string dummy_hash_;
};

/// 256 random bits, base64url (43 characters).
std::string new_refresh_token();

/// The stored form of a refresh token: SHA-256 of its text. Malformed tokens hash too (and match nothing).
std::string refresh_token_hash(std::string_view token);

}  // namespace marquee::auth
