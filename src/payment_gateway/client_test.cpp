// The payment-gateway client against the real simulator (pg-sim's routes served in-process on loopback).
#include "payment_gateway/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "pg_sim/local_server.hpp"

namespace marquee::payment_gateway {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class PaymentGatewayClientTest : public ::testing::Test {
  protected:
    void SetUp() override { core::init_logging(core::LogLevel::Error); }

    ClientOptions options() const {
        ClientOptions o;
        o.url = pg_.url();
        o.call_timeout = 200ms;
        o.max_attempts = 3;
        o.backoff = 1ms;
        o.breaker = {.failure_threshold = 5, .open_for = 60s};
        return o;
    }

    template <typename T>
    T run(Client& client, std::function<asio::awaitable<T>(Client&)> work) {
        auto future = asio::co_spawn(client_ioc_, work(client), asio::use_future);
        client_ioc_.restart();
        client_ioc_.run();
        return future.get();
    }

    Charge approve(Client& client, const std::string& key, std::int64_t amount = 1000) {
        return run<Charge>(client,
                           [key, amount](Client& c) { return c.approve(key, "order-" + key, amount); });
    }

    pg_sim::LocalServer pg_{5};
    pg_sim::Gateway& gateway_ = pg_.gateway();
    asio::io_context client_ioc_;
};

TEST_F(PaymentGatewayClientTest, ApprovesOncePerKey) {
    Client client(client_ioc_.get_executor(), options());
    const auto first = approve(client, "key-1", 5000);
    ASSERT_EQ(first.status, ChargeStatus::Approved) << first.detail;
    const auto again = approve(client, "key-1", 5000);
    EXPECT_EQ(again.payment_key, first.payment_key);
    EXPECT_EQ(gateway_.stats().approved, 1u);
    EXPECT_EQ(gateway_.stats().approved_amount, 5000);
}

TEST_F(PaymentGatewayClientTest, DeclineIsFinal) {
    gateway_.set_faults({.decline_rate = 1});
    const auto charge = [&] {
        Client client(client_ioc_.get_executor(), options());
        return approve(client, "key-2");
    }();
    EXPECT_EQ(charge.status, ChargeStatus::Declined);
    EXPECT_EQ(charge.decline_code, "CARD_DECLINED");
}

TEST_F(PaymentGatewayClientTest, GatewayErrorsAreRetriedThenNotCharged) {
    gateway_.set_faults({.error_rate = 1});
    Client client(client_ioc_.get_executor(), options());
    const auto charge = approve(client, "key-3");
    EXPECT_EQ(charge.status, ChargeStatus::NotCharged);
    EXPECT_EQ(gateway_.stats().errors, 3u);  // every attempt was made
    gateway_.set_faults({});
    EXPECT_EQ(approve(client, "key-3").status, ChargeStatus::Approved);  // and a later retry charges once
}

TEST_F(PaymentGatewayClientTest, LostAnswerIsRecoveredByKey) {
    gateway_.set_faults({.lost_rate = 1, .hang = 1000ms});
    Client client(client_ioc_.get_executor(), options());
    const auto charge = approve(client, "key-4", 7000);
    EXPECT_EQ(charge.status, ChargeStatus::Approved) << charge.detail;
    EXPECT_FALSE(charge.payment_key.empty());
    EXPECT_EQ(gateway_.stats().approved, 1u);  // retries with the same key never charged twice
    EXPECT_EQ(gateway_.stats().approved_amount, 7000);
}

TEST_F(PaymentGatewayClientTest, TimeoutsWithNothingRecordedAreNotCharged) {
    gateway_.set_faults({.timeout_rate = 1, .hang = 1000ms});
    Client client(client_ioc_.get_executor(), options());
    const auto charge = approve(client, "key-5");
    EXPECT_EQ(charge.status, ChargeStatus::NotCharged) << charge.detail;
    EXPECT_EQ(gateway_.stats().approved, 0u);
}

TEST_F(PaymentGatewayClientTest, CircuitOpensAndFailsFastWithoutCalling) {
    gateway_.set_faults({.down = true});
    Client client(client_ioc_.get_executor(), options());
    (void)approve(client, "key-6");  // 3 failures
    (void)approve(client, "key-7");  // 2 more: the breaker opens
    EXPECT_EQ(client.breaker_state(), CircuitBreaker::State::Open);
    const auto calls_before = gateway_.stats().errors;
    const auto charge = approve(client, "key-8");
    EXPECT_EQ(charge.status, ChargeStatus::NotCharged);
    EXPECT_EQ(gateway_.stats().errors, calls_before);  // nothing went out
}

TEST_F(PaymentGatewayClientTest, FindAndCancel) {
    Client client(client_ioc_.get_executor(), options());
    const auto charge = approve(client, "key-9", 1200);
    ASSERT_EQ(charge.status, ChargeStatus::Approved);
    const auto found = run<Charge>(client, [](Client& c) { return c.find("key-9"); });
    EXPECT_EQ(found.payment_key, charge.payment_key);
    EXPECT_EQ(run<Charge>(client, [](Client& c) { return c.find("never-used"); }).status,
              ChargeStatus::NotCharged);
    const std::string payment_key = charge.payment_key;
    run<bool>(client, [payment_key](Client& c) -> asio::awaitable<bool> {
        co_await c.cancel(payment_key);
        co_return true;
    });
    EXPECT_EQ(gateway_.stats().cancelled_amount, 1200);
}

TEST_F(PaymentGatewayClientTest, UnreachableGatewayMakesCancelA503) {
    gateway_.set_faults({.down = true});
    Client client(client_ioc_.get_executor(), options());
    try {
        run<bool>(client, [](Client& c) -> asio::awaitable<bool> {
            co_await c.cancel("pay_x");
            co_return true;
        });
        FAIL() << "expected 503";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 503);
    }
}

TEST(PaymentGatewayKeys, RejectsKeysUnsafeInAUrl) {
    asio::io_context ioc;
    ClientOptions o;
    o.url = "http://127.0.0.1:9";
    Client client(ioc.get_executor(), o);
    auto future = asio::co_spawn(ioc, client.approve("a/b?c", "o", 1), asio::use_future);
    ioc.run();
    EXPECT_THROW(future.get(), std::invalid_argument);
}

}  // namespace
}  // namespace marquee::payment_gateway
