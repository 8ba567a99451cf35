#pragma once

#include <optional>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "core/config.hpp"
#include "core/problem.hpp"
#include "http/context.hpp"

namespace marquee::http {

/// The problem the server answers when reading a request fails with `ec`: 413 past the body limit, 431 past
/// the head limit, 408 past the read deadline, 400 for anything malformed.
core::Problem read_problem(const boost::system::error_code& ec, const core::HttpLimits& limits);

/// The 400 for a request whose Transfer-Encoding does not end in chunked (RFC 9112 section 6.3): its body
/// length is unknown and what follows could be a smuggled request, so the server answers this and closes.
core::Problem unframed_body_problem();

/// One request read from `bytes` as the server reads it off a connection (the same Beast parser, head and
/// body limits, and Transfer-Encoding rule): the Context a handler would get, before routing. Throws the
/// core::Problem the server would answer with (400, 413, 431); nullopt when `bytes` end before the request
/// does (the server would keep reading). Bytes after the request are ignored. For fuzz/ and tests.
std::optional<Context> parse_request(std::string_view bytes, const core::HttpLimits& limits);

}  // namespace marquee::http
