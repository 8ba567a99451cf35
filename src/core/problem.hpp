#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace marquee::core {

/// An RFC 9457 problem: the one way a request ends in failure. Thrown where the failure is found;
/// http/server.cpp is the only place that catches and renders it as application/problem+json.
class Problem : public std::exception {
  public:
    /// `type` is the stable slug after kTypeBase (e.g. "seat-taken"); `status` the HTTP status.
    Problem(int status, std::string type, std::string title, std::string detail = {});

    static Problem bad_request(std::string detail);
    /// 400 naming the offending field (RFC 9457 extension member "field").
    static Problem invalid_field(std::string_view field, std::string detail);
    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 section 3); `error` is "invalid_token" when a token was
    /// presented but is bad, empty when none was.
    static Problem unauthorized(std::string detail, std::string_view error = {});
    static Problem forbidden(std::string type, std::string detail);
    static Problem not_found(std::string detail);
    static Problem method_not_allowed(std::string detail);
    static Problem conflict(std::string type, std::string detail);
    static Problem gone(std::string type, std::string detail);
    /// 422: the request is well formed but cannot be processed as it stands (e.g. an Idempotency-Key reused
    /// with another request, draft-ietf-httpapi-idempotency-key-header).
    static Problem unprocessable(std::string type, std::string detail);
    static Problem payload_too_large(std::string detail);
    static Problem unsupported_media_type(std::string detail);
    static Problem too_many_requests(std::chrono::seconds retry_after, std::string detail);
    /// 503 for a dependency that is down or too slow; Retry-After tells the client when to come back.
    static Problem unavailable(std::string_view dependency, std::string detail,
                               std::chrono::seconds retry_after = std::chrono::seconds{1});
    static Problem internal();

    /// Adds an extension member (RFC 9457 section 3.2), e.g. .with("seats", json_array).
    Problem& with(std::string_view key, boost::json::value value) &;
    Problem&& with(std::string_view key, boost::json::value value) &&;

    /// Adds a response header that belongs to this failure (WWW-Authenticate on 401, Allow on 405).
    Problem& with_header(std::string name, std::string value) &;
    Problem&& with_header(std::string name, std::string value) &&;

    int status() const noexcept { return status_; }
    const std::string& type() const noexcept { return type_; }
    const std::string& title() const noexcept { return title_; }
    const std::string& detail() const noexcept { return detail_; }
    const boost::json::object& extensions() const noexcept { return extensions_; }
    std::optional<std::chrono::seconds> retry_after() const noexcept { return retry_after_; }
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
    const char* what() const noexcept override { return detail_.empty() ? title_.c_str() : detail_.c_str(); }

    /// The full `type` URI: kTypeBase + slug.
    std::string type_uri() const;
    /// The problem document; `instance` is the request path when known.
    boost::json::object to_json(std::string_view instance = {}) const;

    static constexpr std::string_view kTypeBase = "https://marquee.dev/problems/";
    static constexpr std::string_view kContentType = "application/problem+json";

  private:
    int status_;
    std::string type_;
    std::string title_;
    std::string detail_;
    boost::json::object extensions_;
    std::optional<std::chrono::seconds> retry_after_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace marquee::core
