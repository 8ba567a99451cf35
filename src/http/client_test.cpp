#include "http/client.hpp"

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "http/server.hpp"

namespace marquee::http {
namespace {

namespace asio = boost::asio;

class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        core::init_logging(core::LogLevel::Warn);
        router_.post("/echo", [](Context& ctx) -> asio::awaitable<Response> {
            co_return text(ctx.body() + "|" + std::string(ctx.header("X-Key").value_or("")), "text/plain",
                           201);
        });
        router_.get("/traceparent", [](Context& ctx) -> asio::awaitable<Response> {
            co_return text(std::string(ctx.header("traceparent").value_or("none")), "text/plain");
        });
        router_.get("/slow", [](Context&) -> asio::awaitable<Response> {
            asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(500));
            co_await timer.async_wait(asio::use_awaitable);
            co_return text("late", "text/plain");
        });
        ServerOptions options;
        options.port = 0;
        server_ = std::make_unique<Server>(ioc_, options, router_, metrics_);
        port_ = server_->listen();
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    asio::io_context ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
    Router router_;
    core::MetricsRegistry metrics_;
    std::unique_ptr<Server> server_;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

template <typename T>
T run(asio::awaitable<T> work) {
    asio::io_context client_ioc;
    auto future = asio::co_spawn(client_ioc, std::move(work), asio::use_future);
    client_ioc.run();
    return future.get();
}

asio::awaitable<ClientResponse> call(std::uint16_t port, std::chrono::milliseconds timeout,
                                     std::string method, std::string target, std::string body = {},
                                     Fields headers = {}) {
    // Options built before the co_await: GCC 12 destroys a braced temporary inside a co_await expression
    // twice.
    Client::Options options{"http://127.0.0.1:" + std::to_string(port), timeout};
    const auto executor = co_await asio::this_coro::executor;
    Client client(executor, std::move(options));
    co_return co_await client.request(std::move(method), std::move(target), std::move(body),
                                      std::move(headers));
}

TEST_F(ClientTest, SendsBodyAndHeadersAndReturnsStatus) {
    Fields headers{{"X-Key", "k1"}};
    const auto response = run(call(port_, std::chrono::seconds(2), "POST", "/echo", "hello", headers));
    EXPECT_EQ(response.status, 201u);
    EXPECT_EQ(response.body, "hello|k1");
    EXPECT_EQ(response.header("content-type"), "text/plain");
}

TEST_F(ClientTest, SendsTheCurrentTraceInAChildSpan) {
    const auto context = core::make_log_context(core::TraceContext::start());
    asio::io_context client_ioc;
    const auto traced = core::with_log_context(asio::any_io_executor(client_ioc.get_executor()), context);
    auto future =
        asio::co_spawn(traced, call(port_, std::chrono::seconds(2), "GET", "/traceparent"), asio::use_future);
    client_ioc.run();
    const auto sent = core::TraceContext::parse(future.get().body);
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->trace_id(), context->trace.trace_id());
    EXPECT_NE(sent->span_id(), context->trace.span_id());
}

TEST_F(ClientTest, SendsNoTraceOutsideAUnitOfWork) {
    EXPECT_EQ(run(call(port_, std::chrono::seconds(2), "GET", "/traceparent")).body, "none");
}

TEST_F(ClientTest, ErrorStatusesAreAnswersNotExceptions) {
    const auto response = run(call(port_, std::chrono::seconds(2), "GET", "/nowhere"));
    EXPECT_EQ(response.status, 404u);
    EXPECT_EQ(response.header("Content-Type"), "application/problem+json");
}

TEST_F(ClientTest, TimeoutAfterSendingMayHaveBeenDelivered) {
    try {
        (void)run(call(port_, std::chrono::milliseconds(100), "GET", "/slow"));
        FAIL() << "expected a timeout";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.kind(), ClientError::Kind::Timeout);
        EXPECT_TRUE(e.maybe_delivered());
    }
}

TEST_F(ClientTest, RefusedConnectionWasNotDelivered) {
    std::uint16_t closed = 0;
    {
        asio::io_context ioc;
        asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        closed = acceptor.local_endpoint().port();
    }
    try {
        (void)run(call(closed, std::chrono::seconds(2), "GET", "/x"));
        FAIL() << "expected a connect failure";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.kind(), ClientError::Kind::Connect);
        EXPECT_FALSE(e.maybe_delivered());
    }
}

