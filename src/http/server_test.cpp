#include "http/server.hpp"

#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "http/problem_response.hpp"

namespace marquee::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class ServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        core::init_logging(core::LogLevel::Warn);
        router_.get("/echo/{id}", [](Context& ctx) -> asio::awaitable<Response> {
            co_return json(boost::json::object{{"id", ctx.param("id")}, {"q", ctx.query("q").value_or("")}});
        });
        router_.post("/json",
                     [](Context& ctx) -> asio::awaitable<Response> { co_return json(ctx.json_object()); });
        router_.get("/problem", [](Context&) -> asio::awaitable<Response> {
            throw core::Problem::conflict("seat-taken", "seat A1 is held")
                .with("seats", boost::json::array{"A1"});
            co_return Response{};
        });
        // The same problem as /problem, returned rather than thrown (ADR 0042), under another route.
        router_.get("/refusal/{how}", [](Context& ctx) -> asio::awaitable<Response> {
            const auto refusal = core::Problem::conflict("seat-taken", "seat A1 is held")
                                     .with("seats", boost::json::array{"A1"});
            if (ctx.param("how") == "thrown") throw refusal;
            co_return problem(refusal, ctx.path());
        });
        router_.get("/unavailable", [](Context&) -> asio::awaitable<Response> {
            throw core::Problem::unavailable("redis", "Redis did not answer", std::chrono::seconds{3});
            co_return Response{};
        });
        router_.get("/boom", [](Context&) -> asio::awaitable<Response> {
            throw std::runtime_error("secret internals");
            co_return Response{};
        });
        router_.get("/slow", [this](Context&) -> asio::awaitable<Response> {
            slow_started_.set_value();
            asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
            co_await timer.async_wait(asio::use_awaitable);
            co_return text("done", "text/plain");
        });
        router_.get("/events", [this](Context&) -> asio::awaitable<Response> {
            co_return event_stream([this](EventStream& events) -> asio::awaitable<void> {
                co_await events.send("position", "{\"position\":2}", "1");
                co_await events.send("position", "line one\nline two", "2");
                co_await events.heartbeat();
                co_await events.send("admitted\nevent: forged", "done", "3");
                // Then wait for the client to leave: send() turns false once it has.
                asio::steady_timer timer(co_await asio::this_coro::executor);
                for (int i = 0; i < 500; ++i) {
                    timer.expires_after(std::chrono::milliseconds(10));
                    co_await timer.async_wait(asio::use_awaitable);
                    if (!co_await events.heartbeat()) break;
                }
                stream_ended_.set_value();
            });
        });
        // Reports the trace the log lines see at each resumption, across timer waits that may resume it on
        // either of the two I/O threads.
        router_.get("/traced", [](Context& ctx) -> asio::awaitable<Response> {
            boost::json::array seen;
            asio::steady_timer timer(co_await asio::this_coro::executor);
            for (int i = 0; i < 4; ++i) {
                const core::LogContext* context = core::current_log_context();
                seen.emplace_back(context ? context->trace.trace_id() : std::string("none"));
                timer.expires_after(std::chrono::milliseconds(2));
                co_await timer.async_wait(asio::use_awaitable);
            }
            co_return json(boost::json::object{{"trace", ctx.trace().trace_id()}, {"seen", std::move(seen)}});
        });
        router_.get("/short-events", [](Context&) -> asio::awaitable<Response> {
            co_return event_stream([](EventStream& events) -> asio::awaitable<void> {
                co_await events.send("tick", "1");
                co_await events.send("tick", "2");
            });
        });
        ServerOptions options;
        options.port = 0;
        options.limits.max_body_bytes = 1024;
        options.limits.max_header_bytes = 2048;
        options.limits.read_timeout = std::chrono::milliseconds(300);
        options.limits.idle_timeout = std::chrono::milliseconds(500);
        server_ = std::make_unique<Server>(ioc_, options, router_, metrics_);
        port_ = server_->listen();
        server_->start();
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }

    void TearDown() override {
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }

    tcp::socket connect() {
        tcp::socket socket(client_ioc_);
        socket.connect({asio::ip::make_address("127.0.0.1"), port_});
        return socket;
    }

    static bhttp::response<bhttp::string_body> read_response(tcp::socket& socket) {
        boost::beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> response;
        bhttp::read(socket, buffer, response);
        return response;
    }

    static void send(tcp::socket& socket, std::string_view raw) { asio::write(socket, asio::buffer(raw)); }

    bhttp::response<bhttp::string_body> round_trip(std::string_view raw) {
        auto socket = connect();
        send(socket, raw);
        return read_response(socket);
    }

    static bool closed_by_server(tcp::socket& socket) {
        char byte = 0;
        boost::system::error_code ec;
        socket.read_some(asio::buffer(&byte, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }

    static boost::json::object problem_of(const bhttp::response<bhttp::string_body>& response) {
        EXPECT_EQ(response[bhttp::field::content_type], "application/problem+json");
        return boost::json::parse(response.body()).as_object();
    }

    asio::io_context ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
    asio::io_context client_ioc_;
    Router router_;
    core::MetricsRegistry metrics_;
    std::unique_ptr<Server> server_;
    std::uint16_t port_ = 0;
    std::vector<std::thread> threads_;
    std::promise<void> slow_started_;
    std::promise<void> stream_ended_;
};

TEST_F(ServerTest, ServesRouteWithParamsAndGeneratesRequestId) {
    const auto response = round_trip("GET /echo/7?q=a+b HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_EQ(response[bhttp::field::content_type], "application/json");
    const auto body = boost::json::parse(response.body()).as_object();
    EXPECT_EQ(body.at("id").as_string(), "7");
    EXPECT_EQ(body.at("q").as_string(), "a b");
    EXPECT_EQ(response["X-Request-Id"].size(), 32u);
}

TEST_F(ServerTest, EchoesSafeRequestIdAndReplacesUnsafeOne) {
    EXPECT_EQ(round_trip("GET /echo/1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n")["X-Request-Id"],
              "abc-123");
    EXPECT_NE(round_trip("GET /echo/1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\"b\r\n\r\n")["X-Request-Id"],
              "a\"b");
}

TEST_F(ServerTest, UnknownRouteIsProblem404) {
    const auto response = round_trip("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 404);
    const auto problem = problem_of(response);
    EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/not-found");
    EXPECT_EQ(problem.at("status").as_int64(), 404);
    EXPECT_EQ(problem.at("instance").as_string(), "/nowhere");
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
    const auto response = round_trip("DELETE /json HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 405);
    EXPECT_EQ(response[bhttp::field::allow], "POST");
    EXPECT_EQ(problem_of(response).at("type").as_string(), "https://marquee.dev/problems/method-not-allowed");
}

TEST_F(ServerTest, ThrownProblemIsRenderedWithExtensions) {
    const auto response = round_trip("GET /problem HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 409);
    const auto problem = problem_of(response);
    EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/seat-taken");
    EXPECT_EQ(problem.at("seats").as_array().at(0).as_string(), "A1");
}

// ADR 0042: a handler may return the problem it would throw; the client sees the same answer (status,
// problem+json body, X-Request-Id, traceparent) and the metrics count it the same.
TEST_F(ServerTest, AReturnedProblemIsAnsweredAndCountedAsAThrownOne) {
    std::vector<bhttp::response<bhttp::string_body>> answers;
    for (const std::string how : {"thrown", "returned"}) {
        std::string request = "GET /refusal/";
        request.append(how).append(" HTTP/1.1\r\nHost: x\r\nX-Request-Id: refusal-").append(how);
        request.append("\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n");
        answers.push_back(round_trip(request));
        const auto& response = answers.back();
        EXPECT_EQ(response.result_int(), 409);
        EXPECT_EQ(response[bhttp::field::content_type], "application/problem+json");
        EXPECT_EQ(response["X-Request-Id"], "refusal-" + how);
        EXPECT_EQ(response["traceparent"].substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
        const auto problem = problem_of(response);
        EXPECT_EQ(problem.at("instance").as_string(), "/refusal/" + how);
    }
    auto thrown = problem_of(answers[0]);
    auto returned = problem_of(answers[1]);
    thrown.erase("instance");
    returned.erase("instance");
    EXPECT_EQ(thrown, returned);
    EXPECT_EQ(answers[0].body().size() + 2, answers[1].body().size());  // "returned" is two letters longer
    const auto text = metrics_.render();
    EXPECT_NE(text.find(R"(http_requests_total{method="GET",route="/refusal/{how}",status="409"} 2)"),
              std::string::npos)
        << text;
}

// problem_body() is core::Problem::to_json serialized, byte for byte, whatever the problem holds.
TEST(ProblemResponse, BodyIsTheSerializedDocument) {
    std::vector<core::Problem> problems{
        core::Problem::conflict("seat-taken", "a requested seat is already held or sold")
            .with("seats", boost::json::array{12201, 12202}),
        core::Problem::invalid_field("seatIds", "must hold 1 to 4 seat ids"),
        core::Problem::unavailable("redis", "Redis did not answer", std::chrono::seconds{3}),
        core::Problem::unauthorized("no token"),
        core::Problem{400, "bad-request", "Bad request"}.with("status", 200).with("title", "forged"),
        core::Problem::conflict("long", std::string(3000, 'x')).with("nested", boost::json::object{{"a", 1}}),
    };
    for (const auto& p : problems) {
        for (const std::string_view instance : {"", "/api/v1/reservations"}) {
            EXPECT_EQ(problem_body(p, instance), boost::json::serialize(p.to_json(instance)));
        }
    }
}

TEST(ProblemResponse, CarriesStatusRetryAfterAndTheProblemsHeaders) {
    const auto unavailable =
        problem(core::Problem::unavailable("redis", "Redis did not answer", std::chrono::seconds{3}), "/x");
    EXPECT_EQ(unavailable.status, 503U);
    EXPECT_EQ(unavailable.content_type, "application/problem+json");
    ASSERT_EQ(unavailable.headers.size(), 1U);
    EXPECT_EQ(unavailable.headers[0], (std::pair<std::string, std::string>{"Retry-After", "3"}));
    const auto unauthorized = problem(core::Problem::unauthorized("bad token", "invalid_token"), "/x");
    EXPECT_EQ(unauthorized.status, 401U);
    ASSERT_EQ(unauthorized.headers.size(), 1U);
    EXPECT_EQ(unauthorized.headers[0].first, "WWW-Authenticate");
    EXPECT_EQ(unauthorized.headers[0].second, R"(Bearer realm="marquee", error="invalid_token")");
}

TEST_F(ServerTest, UnavailableCarriesRetryAfter) {
    const auto response = round_trip("GET /unavailable HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 503);
    EXPECT_EQ(response[bhttp::field::retry_after], "3");
    EXPECT_EQ(problem_of(response).at("dependency").as_string(), "redis");
}

TEST_F(ServerTest, HandlerBugIs500WithoutInternals) {
    const auto response = round_trip("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 500);
    EXPECT_EQ(response.body().find("secret"), std::string::npos);
    EXPECT_EQ(problem_of(response).at("type").as_string(), "https://marquee.dev/problems/internal");
}

TEST_F(ServerTest, MalformedJsonIs400AndConnectionStaysUsable) {
    auto socket = connect();
    send(socket,
         "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
         "5\r\n\r\n{\"a\":");
    const auto first = read_response(socket);
    EXPECT_EQ(first.result_int(), 400);
    EXPECT_EQ(problem_of(first).at("type").as_string(), "https://marquee.dev/problems/malformed-json");
    send(socket,
         "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
         "7\r\n\r\n{\"a\":1}");
    const auto second = read_response(socket);
    EXPECT_EQ(second.result_int(), 200);
    EXPECT_EQ(second.body(), "{\"a\":1}");
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
    auto socket = connect();
    for (int i = 0; i < 5; ++i) {
        send(socket, "GET /echo/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        const auto response = read_response(socket);
        ASSERT_EQ(response.result_int(), 200);
        EXPECT_TRUE(response.keep_alive());
    }
    EXPECT_EQ(server_->connections(), 1u);
}

TEST_F(ServerTest, AnswersToHeadCarryNoContentAndTheConnectionStaysInStep) {
    auto socket = connect();
    // An error answer to HEAD (404 here) has a body for GET; none of it may follow the head.
    send(socket, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    boost::beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> head_parser;
    head_parser.skip(true);
    bhttp::read(socket, buffer, head_parser);
    EXPECT_EQ(head_parser.get().result_int(), 404);
    EXPECT_TRUE(head_parser.get().keep_alive());
    // The next answer on the same connection is read from its first byte.
    send(socket, "GET /echo/7 HTTP/1.1\r\nHost: x\r\n\r\n");
    bhttp::response<bhttp::string_body> next;
    bhttp::read(socket, buffer, next);
    EXPECT_EQ(next.result_int(), 200);
    EXPECT_NE(next.body().find('7'), std::string::npos) << next.body();
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
    auto socket = connect();
    send(socket, "GET /echo/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_FALSE(read_response(socket).keep_alive());
    EXPECT_TRUE(closed_by_server(socket));
}

TEST_F(ServerTest, OversizedBodyIs413) {
    auto socket = connect();
    send(socket,
         "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n");
    const auto response = read_response(socket);
    EXPECT_EQ(response.result_int(), 413);
    EXPECT_EQ(problem_of(response).at("type").as_string(), "https://marquee.dev/problems/payload-too-large");
    EXPECT_TRUE(closed_by_server(socket));
}

TEST_F(ServerTest, OversizedHeaderIs431) {
    const std::string big(4096, 'a');
    const auto response = round_trip("GET /echo/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
    EXPECT_EQ(response.result_int(), 431);
}

TEST_F(ServerTest, GarbageIs400) {
    auto socket = connect();
    send(socket, "THIS IS NOT HTTP\r\n\r\n");
    const auto response = read_response(socket);
    EXPECT_EQ(response.result_int(), 400);
    EXPECT_EQ(problem_of(response).at("type").as_string(), "https://marquee.dev/problems/bad-request");
    EXPECT_TRUE(closed_by_server(socket));
}

TEST_F(ServerTest, SlowClientGets408AndIsDisconnected) {
    auto socket = connect();
    send(socket, "GET /echo/1 HTTP/1.1\r\nHost: x\r\n");  // the head never ends
    const auto response = read_response(socket);
    EXPECT_EQ(response.result_int(), 408);
    EXPECT_TRUE(closed_by_server(socket));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
    auto socket = connect();
    send(socket, "GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(read_response(socket).result_int(), 200);
    EXPECT_TRUE(closed_by_server(socket));  // after idle_timeout, without a response
}

TEST_F(ServerTest, MetricsCountRequestsByRouteAndStatus) {
    (void)round_trip("GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    (void)round_trip("GET /echo/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    (void)round_trip("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto text = metrics_.render();
    EXPECT_NE(text.find(R"(http_requests_total{method="GET",route="/echo/{id}",status="200"} 2)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
              std::string::npos);
    EXPECT_NE(text.find(R"(http_request_duration_seconds_count{method="GET",route="/echo/{id}"} 2)"),
              std::string::npos);
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightAndClosesIdle) {
    auto idle = connect();
    send(idle, "GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(read_response(idle).result_int(), 200);

    auto busy = connect();
    send(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    slow_started_.get_future().wait();
    auto done = asio::co_spawn(ioc_, server_->shutdown(std::chrono::seconds(5)), asio::use_future);

    const auto response = read_response(busy);
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_EQ(response.body(), "done");
    EXPECT_FALSE(response.keep_alive());
    EXPECT_TRUE(closed_by_server(idle));
    done.get();
    EXPECT_EQ(server_->connections(), 0u);
    boost::system::error_code ec;
    tcp::socket late(client_ioc_);
    late.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    EXPECT_TRUE(ec) << "the listener must be closed after shutdown";
}

TEST_F(ServerTest, EventStreamSendsChunkedEventsAndEnds) {
    const auto response = round_trip("GET /short-events HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_EQ(response[bhttp::field::content_type], "text/event-stream");
    EXPECT_EQ(response[bhttp::field::cache_control], "no-cache");
    EXPECT_TRUE(response.chunked());
    EXPECT_EQ(response.body(), "event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\n");
}

TEST_F(ServerTest, EventStreamSplitsDataLinesAndCannotBeForged) {
    auto socket = connect();
    send(socket, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    // Read until the fourth event has arrived, then leave.
    std::string received;
    char chunk[4096];
    while (received.find("data: done") == std::string::npos) {
        boost::system::error_code ec;
        const auto n = socket.read_some(asio::buffer(chunk), ec);
        ASSERT_FALSE(ec) << ec.message();
        received.append(chunk, n);
    }
    EXPECT_NE(received.find("id: 1\nevent: position\ndata: {\"position\":2}\n\n"), std::string::npos)
        << received;
    EXPECT_NE(received.find("data: line one\ndata: line two\n\n"), std::string::npos);
    EXPECT_NE(received.find(": keep-alive\n\n"), std::string::npos);
    EXPECT_NE(received.find("event: admitted event: forged\ndata: done"), std::string::npos);
    socket.close();
    // The producer learns the client left through send()/heartbeat() returning false.
    EXPECT_EQ(stream_ended_.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

constexpr const char* kCallerTrace = "0af7651916cd43dd8448eb211c80319c";

TEST_F(ServerTest, ContinuesTheCallersTraceWithASpanOfItsOwn) {
    const auto response = round_trip(
        "GET /traced HTTP/1.1\r\nHost: x\r\n"
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: rojo=1\r\n\r\n");
    EXPECT_EQ(response.result_int(), 200);
    const auto answered = core::TraceContext::parse(response["traceparent"]);
    ASSERT_TRUE(answered) << response["traceparent"];
    EXPECT_EQ(answered->trace_id(), kCallerTrace);
    EXPECT_NE(answered->span_id(), "b7ad6b7169203331");
    const auto body = boost::json::parse(response.body()).as_object();
    EXPECT_EQ(body.at("trace").as_string(), kCallerTrace);
    for (const auto& seen : body.at("seen").as_array()) EXPECT_EQ(seen.as_string(), kCallerTrace);
    EXPECT_EQ(response["X-Request-Id"].size(), 32u);
}

TEST_F(ServerTest, StartsANewTraceWhenTheTraceparentIsInvalid) {
    const auto response = round_trip(
        "GET /traced HTTP/1.1\r\nHost: x\r\n"
        "traceparent: 00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01\r\n\r\n");
    EXPECT_EQ(response.result_int(), 200);
    const auto answered = core::TraceContext::parse(response["traceparent"]);
    ASSERT_TRUE(answered) << response["traceparent"];
    EXPECT_NE(answered->trace_id(), "0af7651916cd43dd8448eb211c80319c");
    const auto body = boost::json::parse(response.body()).as_object();
    EXPECT_EQ(body.at("trace").as_string(), answered->trace_id().c_str());
}

TEST_F(ServerTest, TwoTraceparentHeadersAreInvalid) {
    const auto response = round_trip(
        "GET /traced HTTP/1.1\r\nHost: x\r\n"
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
    EXPECT_EQ(response.result_int(), 200);
    const auto answered = core::TraceContext::parse(response["traceparent"]);
    ASSERT_TRUE(answered) << response["traceparent"];
    EXPECT_NE(answered->trace_id(), kCallerTrace);
}

TEST_F(ServerTest, EveryResponseCarriesATraceparentEvenAnError) {
    EXPECT_TRUE(
        core::TraceContext::parse(round_trip("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")["traceparent"]));
    EXPECT_TRUE(core::TraceContext::parse(round_trip("GARBAGE\r\n\r\n")["traceparent"]));
}

TEST_F(ServerTest, ConcurrentRequestsEachLogWithTheirOwnTrace) {
    std::vector<std::string> traces;
    std::vector<std::future<bhttp::response<bhttp::string_body>>> answers;
    for (int i = 0; i < 8; ++i) {
        traces.push_back(core::TraceContext::start().trace_id());
        const std::string raw = "GET /traced HTTP/1.1\r\nHost: x\r\ntraceparent: 00-" + traces.back() +
                                "-b7ad6b7169203331-01\r\n\r\n";
        answers.push_back(std::async(std::launch::async, [this, raw] { return round_trip(raw); }));
    }
    for (std::size_t i = 0; i < answers.size(); ++i) {
        const auto body = boost::json::parse(answers[i].get().body()).as_object();
        for (const auto& seen : body.at("seen").as_array()) EXPECT_EQ(seen.as_string(), traces[i].c_str());
    }
}

TEST(ServerCap, CapStaysBelowTheFileLimit) {
    EXPECT_EQ(connection_cap_for(0, 20'000), 18'000u);       // derived: the limit minus a tenth
    EXPECT_EQ(connection_cap_for(50'000, 20'000), 18'000u);  // asked above the limit: lowered
    EXPECT_EQ(connection_cap_for(2, 20'000), 2u);            // asked below: as asked
    EXPECT_EQ(connection_cap_for(0, 1'024), 768u);           // at least 256 of headroom
    EXPECT_EQ(connection_cap_for(0, 100), 1u);               // never 0
}

// Issue 15 (ADR 0018): beyond the cap the server still accepts, answers 503 problem+json with Retry-After,
// closes, counts it, and serves again once a connection is gone.
TEST(ServerCap, BeyondTheCapIsA503WithRetryAfterAndTheServerKeepsAccepting) {
    core::init_logging(core::LogLevel::Error);
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    Router router;
    router.get("/hello", [](Context&) -> asio::awaitable<Response> { co_return text("hi", "text/plain"); });
    core::MetricsRegistry metrics;
    ServerOptions options;
    options.port = 0;
    options.limits.max_connections = 2;
    Server server(ioc, options, router, metrics);
    EXPECT_EQ(server.connection_cap(), 2u);
    const auto port = server.listen();
    server.start();
    std::thread thread([&] { ioc.run(); });

    asio::io_context client;
    auto open = [&] {
        tcp::socket socket(client);
        socket.connect({asio::ip::make_address("127.0.0.1"), port});
        return socket;
    };
    auto ask = [](tcp::socket& socket) {
        asio::write(socket, asio::buffer(std::string_view("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")));
        boost::beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> response;
        bhttp::read(socket, buffer, response);
        return response;
    };
    auto first = open();
    auto second = open();
    EXPECT_EQ(ask(first).result_int(), 200);  // both served and kept alive
    EXPECT_EQ(ask(second).result_int(), 200);
    for (int i = 0; i < 3; ++i) {
        auto third = open();  // connects: accepted, not left in the backlog
        const auto refused = ask(third);
        EXPECT_EQ(refused.result_int(), 503);
        EXPECT_EQ(refused[bhttp::field::retry_after], "1");
        EXPECT_EQ(refused[bhttp::field::content_type], "application/problem+json");
        EXPECT_FALSE(refused.keep_alive());
        const auto problem = boost::json::parse(refused.body()).as_object();
        EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/connection-limit");
        EXPECT_EQ(problem.at("status").as_int64(), 503);
    }
    EXPECT_NE(metrics.render().find("http_connections_refused_total 3"), std::string::npos);
    EXPECT_EQ(ask(first).result_int(), 200);  // the two inside are unharmed

    // One leaves; the next newcomer is served.
    first.close();
    bool served = false;
    for (int i = 0; i < 100 && !served; ++i) {
        auto next = open();
        served = ask(next).result_int() == 200;
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(served);
    work.reset();
    ioc.stop();
    thread.join();
}

}  // namespace
}  // namespace marquee::http
