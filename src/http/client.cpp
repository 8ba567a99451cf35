#include "http/client.hpp"

#include <mutex>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "core/idle_socket.hpp"
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

/// The kept connections and the in-flight count, shared with every call in progress: a call's frame may be
/// destroyed after the Client (an io_context torn down with calls suspended), and must still find them.
struct Client::Pool {
    struct Idle {
        std::unique_ptr<beast::tcp_stream> stream;
        std::chrono::steady_clock::time_point since;
    };

    /// A kept connection whose peer is still there and that has not idled too long, newest first; null if
    /// none.
    std::unique_ptr<beast::tcp_stream> take(std::chrono::milliseconds max_idle_time) {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex);
        while (!idle.empty()) {
            Idle last = std::move(idle.back());
            idle.pop_back();
            if (now - last.since <= max_idle_time &&
                core::peer_still_there(last.stream->socket().native_handle())) {
                ++stats.calls_on_kept_connections;
                return std::move(last.stream);
            }
        }
        return nullptr;
    }

    void give_back(std::unique_ptr<beast::tcp_stream> stream, std::size_t max_idle) {
        std::lock_guard lock(mutex);
        if (idle.size() >= max_idle) return;  // closed as it goes
        idle.push_back(Idle{std::move(stream), std::chrono::steady_clock::now()});
    }

    /// One call's place under Options::max_in_flight, released when the call ends however it ends.
    class Slot {
      public:
        Slot(std::shared_ptr<Pool> pool, std::size_t bound) : pool_(std::move(pool)) {
            std::lock_guard lock(pool_->mutex);
            if (bound > 0 && pool_->stats.in_flight >= bound) {
                ++pool_->stats.busy;
                pool_.reset();
                return;
            }
            ++pool_->stats.in_flight;
        }
        ~Slot() {
            if (!pool_) return;
            std::lock_guard lock(pool_->mutex);
            --pool_->stats.in_flight;
        }
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        bool admitted() const { return pool_ != nullptr; }

      private:
        std::shared_ptr<Pool> pool_;
    };

    mutable std::mutex mutex;
    std::vector<Idle> idle;
    Stats stats;
};

Client::Client(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(std::move(options)), pool_(std::make_shared<Pool>()) {
    const auto url = boost::urls::parse_absolute_uri(options_.base_url);
    if (!url || url->scheme() != "http" || url->host().empty()) {
        throw std::invalid_argument("expected http://host:port, got '" + options_.base_url + "'");
    }
    host_ = url->host();
    port_ = url->has_port() ? std::string(url->port()) : "80";
}

Client::~Client() = default;

Client::Stats Client::stats() const {
    std::lock_guard lock(pool_->mutex);
    Stats out = pool_->stats;
    out.idle_connections = pool_->idle.size();
    return out;
}

asio::awaitable<ClientResponse> Client::request(std::string method, std::string target, std::string body,
                                                Fields headers) {
    constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
    const std::shared_ptr<Pool> pool = pool_;
    const Pool::Slot slot(pool, options_.max_in_flight);
    if (!slot.admitted()) {
        throw ClientError(ClientError::Kind::Busy, false,
                          "calls to " + host_ + ":" + port_ + " at their bound of " +
                              std::to_string(options_.max_in_flight) + " in flight");
    }
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
    const bool keep_alive = options_.max_idle_connections > 0;

    bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), target, 11};
    request.set(bhttp::field::host, host_ + ":" + port_);
    if (!keep_alive) request.set(bhttp::field::connection, "close");
    if (outgoing) {
        request.set("traceparent", outgoing->traceparent());
        if (!outgoing->tracestate().empty()) request.set("tracestate", outgoing->tracestate());
    }
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || request.method() == bhttp::verb::post || request.method() == bhttp::verb::put) {
        request.body() = std::move(body);
        request.prepare_payload();
    }

    // At most two rounds: a kept connection, then (only if the server had closed it) a fresh one.
    for (int round = 0;; ++round) {
        std::unique_ptr<beast::tcp_stream> stream;
        if (round == 0 && keep_alive) stream = pool->take(options_.max_idle_time);
        const bool reused = stream != nullptr;
        if (!reused) {
            tcp::resolver resolver(executor_);
            auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host_, port_, kTuple);
            if (resolve_ec) throw fail(ClientError::Kind::Connect, false, resolve_ec, "resolve");
            stream = std::make_unique<beast::tcp_stream>(executor_);
            stream->expires_after(remaining());
            auto [connect_ec, endpoint] = co_await stream->async_connect(endpoints, kTuple);
            if (connect_ec) {
                throw fail(connect_ec == beast::error::timeout ? ClientError::Kind::Timeout
                                                               : ClientError::Kind::Connect,
                           false, connect_ec, "connect");
            }
            std::lock_guard lock(pool->mutex);
            ++pool->stats.connections_opened;
        }

        stream->expires_after(remaining());
        auto [write_ec, written] = co_await bhttp::async_write(*stream, request, kTuple);
        if (write_ec && reused && write_ec != beast::error::timeout) {
            std::lock_guard lock(pool->mutex);
            ++pool->stats.retried_on_fresh_connection;
            continue;
        }
        // Once any byte may have left, the peer may act on the request.
        if (write_ec) {
            throw fail(
                write_ec == beast::error::timeout ? ClientError::Kind::Timeout : ClientError::Kind::Broken,
                true, write_ec, "write");
        }

        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(options_.max_response_bytes);
        stream->expires_after(remaining());
        auto [read_ec, read] = co_await bhttp::async_read(*stream, buffer, parser, kTuple);
        if (read_ec && reused && !parser.got_some() && read_ec != beast::error::timeout) {
            // Closed by the server before any byte of an answer: its idle close, not an answer lost.
            std::lock_guard lock(pool->mutex);
            ++pool->stats.retried_on_fresh_connection;
            continue;
        }
        if (read_ec) {
            throw fail(
                read_ec == beast::error::timeout ? ClientError::Kind::Timeout : ClientError::Kind::Broken,
                true, read_ec, "read");
        }
        auto message = parser.release();
        ClientResponse response;
        response.status = message.result_int();
        for (const auto& field : message) response.headers.emplace_back(field.name_string(), field.value());
        response.body = std::move(message.body());
        if (keep_alive && message.keep_alive()) {
            stream->expires_never();
            pool->give_back(std::move(stream), options_.max_idle_connections);
        } else {
            boost::system::error_code ignored;
            stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
        }
        co_return response;
    }
}

}  // namespace marquee::http
