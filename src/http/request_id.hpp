#pragma once

#include <string>
#include <string_view>

namespace marquee::http {

/// A fresh request id: 32 lowercase hex digits (128 random bits).
std::string new_request_id();

/// The client's X-Request-Id when it is safe to echo and log (1..128 of [A-Za-z0-9._:-]); a fresh id
/// otherwise.
std::string accept_request_id(std::string_view from_client);

}  // namespace marquee::http
