#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

namespace marquee::auth {

/// Argon2id cost (RFC 9106; OWASP's minimum for Argon2id: m = 19 MiB, t = 2, p = 1).
struct Argon2Params {
    std::uint32_t time_cost = 2;
    std::uint32_t memory_kib = 19 * 1024;
    std::uint32_t parallelism = 1;
};

/// An Argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash) of `password` with a fresh 16-byte
/// salt. CPU- and memory-heavy (tens of ms): never call it on an I/O thread (see PasswordHasher).
std::string hash_password(std::string_view password, const Argon2Params& params);
/// Whether `password` matches the PHC string (libargon2 compares in constant time). False, never a throw,
/// for a malformed string.
bool password_matches(const std::string& phc, std::string_view password);

/// Runs Argon2 on a small thread pool of its own, so the Asio I/O threads keep serving other requests
/// while a hash is computed; the awaiting coroutine resumes on its own executor. The pool's queue is
/// FIFO, so a burst of logins waits its turn instead of starving the I/O threads.
class PasswordHasher {
  public:
    explicit PasswordHasher(Argon2Params params = {}, std::size_t threads = 2);
    ~PasswordHasher();
    PasswordHasher(const PasswordHasher&) = delete;
    PasswordHasher& operator=(const PasswordHasher&) = delete;

    boost::asio::awaitable<std::string> hash(std::string password);
    boost::asio::awaitable<bool> verify(std::string phc, std::string password);

    const Argon2Params& params() const noexcept { return params_; }

  private:
    Argon2Params params_;
    boost::asio::thread_pool pool_;
};

}  // namespace marquee::auth
