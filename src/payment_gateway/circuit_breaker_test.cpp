#include "payment_gateway/circuit_breaker.hpp"

#include <gtest/gtest.h>

namespace marquee::payment_gateway {
namespace {

using State = CircuitBreaker::State;
using namespace std::chrono_literals;

class CircuitBreakerTest : public ::testing::Test {
  protected:
    CircuitBreaker breaker_{{.failure_threshold = 3, .open_for = 1000ms}};
    CircuitBreaker::Clock::time_point t0_ = CircuitBreaker::Clock::now();
};

TEST_F(CircuitBreakerTest, OpensAfterConsecutiveFailures) {
    for (int i = 0; i < 2; ++i) {
        EXPECT_TRUE(breaker_.allow(t0_));
        breaker_.record_failure(t0_);
    }
    EXPECT_EQ(breaker_.state(t0_), State::Closed);
    breaker_.record_failure(t0_);
    EXPECT_EQ(breaker_.state(t0_), State::Open);
    EXPECT_FALSE(breaker_.allow(t0_ + 999ms));
}

TEST_F(CircuitBreakerTest, SuccessResetsTheCount) {
    breaker_.record_failure(t0_);
    breaker_.record_failure(t0_);
    breaker_.record_success();
    breaker_.record_failure(t0_);
    breaker_.record_failure(t0_);
    EXPECT_EQ(breaker_.state(t0_), State::Closed);
}

TEST_F(CircuitBreakerTest, HalfOpenLetsOneTrialThrough) {
    for (int i = 0; i < 3; ++i) breaker_.record_failure(t0_);
    const auto later = t0_ + 1000ms;
    EXPECT_EQ(breaker_.state(later), State::HalfOpen);
    EXPECT_TRUE(breaker_.allow(later));
    EXPECT_FALSE(breaker_.allow(later));  // the trial is still out
    breaker_.record_success();
    EXPECT_EQ(breaker_.state(later), State::Closed);
    EXPECT_TRUE(breaker_.allow(later));
}

TEST_F(CircuitBreakerTest, FailedTrialReopens) {
    for (int i = 0; i < 3; ++i) breaker_.record_failure(t0_);
    const auto later = t0_ + 1500ms;
    EXPECT_TRUE(breaker_.allow(later));
    breaker_.record_failure(later);
    EXPECT_EQ(breaker_.state(later), State::Open);
    EXPECT_FALSE(breaker_.allow(later + 999ms));
    EXPECT_TRUE(breaker_.allow(later + 1000ms));
}

}  // namespace
}  // namespace marquee::payment_gateway
