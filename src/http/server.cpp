#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <mutex>
#include <random>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <sys/resource.h>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "http/forwarded.hpp"
#include "http/request_id.hpp"
#include "http/request_reader.hpp"

namespace marquee::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

namespace {

Response problem_response(const core::Problem& problem, std::string_view instance) {
    Response response{static_cast<unsigned>(problem.status()),
                      std::string(core::Problem::kContentType),
                      boost::json::serialize(problem.to_json(instance)),
                      {}};
    if (problem.retry_after()) {
        response.with_header("Retry-After", std::to_string(problem.retry_after()->count()));
    }
    for (const auto& [name, value] : problem.headers()) response.with_header(name, value);
    return response;
}

/// The request's trace: the caller's (W3C `traceparent`, several `tracestate` headers joined by commas) with
/// a new span for this server, or a new trace when there is none or it is invalid (two `traceparent`
/// headers are invalid too).
core::TraceContext trace_of(const bhttp::request<bhttp::string_body>& request) {
    if (request.count("traceparent") != 1) return core::TraceContext::start();
    std::string tracestate;
    for (auto [it, end] = request.equal_range("tracestate"); it != end; ++it) {
        if (!tracestate.empty()) tracestate += ',';
        tracestate.append(it->value());
    }
    return core::TraceContext::continue_from(request["traceparent"], tracestate);
}

/// Per-connection state the shutdown path needs; touched only on the connection's strand, except `busy`
/// and `stream`, which shutdown reads from that same strand through asio::post.
struct Connection {
    std::weak_ptr<beast::tcp_stream> stream;
    bool busy = false;
    std::uint64_t request = 0;  ///< counts requests, so a late deadline handler cannot hit the next one
    bool read_timed_out = false;
};

/// Writes Server-Sent Events as HTTP/1.1 chunks on one connection. Lives in the session's frame while the
/// producer runs; send() fails once the client is gone, a write misses its deadline, or the server stops.
class SseWriter final : public EventStream {
  public:
    SseWriter(beast::tcp_stream& stream, const std::atomic<bool>& stopping,
              std::chrono::milliseconds write_timeout)
        : stream_(stream), stopping_(stopping), write_timeout_(write_timeout) {}

    asio::awaitable<bool> send(std::string event, std::string data, std::string id) override {
        std::string text;
        text.reserve(data.size() + event.size() + id.size() + 32);
        if (!id.empty()) text += "id: " + single_line(std::move(id)) + "\n";
        if (!event.empty()) text += "event: " + single_line(std::move(event)) + "\n";
        std::size_t start = 0;
        while (true) {
            const auto newline = data.find('\n', start);
            text += "data: ";
            text.append(data, start, newline == std::string::npos ? std::string::npos : newline - start);
            text += '\n';
            if (newline == std::string::npos) break;
            start = newline + 1;
        }
        text += '\n';
        co_return co_await write(std::move(text));
    }

    asio::awaitable<bool> heartbeat() override { co_return co_await write(": keep-alive\n\n"); }

    bool open() const override { return !failed_ && !stopping_; }
    std::size_t bytes() const noexcept { return bytes_; }

  private:
    // An id or event name with a line break would end the field early and let data forge other fields.
    static std::string single_line(std::string text) {
        for (auto& c : text) {
            if (c == '\n' || c == '\r') c = ' ';
        }
        return text;
    }

    asio::awaitable<bool> write(std::string text) {
        if (!open()) co_return false;
        stream_.expires_after(write_timeout_);
        auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(text)), kTuple);
        if (ec) {
            failed_ = true;
            co_return false;
        }
        bytes_ += text.size();
        co_return true;
    }

    beast::tcp_stream& stream_;
    const std::atomic<bool>& stopping_;
    std::chrono::milliseconds write_timeout_;
    bool failed_ = false;
    std::size_t bytes_ = 0;
};

