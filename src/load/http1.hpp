#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace marquee::load {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
    unsigned status = 0;
    Headers headers;
    std::string body;
    bool keep_alive = true;
    /// When the request went (its send turn came, before connecting if it had to); a closed-loop client's
    /// latency counts from here. Unset (epoch) when nothing was sent.
    std::chrono::steady_clock::time_point sent{};
    /// How long it waited for its send turn (SendTurns) first: the load generator's own delay, not the
    /// server's.
    std::chrono::steady_clock::duration turn_wait{};
    /// The first header of that name (case-insensitive).
    std::optional<std::string_view> header(std::string_view name) const;
};

/// One HTTP/1.1 request on the wire (Host, Content-Length for a body, keep-alive).
std::string format_request(std::string_view method, std::string_view target, std::string_view host,
                           const Headers& headers, std::string_view body);

/// Parses one response at the front of `buffer` (what has been read so far). Returns how many bytes it took
/// once it is complete, nullopt while more is needed; throws std::runtime_error on a malformed response.
/// Bodies: Content-Length or chunked; none for 1xx, 204 and 304. Cheap to call after every read: while the
/// body is incomplete it looks only at the head.
std::optional<std::size_t> parse_response(std::string_view buffer, Response& out);

}  // namespace marquee::load