/// `calls` GETs of `target` one after another through one client; its stats afterwards.
Client::Stats sequential_calls(std::uint16_t port, int calls, const std::string& target,
                               std::vector<std::string>* bodies = nullptr) {
    asio::io_context ioc;
    Client client(ioc.get_executor(), Client::Options{"http://127.0.0.1:" + std::to_string(port)});
    for (int i = 0; i < calls; ++i) {
        auto future = asio::co_spawn(ioc, client.request("GET", target), asio::use_future);
        ioc.restart();
        ioc.run();
        const auto response = future.get();
        if (bodies != nullptr) bodies->push_back(response.body);
    }
    return client.stats();
}

TEST_F(ClientTest, KeepsItsConnectionOpenBetweenCalls) {
    std::vector<std::string> bodies;
    const auto stats = sequential_calls(port_, 5, "/traceparent", &bodies);
    EXPECT_EQ(bodies, std::vector<std::string>(5, "none"));
    EXPECT_EQ(stats.connections_opened, 1u);
    EXPECT_EQ(stats.calls_on_kept_connections, 4u);
    EXPECT_EQ(stats.idle_connections, 1u);
    EXPECT_EQ(stats.in_flight, 0u);
}

TEST(HttpClient, SendsAgainOnAFreshConnectionWhenTheServerClosedAKeptOne) {
    // A server that answers the first request of its first connection, then reads the next request on it and
    // closes without a byte of answer (its idle close racing our call); the second connection answers.
    asio::io_context server_ioc;
    asio::ip::tcp::acceptor acceptor(server_ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    std::thread server([&acceptor] {
        const auto read_request = [](asio::ip::tcp::socket& socket) {
            asio::streambuf buffer;
            asio::read_until(socket, buffer, "\r\n\r\n");
        };
        asio::ip::tcp::socket first = acceptor.accept();
        read_request(first);
        asio::write(first, asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")));
        read_request(first);
        first.close();
        asio::ip::tcp::socket second = acceptor.accept();
        read_request(second);
        asio::write(second, asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")));
        boost::system::error_code ignored;
        second.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    });
    std::vector<std::string> bodies;
    const auto stats = sequential_calls(port, 2, "/x", &bodies);
    server.join();
    EXPECT_EQ(bodies, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(stats.connections_opened, 2u);
    EXPECT_EQ(stats.retried_on_fresh_connection, 1u);
}

TEST_F(ClientTest, CallsBeyondTheBoundFailAtOnceAndSendNothing) {
    asio::io_context ioc;
    Client::Options options{"http://127.0.0.1:" + std::to_string(port_)};
    options.max_in_flight = 1;
    Client client(ioc.get_executor(), options);
    // Spawned in this order, the slow call holds the only place before the second one starts.
    auto slow = asio::co_spawn(ioc, client.request("GET", "/slow"), asio::use_future);
    auto refused = asio::co_spawn(ioc, client.request("GET", "/traceparent"), asio::use_future);
    ioc.run();
    EXPECT_EQ(slow.get().body, "late");
    try {
        (void)refused.get();
        FAIL() << "expected the second call to be refused";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.kind(), ClientError::Kind::Busy);
        EXPECT_FALSE(e.maybe_delivered());
    }
    EXPECT_EQ(client.stats().busy, 1u);
    EXPECT_EQ(client.stats().in_flight, 0u);
    // The place is free again once the slow call is done.
    auto again = asio::co_spawn(ioc, client.request("GET", "/traceparent"), asio::use_future);
    ioc.restart();
    ioc.run();
    EXPECT_EQ(again.get().body, "none");
}

TEST(HttpClient, RejectsBadBaseUrls) {
    asio::io_context ioc;
    EXPECT_THROW(Client(ioc.get_executor(), Client::Options{"https://pg.example:443"}),
                 std::invalid_argument);
    EXPECT_THROW(Client(ioc.get_executor(), Client::Options{"not a url"}), std::invalid_argument);
    EXPECT_NO_THROW(Client(ioc.get_executor(), Client::Options{"http://127.0.0.1:9"}));
}

}  // namespace
}  // namespace marquee::http