/// Feeds the parser what the buffer already holds, as beast's read does before it reads more. Stops with the
/// message done, the buffer empty, or an error; the parser's "need more" is no error here.
std::size_t parse_buffered(bhttp::request_parser<bhttp::string_body>& parser, beast::flat_buffer& buffer,
                           boost::system::error_code& ec) {
    parser.eager(true);
    std::size_t total = 0;
    while (!parser.is_done() && buffer.size() > 0) {
        const std::size_t used = parser.put(buffer.data(), ec);
        total += used;
        buffer.consume(used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            break;
        }
        if (ec || used == 0) break;
    }
    return total;
}

std::shared_ptr<const core::LogContext> log_context_of(const Context& ctx) {
    boost::json::object fields;
    fields["request_id"] = ctx.request_id();
    return core::make_log_context(ctx.trace(), std::move(fields));
}

/// The answer to a connection beyond the cap (written by hand: no request has been read).
std::string refusal_bytes(std::size_t cap) {
    core::Problem problem{503, "connection-limit", "Service unavailable",
                          "The server is at its limit of " + std::to_string(cap) +
                              " open connections; try again after Retry-After seconds."};
    const std::string body = boost::json::serialize(problem.to_json({}));
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + std::string(core::Problem::kContentType) +
           "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

}  // namespace

std::size_t connection_cap_for(std::size_t configured, std::size_t file_limit) {
    const std::size_t headroom = std::max<std::size_t>(256, file_limit / 10);
    const std::size_t most = file_limit > headroom ? file_limit - headroom : 1;
    if (configured == 0) return most;
    return std::max<std::size_t>(1, std::min(configured, most));
}

std::size_t raise_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
    return static_cast<std::size_t>(limit.rlim_cur);
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    Impl(asio::io_context& ioc, ServerOptions opts, const Router& r, core::MetricsRegistry& m)
        : ioc(ioc),
          options(std::move(opts)),
          proxies(options.trusted_proxies),
          router(r),
          acceptor(ioc),
          requests(m.counter("http_requests_total", "HTTP requests by method, route and status")),
          latency(m.histogram("http_request_duration_seconds", "HTTP request latency by method and route")),
          open_connections(m.gauge("http_connections", "Open HTTP connections").with({})),
          in_flight(m.gauge("http_requests_in_flight", "HTTP requests being handled").with({})),
          refused(m.counter("http_connections_refused_total",
                            "Connections accepted beyond the connection cap, answered 503 and closed")
                      .with({})),
          cap_gauge(m.gauge("http_connections_max", "The connection cap").with({})) {
        const std::size_t file_limit = raise_file_limit();
        cap = connection_cap_for(options.limits.max_connections, file_limit);
        // Sockets being refused hold a descriptor for up to a second each: at most a slice of the headroom.
        refusing_limit = std::max<std::size_t>(16, (file_limit - std::min(file_limit, cap)) / 4);
        refusal = refusal_bytes(cap);
        cap_gauge.set(static_cast<double>(cap));
        if (options.limits.max_connections > cap) {
            core::log_warn(
                "connection cap lowered below the file limit",
                {{"asked", options.limits.max_connections}, {"cap", cap}, {"file_limit", file_limit}});
        }
    }

    asio::io_context& ioc;
    ServerOptions options;
    TrustedProxies proxies;
    const Router& router;
    tcp::acceptor acceptor;
    core::Family<core::Counter>& requests;
    core::Family<core::Histogram>& latency;
    core::Gauge& open_connections;
    core::Gauge& in_flight;
    core::Counter& refused;
    core::Gauge& cap_gauge;
    std::size_t cap = 1;
    std::size_t refusing_limit = 16;
    std::string refusal;
    std::atomic<std::size_t> live{0};      ///< sessions accepted and not yet ended
    std::atomic<std::size_t> refusing{0};  ///< refusals still writing or draining
    /// The children of `requests` and `latency` per "method route status", found once (ADR 0015): a
    /// Family::with per request built two label vectors of strings and compared them in a map.
    struct RouteMetrics {
        core::Counter* requests;
        core::Histogram* latency;
    };
    std::mutex route_metrics_mutex;
    std::unordered_map<std::string, RouteMetrics> route_metrics;

    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
    std::uint64_t next_id = 0;
    std::atomic<bool> stopping{false};

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(tcp::socket socket);
    asio::awaitable<void> refuse(tcp::socket socket);
    asio::awaitable<Response> dispatch(Context& ctx);
    asio::awaitable<void> serve_stream(beast::tcp_stream& stream, Context& ctx, Response response,
                                       std::string_view route, std::chrono::steady_clock::time_point started,
                                       std::size_t bytes_in, const std::string& remote);
    void record(const Context& ctx, std::string_view route, unsigned status,
                std::chrono::steady_clock::duration took, std::size_t bytes_in, std::size_t bytes_out,
                const std::string& remote);
};

