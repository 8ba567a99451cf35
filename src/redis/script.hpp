#pragma once

#include <string>

namespace marquee::redis {

/// A Lua script run with Client::eval: EVALSHA by its SHA-1 first, EVAL (which also caches it on the
/// server) when the server answers NOSCRIPT, e.g. after a restart or SCRIPT FLUSH.
/// Build it once (a member or a function-local static) and reuse it.
class Script {
  public:
    explicit Script(std::string source);

    const std::string& source() const noexcept { return source_; }
    /// Lower-case hex SHA-1 of the source, as SCRIPT LOAD returns it.
    const std::string& sha() const noexcept { return sha_; }

  private:
    std::string source_;
    std::string sha_;
};

}  // namespace marquee::redis
