#include "services/auth/login_limits.hpp"

#include <utility>
#include <vector>

#include "core/problem.hpp"
#include "jwt/base64url.hpp"
#include "jwt/key.hpp"

namespace marquee::auth {
namespace {

namespace asio = boost::asio;

// KEYS[1] counter, ARGV[1] window seconds -> {count, seconds left}.
constexpr std::string_view kHit = R"(
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
)";

// KEYS[1] counter -> {count, seconds left}; {0, 0} when absent.
constexpr std::string_view kPeek = R"(
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {n, ttl}
)";

struct Window {
    std::int64_t count = 0;
    std::int64_t seconds_left = 0;
};

Window window_of(const redis::Reply& reply) {
    const auto& parts = reply.or_throw().elements();
    return Window{parts.at(0).as_integer(), parts.at(1).as_integer()};
}

[[noreturn]] void limited(std::int64_t seconds_left, std::string detail) {
    throw core::Problem::too_many_requests(std::chrono::seconds(std::max<std::int64_t>(1, seconds_left)),
                                           std::move(detail));
}

}  // namespace

LoginLimits::LoginLimits(redis::Client& redis, LoginLimitOptions options)
    : redis_(redis), options_(options), hit_(std::string(kHit)), peek_(std::string(kPeek)) {}

std::string LoginLimits::account_key(const std::string& email) {
    return "ratelimit:login:" + jwt::base64url_encode(jwt::sha256(email));
}

asio::awaitable<void> LoginLimits::count_attempt(std::string address) {
    std::vector<std::string> keys{"ratelimit:login-ip:" + address};
    std::vector<std::string> args{std::to_string(options_.window.count())};
    const Window w = window_of(co_await redis_.eval(hit_, std::move(keys), std::move(args)));
    if (w.count > static_cast<std::int64_t>(options_.attempts_per_ip)) {
        limited(w.seconds_left, "too many login attempts from this address; try again later");
    }
}

asio::awaitable<void> LoginLimits::check_account(std::string email) {
    std::vector<std::string> keys{account_key(email)};
    std::vector<std::string> no_args;
    const Window w = window_of(co_await redis_.eval(peek_, std::move(keys), std::move(no_args)));
    if (w.count >= static_cast<std::int64_t>(options_.failures_per_account)) {
        limited(w.seconds_left, "too many failed logins for this account; try again later");
    }
}

asio::awaitable<void> LoginLimits::count_failure(std::string email) {
    std::vector<std::string> keys{account_key(email)};
    std::vector<std::string> args{std::to_string(options_.window.count())};
    (void)co_await redis_.eval(hit_, std::move(keys), std::move(args));
}

asio::awaitable<void> LoginLimits::clear_failures(std::string email) {
    std::vector<std::string> keys{account_key(email)};
    (void)co_await redis_.del(std::move(keys));
}

}  // namespace marquee::auth
