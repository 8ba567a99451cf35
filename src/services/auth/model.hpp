#pragma once

#include <string>
#include <vector>

#include "core/clock.hpp"

namespace marquee::auth {

/// A row of auth.users, without the password hash.
struct User {
    std::string id;  ///< uuid text
    std::string email;
    std::string display_name;
    std::string role;  ///< "fan" or "admin"
    core::TimePoint created_at;
};

/// The roles an access token carries: every user is a fan; admins are fans too.
inline std::vector<std::string> roles_of(const std::string& role) {
    if (role == "admin") return {"fan", "admin"};
    return {"fan"};
}

/// A user and their password hash, for login only.
struct Credentials {
    User user;
    std::string password_hash;
};

/// What login and refresh return.
struct TokenPair {
    std::string access_token;
    std::int64_t expires_in = 0;  ///< seconds
    std::string refresh_token;    ///< opaque; only its SHA-256 is stored
};

/// The outcome of presenting a refresh token (an expected branch, so a value, not an exception).
enum class RotationOutcome {
    Rotated,  ///< valid and unused: marked used, replaced by the new one
    Reused,   ///< already used: it was copied, so its whole family is now revoked
    Invalid,  ///< unknown, expired or revoked
};

struct Rotation {
    RotationOutcome outcome = RotationOutcome::Invalid;
    User user;  ///< set when Rotated
};

}  // namespace marquee::auth
