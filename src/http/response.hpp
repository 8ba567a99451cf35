#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

namespace marquee::http {

/// The writing end of a Server-Sent Events stream (text/event-stream, WHATWG HTML section 9.2).
class EventStream {
  public:
    virtual ~EventStream() = default;
    /// Sends one event (`data` may hold newlines: each becomes a data: line). Returns false once the client
    /// has gone or the server is shutting down: the producer should then return.
    virtual boost::asio::awaitable<bool> send(std::string event, std::string data, std::string id = {}) = 0;
    /// A comment line, so proxies and clients see an idle stream is alive; false as for send().
    virtual boost::asio::awaitable<bool> heartbeat() = 0;
    /// False once send() would fail because the server is stopping.
    virtual bool open() const = 0;
};

/// Produces the events of one stream; returns when the stream is done. Runs on the connection's strand.
using StreamProducer = std::function<boost::asio::awaitable<void>(EventStream&)>;

/// What a handler returns. Kept free of Beast so services never include it.
struct Response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    /// When set, the response is an event stream: `body` is ignored, the producer writes events, and the
    /// connection closes when it returns.
    StreamProducer stream;

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
/// 200 text/event-stream whose events `producer` writes. The producer must own what it uses (capture by
/// value or shared_ptr): it runs after the handler has returned.
Response event_stream(StreamProducer producer);

}  // namespace marquee::http
