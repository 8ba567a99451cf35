#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace marquee::redis {

/// A reply that does not have the shape the caller asked for: an error reply (WRONGTYPE, a Lua error)
/// seen by a typed helper such as Client::get, or as_integer() on a string. It is a bug in the
/// caller or in a script, so it is not a Problem: it escapes the handler and becomes a 500.
class CommandError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// One RESP2 reply as a plain value (no hiredis type escapes the adapter). Copyable, comparable.
class Reply {
  public:
    enum class Kind { Nil, Integer, String, Status, Array, Error };

    Reply() = default;  ///< Nil
    static Reply nil() { return {}; }
    static Reply integer(std::int64_t value);
    static Reply string(std::string value);
    static Reply status(std::string value);
    static Reply error(std::string message);
    static Reply array(std::vector<Reply> elements);

    Kind kind() const noexcept { return kind_; }
    bool is_nil() const noexcept { return kind_ == Kind::Nil; }
    bool is_error() const noexcept { return kind_ == Kind::Error; }

    /// The bytes of a String, the text of a Status, the message of an Error; CommandError otherwise.
    const std::string& as_string() const;
    /// CommandError unless kind() is Integer.
    std::int64_t as_integer() const;
    /// The elements of an Array; CommandError otherwise.
    const std::vector<Reply>& elements() const;

    /// Throws CommandError carrying the message if this is an Error reply; returns *this otherwise.
    const Reply& or_throw() const&;
    Reply&& or_throw() &&;

    friend bool operator==(const Reply&, const Reply&) = default;

  private:
    Kind kind_ = Kind::Nil;
    std::int64_t integer_ = 0;
    std::string text_;
    std::vector<Reply> elements_;
};

std::string_view to_string(Reply::Kind kind);

}  // namespace marquee::redis
