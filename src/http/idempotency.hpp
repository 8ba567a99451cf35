#pragma once

#include <chrono>
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

/// Whether the first request with a key may still be running: its row is PENDING and younger than the age at
/// which recovery takes PENDING rows over (until then the request that made it may still be waiting on the
/// gateway). Such a repeat is answered by key_in_flight(), an older PENDING row by a 202 replay. `age` is the
/// row's age by the database's clock (`now() - ...` in the statement that read it, ADR 0040), never a
/// database timestamp compared with this process's clock: the two clocks may differ by more than the answer.
bool first_request_may_be_running(std::string_view state, std::chrono::milliseconds age,
                                  std::chrono::seconds recovery_age);

/// 409 `idempotency-key-in-flight` with Retry-After: 1, as draft-ietf-httpapi-idempotency-key-header asks for
/// a request repeated while the first with its key is still being processed.
[[noreturn]] void throw_key_in_flight();

}  // namespace marquee::http
