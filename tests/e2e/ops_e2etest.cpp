// End to end against the real binary and the real local PostgreSQL, Redis and NATS:
// the operational endpoints, the error contract at the edge, start-up flags and graceful shutdown.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "marquee_process.hpp"

namespace marquee::test {
namespace {

boost::json::object json_of(const HttpReply& reply) {
    return boost::json::parse(reply.body).as_object();
}

class OpsEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { process_ = new MarqueeProcess(); }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }
    static MarqueeProcess* process_;
};
MarqueeProcess* OpsEndToEnd::process_ = nullptr;

TEST_F(OpsEndToEnd, HealthzAnswersOk) {
    const auto reply = http_request(port(), "GET", "/healthz");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(json_of(reply).at("status").as_string(), "ok");
    EXPECT_EQ(reply.headers.at("x-request-id").size(), 32u);
}

TEST_F(OpsEndToEnd, ReadyzChecksPostgresRedisAndNats) {
    const auto reply = http_request(port(), "GET", "/readyz");
    ASSERT_EQ(reply.status, 200) << reply.body;
    const auto checks = json_of(reply).at("checks").as_object();
    EXPECT_EQ(checks.at("postgres").as_string(), "ok");
    EXPECT_EQ(checks.at("redis").as_string(), "ok");
    EXPECT_EQ(checks.at("nats").as_string(), "ok");
}

TEST_F(OpsEndToEnd, MetricsCountRequestsInPrometheusFormat) {
    (void)http_request(port(), "GET", "/healthz");
    const auto reply = http_request(port(), "GET", "/metrics");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(reply.body.find("# TYPE http_requests_total counter"), std::string::npos);
    EXPECT_NE(reply.body.find(R"(http_requests_total{method="GET",route="/healthz",status="200"})"),
              std::string::npos);
    EXPECT_NE(reply.body.find("http_request_duration_seconds_bucket"), std::string::npos);
}

TEST_F(OpsEndToEnd, ServesTheOpenApiDocument) {
    const auto reply = http_request(port(), "GET", "/openapi.yaml");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.headers.at("content-type"), "application/yaml");
    EXPECT_NE(reply.body.find("openapi: 3.0"), std::string::npos);
    EXPECT_NE(reply.body.find("/readyz"), std::string::npos);
}

TEST_F(OpsEndToEnd, UnknownRouteIsProblemJson) {
    const auto reply = http_request(port(), "GET", "/api/v1/nothing-here");
    EXPECT_EQ(reply.status, 404);
    EXPECT_EQ(reply.headers.at("content-type"), "application/problem+json");
    const auto problem = json_of(reply);
    EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/not-found");
    EXPECT_EQ(problem.at("instance").as_string(), "/api/v1/nothing-here");
}

TEST_F(OpsEndToEnd, WrongMethodOnHealthzIs405) {
    const auto reply = http_request(port(), "POST", "/healthz", "{}", {{"Content-Type", "application/json"}});
    EXPECT_EQ(reply.status, 405);
    EXPECT_EQ(reply.headers.at("allow"), "GET");
}

TEST(MarqueeProcessEndToEnd, ReadyzIs503NamingTheDeadDependency) {
    // A Redis URL where nothing listens: the process still starts and is alive, but not ready.
    MarqueeProcess process({}, {{"MARQUEE_REDIS_URL", "redis://127.0.0.1:" + std::to_string(free_port())},
                                {"MARQUEE_REDIS_TIMEOUT_MS", "300"}});
    EXPECT_EQ(http_request(process.port(), "GET", "/healthz").status, 200);
    const auto reply = http_request(process.port(), "GET", "/readyz");
    ASSERT_EQ(reply.status, 503) << reply.body;
    EXPECT_TRUE(reply.headers.contains("retry-after"));
    const auto problem = json_of(reply);
    EXPECT_EQ(problem.at("checks").at("redis").as_string(), "failed");
    EXPECT_EQ(problem.at("checks").at("postgres").as_string(), "ok");
}

TEST(MarqueeProcessEndToEnd, SigtermStopsGracefully) {
    MarqueeProcess process({"--service=gateway"});
    EXPECT_EQ(http_request(process.port(), "GET", "/healthz").status, 200);
    EXPECT_EQ(process.terminate(), 0) << process.output();
    EXPECT_NE(process.output().find(R"("msg":"stopped")"), std::string::npos);
}

TEST(MarqueeProcessEndToEnd, EveryLogLineIsJson) {
    MarqueeProcess process;
    (void)http_request(process.port(), "GET", "/healthz");
    (void)http_request(process.port(), "GET", "/nope");
    process.terminate();
    std::istringstream lines(process.output());
    std::string line;
    int access_lines = 0;
    while (std::getline(lines, line)) {
        boost::system::error_code ec;
        const auto value = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << "not JSON: " << line;
        if (value.as_object().at("msg").as_string() == "access") ++access_lines;
    }
    EXPECT_GE(access_lines, 2);
}

TEST(MarqueeProcessEndToEnd, MigrateOnlyAppliesAndExits) {
    const auto [status, output] = run_marquee({"--migrate-only"});
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find(R"("msg":"migrations")"), std::string::npos) << output;
}

TEST(MarqueeProcessEndToEnd, UnknownServiceIsAClearStartupError) {
    const auto [status, output] = run_marquee({"--service=tickets"});
    EXPECT_EQ(status, 2);
    EXPECT_NE(output.find("unknown service 'tickets'"), std::string::npos) << output;
}

}  // namespace
}  // namespace marquee::test