Server::Server(asio::io_context& ioc, ServerOptions options, const Router& router,
               core::MetricsRegistry& metrics)
    : impl_(std::make_shared<Impl>(ioc, std::move(options), router, metrics)) {}

Server::~Server() = default;

std::uint16_t Server::listen() {
    const tcp::endpoint endpoint{asio::ip::make_address(impl_->options.host), impl_->options.port};
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor.local_endpoint().port();
}

void Server::start() {
    asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            core::log_error("accept loop ended", {{"error", ex.what()}});
        }
    });
}

std::size_t Server::connection_cap() const {
    return impl_->cap;
}

std::size_t Server::connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connections.size();
}

asio::awaitable<void> Server::shutdown(std::chrono::milliseconds drain) {
    auto impl = impl_;
    impl->stopping = true;
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    std::vector<std::shared_ptr<Connection>> open;
    {
        std::lock_guard lock(impl->mutex);
        for (const auto& [id, connection] : impl->connections) open.push_back(connection);
    }
    for (const auto& connection : open) {
        if (auto stream = connection->stream.lock()) {
            // On the connection's strand, so `busy` cannot change under us: an idle connection is only
            // waiting for the next request, and cancelling that wait closes it; a busy one finishes its
            // response.
            asio::post(stream->get_executor(), [connection, stream] {
                if (!connection->busy) stream->cancel();
            });
        }
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + drain;
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock(impl->mutex);
            if (impl->connections.empty()) break;
        }
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(kTuple);
    }
}

asio::awaitable<void> Server::Impl::accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer backoff(acceptor.get_executor());
    while (!stopping) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || stopping) break;
            // EMFILE and friends: log, back off briefly instead of spinning.
            core::log_warn("accept failed", {{"error", ec.message()}});
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(kTuple);
            continue;
        }
        if (live.load() >= cap) {
            // Beyond the cap: accepted (so the backlog never fills and the client is not left hanging), told
            // 503 with Retry-After, closed. Too many refusals at once: closed at once.
            refused.inc();
            if (refusing.load() >= refusing_limit) {
                boost::system::error_code ignored;
                socket.close(ignored);
                continue;
            }
            ++refusing;
            auto executor = socket.get_executor();
            asio::co_spawn(executor, refuse(std::move(socket)), asio::detached);
            continue;
        }
        ++live;
        auto executor = socket.get_executor();
        asio::co_spawn(executor, session(std::move(socket)), [self](const std::exception_ptr& e) {
            --self->live;  // however the session ended
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                core::log_error("connection ended by an exception", {{"error", ex.what()}});
            }
        });
    }
}

