#include "core/problem.hpp"

#include <utility>

namespace marquee::core {

Problem::Problem(int status, std::string type, std::string title, std::string detail)
    : status_(status), type_(std::move(type)), title_(std::move(title)), detail_(std::move(detail)) {}

Problem Problem::bad_request(std::string detail) {
    return {400, "bad-request", "Bad request", std::move(detail)};
}

Problem Problem::invalid_field(std::string_view field, std::string detail) {
    Problem p{400, "invalid-field", "A field is missing or invalid", std::move(detail)};
    p.with("field", boost::json::value(field));
    return p;
}

Problem Problem::unauthorized(std::string detail, std::string_view error) {
    Problem p{401, "unauthorized", "Authentication required", std::move(detail)};
    std::string challenge = R"(Bearer realm="marquee")";
    if (!error.empty()) challenge += R"(, error=")" + std::string(error) + '"';
    p.headers_.emplace_back("WWW-Authenticate", std::move(challenge));
    return p;
}

Problem Problem::forbidden(std::string type, std::string detail) {
    return {403, std::move(type), "Forbidden", std::move(detail)};
}

Problem Problem::not_found(std::string detail) {
    return {404, "not-found", "Not found", std::move(detail)};
}

Problem Problem::method_not_allowed(std::string detail) {
    return {405, "method-not-allowed", "Method not allowed", std::move(detail)};
}

Problem Problem::conflict(std::string type, std::string detail) {
    return {409, std::move(type), "Conflict", std::move(detail)};
}

Problem Problem::gone(std::string type, std::string detail) {
    return {410, std::move(type), "Gone", std::move(detail)};
}

Problem Problem::unprocessable(std::string type, std::string detail) {
    return {422, std::move(type), "Unprocessable Content", std::move(detail)};
}

Problem Problem::payload_too_large(std::string detail) {
    return {413, "payload-too-large", "Payload too large", std::move(detail)};
}

Problem Problem::unsupported_media_type(std::string detail) {
    return {415, "unsupported-media-type", "Unsupported media type", std::move(detail)};
}

Problem Problem::too_many_requests(std::chrono::seconds retry_after, std::string detail) {
    Problem p{429, "rate-limited", "Too many requests", std::move(detail)};
    p.retry_after_ = retry_after;
    return p;
}

Problem Problem::unavailable(std::string_view dependency, std::string detail,
                             std::chrono::seconds retry_after) {
    Problem p{503, "dependency-unavailable", "Service unavailable", std::move(detail)};
    p.with("dependency", boost::json::value(dependency));
    p.retry_after_ = retry_after;
    return p;
}

Problem Problem::internal() {
    return {500, "internal", "Internal server error", "An unexpected error occurred; it has been logged."};
}

Problem& Problem::with(std::string_view key, boost::json::value value) & {
    extensions_[key] = std::move(value);
    return *this;
}

Problem&& Problem::with(std::string_view key, boost::json::value value) && {
    extensions_[key] = std::move(value);
    return std::move(*this);
}

Problem& Problem::with_header(std::string name, std::string value) & {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
}

Problem&& Problem::with_header(std::string name, std::string value) && {
    headers_.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
}

std::string Problem::type_uri() const {
    std::string uri{kTypeBase};
    uri += type_;
    return uri;
}

boost::json::object Problem::to_json(std::string_view instance) const {
    boost::json::object doc;
    doc["type"] = type_uri();
    doc["title"] = title_;
    doc["status"] = status_;
    if (!detail_.empty()) doc["detail"] = detail_;
    if (!instance.empty()) doc["instance"] = instance;
    for (const auto& [key, value] : extensions_) {
        // Extension members never overwrite the standard ones.
        if (!doc.contains(key)) doc[key] = value;
    }
    return doc;
}

}  // namespace marquee::core
