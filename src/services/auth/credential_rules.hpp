#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace marquee::auth {

inline constexpr std::size_t kMinPasswordChars = 10;
inline constexpr std::size_t kMaxPasswordBytes = 128;
inline constexpr std::size_t kMaxDisplayNameChars = 50;
inline constexpr std::size_t kMaxEmailBytes = 254;  ///< RFC 5321 path limit

/// The email as stored and compared: ASCII lower-cased. Throws Problem 400 invalid-field "email" unless it
/// is a plausible address (one '@', a local part of 1..64 bytes, a dotted domain, printable ASCII, no
/// spaces, at most kMaxEmailBytes). Deliverability is not checked.
std::string normalize_email(std::string_view email);

/// Throws Problem 400 invalid-field "password" when it has fewer than kMinPasswordChars characters, more
/// than kMaxPasswordBytes bytes (Argon2 input stays bounded), a control character, or characters of only
/// one class (lower, upper, digit, other).
void check_password(std::string_view password);

/// The display name without surrounding spaces; Problem 400 invalid-field "displayName" when that is empty,
/// longer than kMaxDisplayNameChars characters, or holds a control character.
std::string normalize_display_name(std::string_view name);

/// Unicode code points in valid UTF-8 `text` (continuation bytes are not counted).
std::size_t utf8_length(std::string_view text);

/// A POST /api/v1/auth/signup body as sent: the fields are present and strings, not yet validated (the
/// service normalizes them with the rules above).
struct SignupRequest {
    std::string email;
    std::string password;
    std::string display_name;
};

/// A POST /api/v1/auth/login body as sent.
struct LoginRequest {
    std::string email;
    std::string password;
};

/// Reads {email, password, displayName}; 400 invalid-field naming the first one absent or not a string.
SignupRequest signup_request_from(const boost::json::object& body);
/// Reads {email, password}; 400 invalid-field naming the first one absent or not a string.
LoginRequest login_request_from(const boost::json::object& body);
/// Reads {refreshToken} (refresh and logout); 400 invalid-field "refreshToken" when absent or not a string.
std::string refresh_token_from(const boost::json::object& body);

}  // namespace marquee::auth
