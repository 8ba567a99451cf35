#pragma once
// What each route of Marquee does with a request before it calls its service: the pure decoding and
// validation of path parameters, query, headers and body, exactly the calls its routes.cpp makes (and the
// checks its service makes before any I/O). The harnesses run these instead of the handlers, so no
// database, Redis or NATS is needed. When a route or its decoding changes, change its entry here:
// fuzz/seed_corpus.py checks that every request body in api/openapi.yaml has one.

#include <span>
#include <string_view>

#include "http/context.hpp"
#include "http/router.hpp"

namespace marquee::fuzz {

/// Decodes what the route reads from the request; throws core::Problem (4xx) for what it refuses.
using Decode = void (*)(const http::Context& ctx);

struct DecodedRoute {
    std::string_view method;
    std::string_view pattern;
    Decode decode;
    bool has_body;  ///< the route decodes a JSON request body
};

/// Every route Marquee serves, in a fixed order (the body harness picks by index).
std::span<const DecodedRoute> decoded_routes();

/// A Router holding every route of decoded_routes(); its handlers are never called (match() only).
http::Router make_router();

/// The entry for a matched pattern and method; null when there is none (a bug in the table).
const DecodedRoute* find_route(std::string_view method, std::string_view pattern);

/// Fails the run (abort with a message) unless `e` is a core::Problem with a 4xx status: every request a
/// client can send must end as a client error or a success, never a 5xx or another exception.
void expect_client_error(const std::exception_ptr& e, std::string_view where);

}  // namespace marquee::fuzz
