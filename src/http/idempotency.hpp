#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace marquee::http {

/// The Idempotency-Key every money-moving request carries: 1..255 visible ASCII characters; otherwise a 400
/// problem naming the `Idempotency-Key` field.
std::string idempotency_key(std::optional<std::string_view> header);

/// SHA-256 (hex) of a request's canonical form, stored beside its Idempotency-Key so that the same key with
/// another request is refused (422 `idempotency-key-reused`, as draft-ietf-httpapi-idempotency-key-header
/// asks).
std::string request_hash(std::string_view canonical);

}  // namespace marquee::http
