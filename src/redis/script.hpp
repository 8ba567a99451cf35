#pragma once

#include <memory>
#include <string>

namespace marquee::redis {

/// A Lua script run with Client::eval: EVALSHA by its SHA-1 first, EVAL (which also caches it on the
/// server) when the server answers NOSCRIPT, e.g. after a restart or SCRIPT FLUSH.
/// Build it once (a member or a function-local static) and reuse it.
class Script {
  public:
    explicit Script(std::string source);

    const std::string& source() const noexcept { return text_->source; }
    /// Lower-case hex SHA-1 of the source, as SCRIPT LOAD returns it.
    const std::string& sha() const noexcept { return text_->sha; }

  private:
    struct Text {
        std::string source;
        std::string sha;
    };
    // Shared, not copied: Client::eval takes its Script by value, and a script's source is kilobytes of Lua
    // that each call copied (ADR 0035).
    std::shared_ptr<const Text> text_;
};

}  // namespace marquee::redis
