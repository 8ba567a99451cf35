#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace marquee::http {

/// What a handler returns. Kept free of Beast so services never include it.
struct Response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    Response& with_header(std::string name, std::string value) & {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    Response&& with_header(std::string name, std::string value) && {
        headers.emplace_back(std::move(name), std::move(value));
        return std::move(*this);
    }
};

Response json(const boost::json::value& body, unsigned status = 200);
/// 201 with a Location header.
Response created(const boost::json::value& body, std::string location);
Response text(std::string body, std::string content_type, unsigned status = 200);
Response no_content();

}  // namespace marquee::http
