#include "services/catalog/paging.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/problem.hpp"
#include "services/catalog/base64.hpp"

namespace marquee::catalog {
namespace {

/// Digits only (no sign, no spaces, no leading zeros beyond "0"), as std::from_chars accepts them fully.
std::optional<std::int64_t> parse_decimal(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    if (text.size() > 1 && text.front() == '0') return std::nullopt;
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
    return value;
}

}  // namespace

std::string encode_cursor(std::int64_t last_key) {
    return base64url_encode(std::to_string(last_key));
}

std::int64_t decode_cursor(std::string_view cursor, std::string_view field) {
    const std::optional<std::string> decoded = base64url_decode(cursor);
    const std::optional<std::int64_t> key = decoded ? parse_decimal(*decoded) : std::nullopt;
    if (!key) throw core::Problem::invalid_field(std::string(field), "not a cursor this API returned");
    return *key;
}

int parse_limit(const std::optional<std::string>& text, int fallback, int max, std::string_view field) {
    if (!text) return fallback;
    const std::optional<std::int64_t> value = parse_decimal(*text);
    if (!value || *value < 1 || *value > max) {
        throw core::Problem::invalid_field(std::string(field),
                                           fmt::format("must be an integer from 1 to {}", max));
    }
    return static_cast<int>(*value);
}

std::int64_t parse_id(std::string_view text, std::string_view field) {
    const std::optional<std::int64_t> value = parse_decimal(text);
    if (!value || *value < 1) {
        throw core::Problem::invalid_field(std::string(field), "must be a positive integer");
    }
    return *value;
}

}  // namespace marquee::catalog
