#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "redis/client.hpp"
#include "redis/script.hpp"

namespace marquee::auth {

struct LoginLimitOptions {
    unsigned failures_per_account = 5;  ///< failed logins per account per window
    unsigned attempts_per_ip = 30;      ///< login attempts per client address per window
    std::chrono::seconds window{60};
};

/// Login rate limits in Redis, fixed windows (INCR, and EXPIRE on the first hit, in one Lua script so a
/// counter never lives without its expiry). Keys hold a SHA-256 of the email, not the email.
/// Over a limit: Problem 429 rate-limited with Retry-After (the window's remaining seconds).
class LoginLimits {
  public:
    LoginLimits(redis::Client& redis, LoginLimitOptions options);

    /// Counts one attempt from `address`; 429 when it is over attempts_per_ip.
    boost::asio::awaitable<void> count_attempt(std::string address);
    /// 429 when `email` has failures_per_account failures in the current window (checked before the
    /// password, so a locked account costs no Argon2 work and answers the same whether or not it exists).
    boost::asio::awaitable<void> check_account(std::string email);
    /// Counts a failed login for `email` (existing or not).
    boost::asio::awaitable<void> count_failure(std::string email);
    /// A successful login clears the account's failures.
    boost::asio::awaitable<void> clear_failures(std::string email);

  private:
    static std::string account_key(const std::string& email);

    redis::Client& redis_;
    LoginLimitOptions options_;
    redis::Script hit_;
    redis::Script peek_;
};

}  // namespace marquee::auth
