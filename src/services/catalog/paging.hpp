#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace marquee::catalog {

/// An opaque cursor: base64url of the last item's key (a concert id, a seat index) in decimal.
std::string encode_cursor(std::int64_t last_key);
/// The key inside a cursor; Problem 400 naming `field` unless it is one encode_cursor made (key >= 0).
std::int64_t decode_cursor(std::string_view cursor, std::string_view field = "cursor");

/// The page size from the `limit` query parameter: `fallback` when absent, 400 naming `field` unless an
/// integer in 1..max.
int parse_limit(const std::optional<std::string>& text, int fallback, int max,
                std::string_view field = "limit");

/// A positive 64-bit id from a query parameter; 400 naming `field` otherwise.
std::int64_t parse_id(std::string_view text, std::string_view field);

}  // namespace marquee::catalog
