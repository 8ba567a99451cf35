#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace marquee::catalog {

/// RFC 4648 section 4 (standard alphabet, padded): the availability bitset on the wire.
std::string base64_encode(std::string_view bytes);
/// RFC 4648 section 5 (URL- and filename-safe alphabet, no padding): opaque cursors in query strings.
std::string base64url_encode(std::string_view bytes);
/// Decodes the URL-safe alphabet without padding; nullopt for any other character or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace marquee::catalog
