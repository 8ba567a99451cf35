#include "http/request_reader.hpp"

#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/request_id.hpp"

namespace marquee::http {

namespace bhttp = boost::beast::http;

core::Problem read_problem(const boost::system::error_code& ec, const core::HttpLimits& limits) {
    if (ec == bhttp::error::body_limit) {
        return core::Problem::payload_too_large("the request body exceeds " +
                                                std::to_string(limits.max_body_bytes) + " bytes");
    }
    if (ec == bhttp::error::header_limit) {
        return core::Problem{
            431, "headers-too-large", "Request header fields too large",
            "the request head exceeds " + std::to_string(limits.max_header_bytes) + " bytes"};
    }
    if (ec == boost::beast::error::timeout) {
        return core::Problem{
            408, "request-timeout", "Request timeout",
            "the request did not arrive within " + std::to_string(limits.read_timeout.count()) + " ms"};
    }
    return core::Problem::bad_request("malformed HTTP request: " + ec.message());
}

core::Problem unframed_body_problem() {
    return core::Problem::bad_request("unsupported Transfer-Encoding: the final coding must be chunked");
}

std::optional<Context> parse_request(std::string_view bytes, const core::HttpLimits& limits) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    boost::system::error_code ec;
    while (!parser.is_done()) {
        // Every byte given and the request not done: the server would keep reading.
        if (bytes.empty()) return std::nullopt;
        const std::size_t used = parser.put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
        bytes.remove_prefix(used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            if (used == 0) return std::nullopt;  // the head is not complete in what is left
            continue;
        }
        if (ec) throw read_problem(ec, limits);
        if (used == 0) return std::nullopt;  // no progress: wait for more, as the server would
    }
    if (parser.get().count(bhttp::field::transfer_encoding) != 0 && !parser.get().chunked()) {
        throw unframed_body_problem();
    }
    auto request = parser.release();
    Fields headers;
    for (const auto& field : request) headers.emplace_back(field.name_string(), field.value());
    std::string request_id = accept_request_id(request["X-Request-Id"]);
    return Context(std::string(request.method_string()), std::string(request.target()), std::move(headers),
                   std::move(request.body()), std::move(request_id));
}

}  // namespace marquee::http