asio::awaitable<void> Server::Impl::session(tcp::socket socket) {
    auto self = shared_from_this();
    boost::system::error_code remote_ec;
    const auto remote_endpoint = socket.remote_endpoint(remote_ec);
    const std::string remote = remote_ec ? std::string("unknown") : remote_endpoint.address().to_string();
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    auto connection = std::make_shared<Connection>();
    connection->stream = stream;
    std::uint64_t id = 0;
    {
        std::lock_guard lock(mutex);
        id = next_id++;
        connections.emplace(id, connection);
    }
    open_connections.add(1);
    beast::flat_buffer buffer;
    const auto& limits = options.limits;

    for (;;) {
        if (stopping) break;
        // Idle phase: wait for the first byte of the next request under the keep-alive timeout.
        if (buffer.size() == 0) {
            stream->expires_after(limits.idle_timeout);
            auto [ec, n] = co_await stream->async_read_some(buffer.prepare(4096), kTuple);
            if (ec) break;  // idle timeout, client gone, or shutdown: close without a response
            buffer.commit(n);
        }
        connection->busy = true;
        const auto started = std::chrono::steady_clock::now();

        // The whole request (head and body) must arrive within read_timeout: slow clients get 408.
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
        parser.body_limit(limits.max_body_bytes);
        // Not tcp_stream's own expiry: that closes the socket, and a slow client should still read its 408.
        // This deadline only cancels the read; the handler runs on this connection's strand.
        const auto request_number = ++connection->request;
        connection->read_timed_out = false;
        // A request already whole in the buffer (the usual small one) is parsed here, with no deadline
        // timer to arm and cancel and no read to complete through the scheduler (ADR 0035).
        boost::system::error_code read_ec;
        std::size_t bytes_in = parse_buffered(parser, buffer, read_ec);
        if (!read_ec && !parser.is_done()) {
            asio::steady_timer read_deadline(stream->get_executor(), limits.read_timeout);
            read_deadline.async_wait([connection, stream, request_number](boost::system::error_code ec) {
                if (ec || connection->request != request_number) return;
                connection->read_timed_out = true;
                boost::system::error_code ignored;
                stream->socket().cancel(ignored);
            });
            stream->expires_never();
            auto [ec, n] = co_await bhttp::async_read(*stream, buffer, parser, kTuple);
            read_deadline.cancel();
            read_ec = ec;
            bytes_in += n;
            if (read_ec == asio::error::operation_aborted && connection->read_timed_out) {
                read_ec = beast::error::timeout;
            }
        }

        Response response;
        bool keep_alive = false;
        std::optional<Context> ctx;
        std::string_view route = "unmatched";
        if (read_ec) {
            if (read_ec == bhttp::error::end_of_stream || read_ec == asio::error::eof ||
                read_ec == asio::error::connection_reset || read_ec == asio::error::operation_aborted) {
                break;
            }
            response = problem_response(read_problem(read_ec, limits), {});
            ctx.emplace("-", "-", Fields{}, std::string{}, new_request_id());
        } else if (parser.get().count(bhttp::field::transfer_encoding) != 0 && !parser.get().chunked()) {
            // RFC 9112 section 6.3: a Transfer-Encoding whose final coding is not chunked leaves the body's
            // length unknown, and whatever follows could be a smuggled request: 400, then close the
            // connection.
            response = problem_response(unframed_body_problem(), {});
            ctx.emplace(std::string(parser.get().method_string()), std::string(parser.get().target()),
                        Fields{}, std::string{}, new_request_id());
        } else {
            auto request = parser.release();
            keep_alive = request.keep_alive() && !stopping;
            Fields headers;
            headers.reserve(16);
            for (const auto& field : request) headers.emplace_back(field.name_string(), field.value());
            auto request_id = accept_request_id(request["X-Request-Id"]);
            auto trace = trace_of(request);
            ctx.emplace(std::string(request.method_string()), std::string(request.target()),
                        std::move(headers), std::move(request.body()), std::move(request_id));
            ctx->set_trace(std::move(trace));
            ctx->set_authenticator(options.authenticator);
            ctx->set_remote_address(proxies.client_address(remote, ctx->header("X-Forwarded-For")));
            in_flight.add(1);
            // The handler runs as its own coroutine on this connection's strand, wrapped so that every
            // resumption, on whichever thread, logs with this request's trace and id (ADR 0010).
            const auto traced = core::with_log_context(stream->get_executor(), log_context_of(*ctx));
            auto handling = dispatch(*ctx);
            response = co_await asio::co_spawn(traced, std::move(handling), use_awaitable);
            in_flight.add(-1);
            if (!ctx->route().empty()) route = ctx->route();
        }

        if (response.stream) {
            co_await serve_stream(*stream, *ctx, std::move(response), route, started, bytes_in, remote);
            connection->busy = false;
            break;
        }

        bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status), 11};
        if (!response.content_type.empty()) out.set(bhttp::field::content_type, response.content_type);
        out.set("X-Request-Id", ctx->request_id());
        out.set("traceparent", ctx->trace().traceparent());
        for (const auto& [name, value] : response.headers) out.set(name, value);
        out.keep_alive(keep_alive && !stopping);
        out.body() = std::move(response.body);
        out.prepare_payload();
        // RFC 9110 section 9.3.2: no content in an answer to HEAD, whatever the status (a body would be read
        // as the next answer on a kept-alive connection). Content-Length, when sent, is the length the
        // handler's body has; a handler that already left the body out (the web files) gets none rather than
        // a false 0.
        const bool head = ctx->method() == "HEAD";
        if (head && out.body().empty()) out.erase(bhttp::field::content_length);
        const auto bytes_out = head ? 0 : out.body().size();
        // Recorded before the write so a client that has its response also sees it counted; the latency is
        // the server's time to produce the response.
        record(*ctx, route, response.status, std::chrono::steady_clock::now() - started, bytes_in, bytes_out,
               remote);
        bhttp::response_serializer<bhttp::string_body> serializer{out};
        // Most answers fit in the socket's send buffer: written here and now, without a deadline timer or a
        // completion through the scheduler (ADR 0035). What does not fit goes on asynchronously, from where
        // the serializer stopped, under the deadline.
        boost::system::error_code write_ec;
        auto& socket = stream->socket();
        if (!socket.non_blocking()) socket.non_blocking(true, write_ec);
        if (!write_ec) {
            if (head) {
                bhttp::write_header(socket, serializer, write_ec);
            } else {
                bhttp::write(socket, serializer, write_ec);
            }
        }
        if (write_ec == asio::error::would_block || write_ec == asio::error::try_again) {
            stream->expires_after(limits.read_timeout);
            auto [ec, written] = head ? co_await bhttp::async_write_header(*stream, serializer, kTuple)
                                      : co_await bhttp::async_write(*stream, serializer, kTuple);
            write_ec = ec;
        }
        connection->busy = false;
        if (write_ec || !out.keep_alive()) break;
    }

    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream->close();
    open_connections.add(-1);
    std::lock_guard lock(mutex);
    connections.erase(id);
}

