#include "services/auth/credential_rules.hpp"

#include "core/problem.hpp"

namespace marquee::auth {
namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7F;
}

/// A required string member; 400 invalid-field naming it when absent or not a string.
std::string string_field(const boost::json::object& body, std::string_view name) {
    const boost::json::value* value = body.if_contains(name);
    if (value == nullptr) {
        throw core::Problem::invalid_field(std::string(name), std::string(name) + " is required");
    }
    const boost::json::string* text = value->if_string();
    if (text == nullptr) {
        throw core::Problem::invalid_field(std::string(name), std::string(name) + " must be a string");
    }
    return std::string(*text);
}

}  // namespace

std::size_t utf8_length(std::string_view text) {
    std::size_t n = 0;
    for (const char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    }
    return n;
}

std::string normalize_email(std::string_view email) {
    const auto bad = [](std::string detail) {
        return core::Problem::invalid_field("email", std::move(detail));
    };
    if (email.empty()) throw bad("the email is required");
    if (email.size() > kMaxEmailBytes) throw bad("the email is longer than 254 characters");
    std::string out;
    out.reserve(email.size());
    for (const char c : email) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F) throw bad("the email must be printable ASCII without spaces");
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    const auto at = out.find('@');
    if (at == std::string::npos || out.find('@', at + 1) != std::string::npos) {
        throw bad("the email must contain exactly one '@'");
    }
    const std::string_view local = std::string_view(out).substr(0, at);
    const std::string_view domain = std::string_view(out).substr(at + 1);
    if (local.empty() || local.size() > 64) throw bad("the part before '@' must have 1 to 64 characters");
    if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos || domain.front() == '-') {
        throw bad("the domain after '@' must be a dotted name, e.g. example.com");
    }
    return out;
}

void check_password(std::string_view password) {
    const auto bad = [](std::string detail) {
        return core::Problem::invalid_field("password", std::move(detail));
    };
    if (password.size() > kMaxPasswordBytes) throw bad("the password must be at most 128 bytes");
    if (utf8_length(password) < kMinPasswordChars) throw bad("the password must have at least 10 characters");
    bool lower = false, upper = false, digit = false, other = false;
    for (const char c : password) {
        const auto u = static_cast<unsigned char>(c);
        if (is_control(u)) throw bad("the password must not contain control characters");
        if (c >= 'a' && c <= 'z') {
            lower = true;
        } else if (c >= 'A' && c <= 'Z') {
            upper = true;
        } else if (c >= '0' && c <= '9') {
            digit = true;
        } else {
            other = true;
        }
    }
    if (int{lower} + int{upper} + int{digit} + int{other} < 2) {
        throw bad("the password must mix at least two of: lower-case, upper-case, digits, other characters");
    }
}

std::string normalize_display_name(std::string_view name) {
    const auto bad = [](std::string detail) {
        return core::Problem::invalid_field("displayName", std::move(detail));
    };
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.empty()) throw bad("the display name is required");
    if (utf8_length(name) > kMaxDisplayNameChars) {
        throw bad("the display name must have at most 50 characters");
    }
    for (const char c : name) {
        if (is_control(static_cast<unsigned char>(c))) {
            throw bad("the display name must not contain control characters");
        }
    }
    return std::string(name);
}

SignupRequest signup_request_from(const boost::json::object& body) {
    SignupRequest request;
    request.email = string_field(body, "email");
    request.password = string_field(body, "password");
    request.display_name = string_field(body, "displayName");
    return request;
}

LoginRequest login_request_from(const boost::json::object& body) {
    LoginRequest request;
    request.email = string_field(body, "email");
    request.password = string_field(body, "password");
    return request;
}

std::string refresh_token_from(const boost::json::object& body) {
    return string_field(body, "refreshToken");
}

}  // namespace marquee::auth
