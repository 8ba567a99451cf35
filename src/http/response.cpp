#include "http/response.hpp"

#include <boost/json/serialize.hpp>

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

Response event_stream(StreamProducer producer) {
    Response response{200, "text/event-stream", {}, {}, std::move(producer)};
    response.with_header("Cache-Control", "no-cache");
    return response;
}

}  // namespace marquee::http
