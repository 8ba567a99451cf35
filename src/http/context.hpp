#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace marquee::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

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

    /// Set by the router when it matches.
    void set_route(std::string_view pattern, Fields params);

  private:
    std::string method_;
    std::string target_;
    std::string_view path_;
    std::string_view raw_query_;
    Fields headers_;
    std::string body_;
    std::string request_id_;
    std::string route_;
    Fields params_;
};

}  // namespace marquee::http
