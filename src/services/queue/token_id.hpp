#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace marquee::queue {

/// A new QueueToken id: a UUIDv4 (RFC 9562) whose 122 random bits come from OpenSSL's CSPRNG
/// (RAND_bytes), in canonical lower-case text. Unguessable, and meaningless without its Redis entry;
/// a UUID so booking and payment store it in their `uuid` columns as is.
std::string new_token_id();

/// The canonical (lower-case) form of `text` when it is a UUID in 8-4-4-4-12 hex form; nullopt otherwise,
/// so a malformed token is refused before it costs a Redis round trip.
std::optional<std::string> normalize_token_id(std::string_view text);

}  // namespace marquee::queue
