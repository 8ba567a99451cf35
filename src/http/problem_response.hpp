#pragma once

#include <string>
#include <string_view>

#include "core/problem.hpp"
#include "http/response.hpp"

namespace marquee::http {

/// `problem` as application/problem+json (RFC 9457): its status, the body of problem_body(), Retry-After when
/// it has one and its own headers; `instance` is the request path. What the server answers for a thrown
/// core::Problem, and what a handler may return instead of throwing where the refusal is the usual answer
/// (ADR 0042).
Response problem(const core::Problem& problem, std::string_view instance);

/// `boost::json::serialize(problem.to_json(instance))`, byte for byte, with the document built in a buffer on
/// the stack: the returned string is the only allocation (ADR 0042).
std::string problem_body(const core::Problem& problem, std::string_view instance);

}  // namespace marquee::http