// Writes the 503, ends the sending side, then reads (and drops) what the client sent until it closes or a
// second passes: closing with unread bytes would reset the connection and could destroy the 503 before the
// client reads it.
asio::awaitable<void> Server::Impl::refuse(tcp::socket socket) {
    auto self = shared_from_this();
    struct Done {
        std::atomic<std::size_t>& count;
        ~Done() { --count; }
    } done{refusing};
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(1));
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(refusal), kTuple);
    boost::system::error_code ignored;
    if (!write_ec) {
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        std::array<char, 4096> sink{};
        for (int i = 0; i < 64; ++i) {
            auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
            if (ec) break;
        }
    }
    stream.close();
}

// An event stream: the head with chunked encoding, then whatever the producer sends, then the last chunk.
// The connection is not reused afterwards; one access-log line covers the whole stream.
asio::awaitable<void> Server::Impl::serve_stream(beast::tcp_stream& stream, Context& ctx, Response response,
                                                 std::string_view route,
                                                 std::chrono::steady_clock::time_point started,
                                                 std::size_t bytes_in, const std::string& remote) {
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), 11};
    head.set(bhttp::field::content_type, response.content_type);
    head.set("X-Request-Id", ctx.request_id());
    head.set("traceparent", ctx.trace().traceparent());
    for (const auto& [name, value] : response.headers) head.set(name, value);
    head.keep_alive(false);
    head.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(options.limits.read_timeout);
    auto [head_ec, head_bytes] = co_await bhttp::async_write_header(stream, serializer, kTuple);
    SseWriter writer(stream, stopping, options.limits.read_timeout);
    if (!head_ec) {
        try {
            const auto traced = core::with_log_context(stream.get_executor(), log_context_of(ctx));
            auto producing = response.stream(writer);
            co_await asio::co_spawn(traced, std::move(producing), use_awaitable);
        } catch (const std::exception& e) {
            core::log_error("event stream ended by an exception",
                            {{"request_id", ctx.request_id()}, {"route", ctx.route()}, {"error", e.what()}});
        }
        stream.expires_after(options.limits.read_timeout);
        co_await asio::async_write(stream, bhttp::make_chunk_last(), kTuple);
    }
    record(ctx, route, response.status, std::chrono::steady_clock::now() - started, bytes_in, writer.bytes(),
           remote);
}

