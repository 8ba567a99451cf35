#include "http/context.hpp"

#include <cassert>
#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>

#include "core/problem.hpp"

namespace marquee::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool is_json_media_type(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    auto media = content_type.substr(0, semicolon);
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    if (iequals(media, "application/json")) return true;
    // RFC 6839 structured syntax suffix, e.g. application/merge-patch+json.
    return media.size() > 5 && iequals(media.substr(media.size() - 5), "+json") &&
           iequals(media.substr(0, 12), "application/");
}

}  // namespace

Context::Context(std::string method, std::string target, Fields headers, std::string body,
                 std::string request_id)
    : method_(std::move(method)),
      target_(std::move(target)),
      headers_(std::move(headers)),
      body_(std::move(body)),
      request_id_(std::move(request_id)) {
    const std::string_view t = target_;
    const auto q = t.find('?');
    path_ = t.substr(0, q);
    if (q != std::string_view::npos) raw_query_ = t.substr(q + 1);
}

bool Principal::has_role(std::string_view role) const {
    for (const auto& r : roles) {
        if (r == role) return true;
    }
    return false;
}

const Principal& Context::user() const {
    if (principal_) return *principal_;
    const auto authorization = header("Authorization");
    if (!authorization) {
        throw core::Problem::unauthorized("this endpoint needs an access token (Authorization: Bearer)");
    }
    constexpr std::string_view kScheme = "bearer ";
    if (authorization->size() <= kScheme.size() ||
        !iequals(authorization->substr(0, kScheme.size()), kScheme)) {
        throw core::Problem::unauthorized("the Authorization header must be 'Bearer <access token>'",
                                          "invalid_token");
    }
    if (authenticator_ == nullptr) {
        throw core::Problem::unauthorized("this process does not accept access tokens", "invalid_token");
    }
    principal_ = authenticator_->authenticate(authorization->substr(kScheme.size()));
    return *principal_;
}

const Principal& Context::require_role(std::string_view role) const {
    const auto& principal = user();
    if (!principal.has_role(role)) {
        throw core::Problem::forbidden("role-required",
                                       "this endpoint needs the '" + std::string(role) + "' role")
            .with("role", boost::json::value(role));
    }
    return principal;
}

void Context::set_route(std::string_view pattern, Fields params) {
    route_ = pattern;
    params_ = std::move(params);
}

std::string_view Context::param(std::string_view name) const {
    for (const auto& [key, value] : params_) {
        if (key == name) return value;
    }
    assert(false && "route has no such path parameter");
    throw core::Problem::internal();
}

std::int64_t Context::id_param(std::string_view name) const {
    const auto text = param(name);
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value <= 0) {
        throw core::Problem::invalid_field(
            std::string(name), "path parameter '" + std::string(name) + "' must be a positive integer");
    }
    return value;
}

std::optional<std::string> Context::query(std::string_view name) const {
    if (raw_query_.empty()) return std::nullopt;
    const auto parsed = boost::urls::parse_query(raw_query_);
    if (!parsed) throw core::Problem::bad_request("the query string is not valid percent-encoding");
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    for (const auto& param : *parsed) {
        if (param.key.decode(opts) == name) {
            if (!param.has_value) return std::string{};
            return param.value.decode(opts);
        }
    }
    return std::nullopt;
}

std::optional<std::string_view> Context::header(std::string_view name) const {
    for (const auto& [key, value] : headers_) {
        if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
}

boost::json::value Context::json() const {
    const auto content_type = header("Content-Type");
    if (!content_type || !is_json_media_type(*content_type)) {
        throw core::Problem::unsupported_media_type("the request body must be application/json");
    }
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 32;
    auto value = boost::json::parse(body_, ec, {}, options);
    if (ec) {
        throw core::Problem{400, "malformed-json", "The body is not valid JSON", ec.message()};
    }
    return value;
}

boost::json::object Context::json_object() const {
    auto value = json();
    if (!value.is_object()) {
        throw core::Problem{400, "malformed-json", "The body is not valid JSON",
                            "the body must be a JSON object"};
    }
    return std::move(value.as_object());
}

}  // namespace marquee::http
