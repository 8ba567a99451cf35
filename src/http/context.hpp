#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/trace_context.hpp"

namespace marquee::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

/// Who made the request, as proven by a verified access token.
struct Principal {
    std::string user_id;  ///< auth.users.id (uuid text)
    std::vector<std::string> roles;
    bool has_role(std::string_view role) const;
};

/// Verifies bearer access tokens. Implemented outside http (JWT, Ed25519) and handed to the server by app;
/// pure CPU work, no I/O, so it is called inline.
class Authenticator {
  public:
    virtual ~Authenticator() = default;
    /// The principal the token proves, or throws core::Problem 401 (WWW-Authenticate, error="invalid_token").
    virtual Principal authenticate(std::string_view bearer_token) const = 0;
};

/// One request as a handler sees it: no Beast types, so business code never compiles Beast.
/// Lives in the session's coroutine frame and outlives the handler that receives it by reference.
class Context {
  public:
    Context(std::string method, std::string target, Fields headers, std::string body, std::string request_id);

    std::string_view method() const noexcept { return method_; }
    /// The full request target: path and query.
    std::string_view target() const noexcept { return target_; }
    /// The path without the query, as received (percent-encoded).
    std::string_view path() const noexcept { return path_; }
    const std::string& request_id() const noexcept { return request_id_; }
    /// This request's W3C trace context: the caller's trace (from `traceparent`) with a new span of its own,
    /// or a new trace. Every log line written while the request is handled names it (core/log_context.hpp).
    const core::TraceContext& trace() const noexcept { return trace_; }
    /// Set by the server from the request's `traceparent`/`tracestate` before the handler runs.
    void set_trace(core::TraceContext trace) { trace_ = std::move(trace); }
    /// The route pattern that matched, e.g. "/api/v1/concerts/{id}" (metrics and logs use it).
    std::string_view route() const noexcept { return route_; }

    /// A path parameter of the matched route, percent-decoded. Asserts the route declares it.
    std::string_view param(std::string_view name) const;
    /// A path parameter that must be a positive 64-bit integer; 400 naming it otherwise.
    std::int64_t id_param(std::string_view name) const;

    /// A query parameter, percent-decoded; nullopt when absent. A malformed query string is a 400.
    std::optional<std::string> query(std::string_view name) const;

    /// A request header by case-insensitive name.
    std::optional<std::string_view> header(std::string_view name) const;

    const std::string& body() const noexcept { return body_; }
    /// The body as JSON: 415 unless Content-Type is application/json (or +json), 400 if malformed.
    boost::json::value json() const;
    /// The body as a JSON object: as json(), and 400 if it is not an object.
    boost::json::object json_object() const;

    /// The authenticated caller: verifies `Authorization: Bearer <token>` on first use. Throws Problem 401
    /// with a WWW-Authenticate challenge when the header is missing or the token is not valid.
    const Principal& user() const;
    /// As user(), and 403 unless the caller has `role`.
    const Principal& require_role(std::string_view role) const;

    /// The client's IP address as the socket sees it (behind an ingress: the ingress; see
    /// docs/architecture.md).
    std::string_view remote_address() const noexcept { return remote_; }
    void set_remote_address(std::string address) { remote_ = std::move(address); }

    /// Set by the router when it matches.
    void set_route(std::string_view pattern, Fields params);
    /// Set by the server before the handler runs; null means no route may authenticate (401).
    void set_authenticator(const Authenticator* authenticator) noexcept { authenticator_ = authenticator; }

  private:
    std::string method_;
    std::string target_;
    std::string_view path_;
    std::string_view raw_query_;
    Fields headers_;
    std::string body_;
    std::string request_id_;
    core::TraceContext trace_ = core::TraceContext::start();
    std::string route_;
    Fields params_;
    const Authenticator* authenticator_ = nullptr;
    std::string remote_;
    mutable std::optional<Principal> principal_;
};

}  // namespace marquee::http