asio::awaitable<Response> Server::Impl::dispatch(Context& ctx) {
    try {
        auto match = router.match(ctx.method(), ctx.path());
        switch (match.outcome) {
            case Router::Match::Outcome::Found:
                ctx.set_route(match.pattern, std::move(match.params));
                co_return co_await (*match.handler)(ctx);
            case Router::Match::Outcome::MethodNotAllowed: {
                std::string allow;
                for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
                throw core::Problem::method_not_allowed(std::string(ctx.method()) +
                                                        " is not allowed here; use " + allow)
                    .with_header("Allow", allow);
            }
            case Router::Match::Outcome::BadPath:
                throw core::Problem::bad_request("the request path is not a valid percent-encoded path");
            case Router::Match::Outcome::NotFound:
                throw core::Problem::not_found("no route matches " + std::string(ctx.method()) + " " +
                                               std::string(ctx.path()));
        }
        throw core::Problem::internal();
    } catch (const core::Problem& problem) {
        if (problem.status() >= 500) {
            core::log_warn("request failed", {{"request_id", ctx.request_id()},
                                              {"status", problem.status()},
                                              {"detail", problem.detail()}});
        }
        co_return problem_response(problem, ctx.path());
    } catch (const std::exception& e) {
        // A bug: log it once with the request id, answer 500 without internals.
        core::log_error("unhandled exception in handler",
                        {{"request_id", ctx.request_id()}, {"route", ctx.route()}, {"error", e.what()}});
        co_return problem_response(core::Problem::internal(), ctx.path());
    }
}

void Server::Impl::record(const Context& ctx, std::string_view route, unsigned status,
                          std::chrono::steady_clock::duration took, std::size_t bytes_in,
                          std::size_t bytes_out, const std::string& remote) {
    const double seconds = std::chrono::duration<double>(took).count();
    // Only the methods HTTP defines get a label of their own: a made-up method per request must not grow the
    // metrics without bound.
    static constexpr std::string_view kMethods[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                                    "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    const bool known =
        std::find(std::begin(kMethods), std::end(kMethods), ctx.method()) != std::end(kMethods);
    const std::string_view method = known ? ctx.method() : std::string_view("other");
    thread_local std::string key;  // reused: no allocation once it has grown to the longest route
    key.assign(method);
    key += ' ';
    key.append(route);
    key += ' ';
    char digits[8];
    const auto end = std::to_chars(std::begin(digits), std::end(digits), status).ptr;
    key.append(digits, end);
    RouteMetrics found{};
    {
        std::lock_guard lock(route_metrics_mutex);
        if (const auto it = route_metrics.find(key); it != route_metrics.end()) found = it->second;
    }
    if (found.requests == nullptr) {
        static const std::vector<double> kBuckets = core::latency_buckets();
        const std::string method_label(method);
        const std::string route_label(route);
        found.requests = &requests.with(
            {{"method", method_label}, {"route", route_label}, {"status", std::to_string(status)}});
        found.latency = &latency.with({{"method", method_label}, {"route", route_label}}, kBuckets);
        std::lock_guard lock(route_metrics_mutex);
        route_metrics.emplace(key, found);
    }
    found.requests->inc();
    found.latency->observe(seconds);
    if (core::log_enabled(core::LogLevel::Info)) {
        boost::json::object line{{"request_id", ctx.request_id()},
                                 {"trace_id", ctx.trace().trace_id()},
                                 {"span_id", ctx.trace().span_id()},
                                 {"method", ctx.method()},
                                 {"path", ctx.path()},
                                 {"route", route},
                                 {"status", status},
                                 {"duration_ms", seconds * 1000.0},
                                 {"bytes_in", bytes_in},
                                 {"bytes_out", bytes_out},
                                 {"remote", remote}};
        // The caller's span, when it sent one: a collector can rebuild the call tree from the access lines.
        if (!ctx.trace().parent_span_id().empty()) line["parent_span_id"] = ctx.trace().parent_span_id();
        core::log_info("access", line);
    }
}

}  // namespace marquee::http
