#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace marquee::jwt {

/// base64url without padding (RFC 7515 section 2, RFC 4648 section 5).
std::string base64url_encode(std::string_view bytes);

/// The bytes `text` encodes; nullopt unless it is canonical unpadded base64url (no '=', no other alphabet,
/// no length of 1 mod 4, unused trailing bits zero), so one token has exactly one spelling.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace marquee::jwt
