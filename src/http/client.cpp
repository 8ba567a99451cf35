#include "http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "core/log_context.hpp"

namespace marquee::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
}

Client::Client(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(std::move(options)) {
    const auto url = boost::urls::parse_absolute_uri(options_.base_url);
    if (!url || url->scheme() != "http" || url->host().empty()) {
        throw std::invalid_argument("expected http://host:port, got '" + options_.base_url + "'");
    }
    host_ = url->host();
    port_ = url->has_port() ? std::string(url->port()) : "80";
}

asio::awaitable<ClientResponse> Client::request(std::string method, std::string target, std::string body,
                                                Fields headers) {
    constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
    // The callee continues the trace of the unit of work making this call, in a span that is a child of it
    // (W3C Trace Context), unless the caller named one itself.
    std::optional<core::TraceContext> outgoing;
    if (const core::LogContext* context = core::current_log_context()) outgoing = context->trace.child();
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    const auto remaining = [&] {
        return std::max(std::chrono::steady_clock::duration::zero(),
                        deadline - std::chrono::steady_clock::now());
    };
    const auto fail = [&](ClientError::Kind kind, bool delivered, const boost::system::error_code& ec,
                          std::string_view step) {
        return ClientError(kind, delivered,
                           std::string(step) + " " + host_ + ":" + port_ + target + ": " + ec.message());
    };

    tcp::resolver resolver(executor_);
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host_, port_, kTuple);
    if (resolve_ec) throw fail(ClientError::Kind::Connect, false, resolve_ec, "resolve");

    beast::tcp_stream stream(executor_);
    stream.expires_after(remaining());
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, kTuple);
    if (connect_ec) {
        throw fail(
            connect_ec == beast::error::timeout ? ClientError::Kind::Timeout : ClientError::Kind::Connect,
            false, connect_ec, "connect");
    }

    bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), target, 11};
    request.set(bhttp::field::host, host_ + ":" + port_);
    request.set(bhttp::field::connection, "close");
    if (outgoing) {
        request.set("traceparent", outgoing->traceparent());
        if (!outgoing->tracestate().empty()) request.set("tracestate", outgoing->tracestate());
    }
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || request.method() == bhttp::verb::post || request.method() == bhttp::verb::put) {
        request.body() = std::move(body);
        request.prepare_payload();
    }
    stream.expires_after(remaining());
    auto [write_ec, written] = co_await bhttp::async_write(stream, request, kTuple);
    // Once any byte may have left, the peer may act on the request.
    if (write_ec) {
        throw fail(write_ec == beast::error::timeout ? ClientError::Kind::Timeout : ClientError::Kind::Broken,
                   true, write_ec, "write");
    }

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    stream.expires_after(remaining());
    auto [read_ec, read] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    if (read_ec) {
        throw fail(read_ec == beast::error::timeout ? ClientError::Kind::Timeout : ClientError::Kind::Broken,
                   true, read_ec, "read");
    }
    auto message = parser.release();
    ClientResponse response;
    response.status = message.result_int();
    for (const auto& field : message) response.headers.emplace_back(field.name_string(), field.value());
    response.body = std::move(message.body());
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return response;
}

}  // namespace marquee::http
