#include "pg_sim/routes.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "pg_sim/options.hpp"

namespace marquee::pg_sim {
namespace {

namespace asio = boost::asio;

class RoutesTest : public ::testing::Test {
  protected:
    RoutesTest() { routes_.add_to(router_); }

    /// Runs the matched handler as the server would and returns (status, body); a thrown Problem becomes its
    /// status.
    std::pair<unsigned, boost::json::value> call(const std::string& method, const std::string& target,
                                                 const std::string& body = {}, http::Fields headers = {}) {
        headers.emplace_back("Content-Type", "application/json");
        http::Context ctx(method, target, std::move(headers), body, "rid");
        auto match = router_.match(method, ctx.path());
        EXPECT_EQ(match.outcome, http::Router::Match::Outcome::Found);
        ctx.set_route(match.pattern, match.params);
        asio::io_context ioc;
        auto future = asio::co_spawn(ioc, (*match.handler)(ctx), asio::use_future);
        ioc.run();
        try {
            auto response = future.get();
            return {response.status, boost::json::parse(response.body)};
        } catch (const core::Problem& p) {
            return {static_cast<unsigned>(p.status()), p.to_json()};
        }
    }

    std::pair<unsigned, boost::json::value> pay(const std::string& key, std::int64_t amount = 1000) {
        return call("POST", "/v1/payments", R"({"orderId":"o-1","amount":)" + std::to_string(amount) + "}",
                    {{"Idempotency-Key", key}});
    }

    core::SystemClock clock_;
    Gateway gateway_{{}, 1, clock_};
    Routes routes_{gateway_};
    http::Router router_;
};

TEST_F(RoutesTest, ApproveThenQueryByKey) {
    const auto [status, body] = pay("key-1", 5000);
    EXPECT_EQ(status, 200u);
    EXPECT_EQ(body.at("status").as_string(), "APPROVED");
    EXPECT_EQ(body.at("amount").as_int64(), 5000);
    const auto [found_status, found] = call("GET", "/v1/payments?idempotencyKey=key-1");
    EXPECT_EQ(found_status, 200u);
    EXPECT_EQ(found.at("paymentKey"), body.at("paymentKey"));
}

TEST_F(RoutesTest, ApproveNeedsIdempotencyKeyAndValidBody) {
    EXPECT_EQ(call("POST", "/v1/payments", R"({"orderId":"o","amount":1})").first, 400u);
    const auto [status, problem] =
        call("POST", "/v1/payments", R"({"orderId":"o","amount":"1"})", {{"Idempotency-Key", "k"}});
    EXPECT_EQ(status, 400u);
    EXPECT_EQ(problem.at("field").as_string(), "amount");
    EXPECT_EQ(call("POST", "/v1/payments", R"({"orderId":"","amount":1})", {{"Idempotency-Key", "k"}}).first,
              400u);
    EXPECT_EQ(
        call("POST", "/v1/payments", R"({"orderId":"o","amount":-5})", {{"Idempotency-Key", "k"}}).first,
        400u);
}

TEST_F(RoutesTest, KeyReusedWithOtherAmountIs409) {
    (void)pay("key-2", 100);
    EXPECT_EQ(pay("key-2", 200).first, 409u);
    EXPECT_EQ(pay("key-2", 100).first, 200u);
}

TEST_F(RoutesTest, DownGatewayIs503AndUnknownKeyIs404) {
    EXPECT_EQ(call("GET", "/v1/payments?idempotencyKey=nope").first, 404u);
    EXPECT_EQ(call("PUT", "/v1/admin/faults", R"({"down":true})").first, 200u);
    const auto [status, problem] = pay("key-3");
    EXPECT_EQ(status, 503u);
    EXPECT_EQ(problem.at("dependency").as_string(), "pg");
}

TEST_F(RoutesTest, CancelRefundsOnce) {
    const auto [status, body] = pay("key-4", 900);
    const std::string target = "/v1/payments/" + std::string(body.at("paymentKey").as_string()) + "/cancel";
    EXPECT_EQ(call("POST", target, "{}").second.at("status").as_string(), "CANCELLED");
    EXPECT_EQ(call("POST", target, "{}").first, 200u);
    EXPECT_EQ(gateway_.stats().cancelled_amount, 900);
    EXPECT_EQ(call("POST", "/v1/payments/pay_nope/cancel", "{}").first, 404u);
}

TEST_F(RoutesTest, FaultsArePartiallyUpdatableAndValidated) {
    const auto [status, faults] = call("PUT", "/v1/admin/faults", R"({"errorRate":0.25,"latencyMs":5})");
    EXPECT_EQ(status, 200u);
    EXPECT_DOUBLE_EQ(faults.at("errorRate").as_double(), 0.25);
    EXPECT_EQ(faults.at("latencyMs").as_int64(), 5);
    EXPECT_EQ(faults.at("declineRate").to_number<double>(), 0.0);
    EXPECT_EQ(call("PUT", "/v1/admin/faults", R"({"errorRate":1.5})").first, 400u);
    EXPECT_EQ(call("PUT", "/v1/admin/faults", R"({"down":"yes"})").first, 400u);
}

TEST(PgSimOptions, ParsesFlagsAndRejectsBadOnes) {
    const auto options = parse_options({"--port=9999", "--error-rate=0.3", "--latency-ms=20", "--down"});
    ASSERT_TRUE(options);
    EXPECT_EQ(options->port, 9999);
    EXPECT_DOUBLE_EQ(options->faults.error_rate, 0.3);
    EXPECT_EQ(options->faults.latency.count(), 20);
    EXPECT_TRUE(options->faults.down);
    EXPECT_FALSE(parse_options({"--help"}));
    EXPECT_THROW((void)parse_options({"--error-rate=2"}), std::invalid_argument);
    EXPECT_THROW((void)parse_options({"--colour=red"}), std::invalid_argument);
    EXPECT_THROW((void)parse_options({"serve"}), std::invalid_argument);
}

}  // namespace
}  // namespace marquee::pg_sim
