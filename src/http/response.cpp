#include "http/response.hpp"

#include <array>
#include <cstddef>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "http/problem_response.hpp"

namespace marquee::http {

Response json(const boost::json::value& body, unsigned status) {
    return Response{status, "application/json", boost::json::serialize(body), {}, {}};
}

Response created(const boost::json::value& body, std::string location) {
    return json(body, 201).with_header("Location", std::move(location));
}

Response text(std::string body, std::string content_type, unsigned status) {
    return Response{status, std::move(content_type), std::move(body), {}, {}};
}

Response no_content() {
    return Response{204, {}, {}, {}, {}};
}

Response problem(const core::Problem& problem, std::string_view instance) {
    Response response{static_cast<unsigned>(problem.status()),
                      std::string(core::Problem::kContentType),
                      problem_body(problem, instance),
                      {},
                      {}};
    if (problem.retry_after()) {
        response.with_header("Retry-After", std::to_string(problem.retry_after()->count()));
    }
    for (const auto& [name, value] : problem.headers()) response.with_header(name, value);
    return response;
}

std::string problem_body(const core::Problem& problem, std::string_view instance) {
    // Room for any problem this service raises (a seat-taken names at most four seats); a bigger document
    // goes on in heap blocks the resource takes itself.
    alignas(std::max_align_t) std::array<unsigned char, 2048> buffer;
    boost::json::monotonic_resource resource(buffer.data(), buffer.size());
    // The members and their order of core::Problem::to_json, in the stack's storage.
    boost::json::object doc(&resource);
    doc.reserve(5 + problem.extensions().size());
    auto& type = doc["type"].emplace_string();
    type.reserve(core::Problem::kTypeBase.size() + problem.type().size());
    type.append(core::Problem::kTypeBase).append(problem.type());
    doc["title"] = problem.title();
    doc["status"] = problem.status();
    if (!problem.detail().empty()) doc["detail"] = problem.detail();
    if (!instance.empty()) doc["instance"] = instance;
    for (const auto& [key, value] : problem.extensions()) {
        // Extension members never overwrite the standard ones.
        if (!doc.contains(key)) doc[key] = value;
    }
    return boost::json::serialize(doc);
}

Response event_stream(StreamProducer producer) {
    Response response{200, "text/event-stream", {}, {}, std::move(producer)};
    response.with_header("Cache-Control", "no-cache");
    return response;
}

}  // namespace marquee::http
