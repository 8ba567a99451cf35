#include "load/support.hpp"

#include <gtest/gtest.h>

namespace marquee::load {
namespace {

TEST(ChargeFailedForItsKey, OnlyA503NamingTheChargeIsFinalForItsKey) {
    const std::string failed =
        R"({"type":"https://marquee.dev/problems/dependency-unavailable","status":503,)"
        R"("detail":"the payment gateway could not take the charge; nothing was charged","chargeId":"7d3f"})";
    EXPECT_TRUE(charge_failed_for_its_key(503, failed));
    // A 503 before any charge row exists (the database or the pool): the same key may still succeed.
    EXPECT_FALSE(charge_failed_for_its_key(
        503, R"({"type":"https://marquee.dev/problems/dependency-unavailable","status":503,"detail":"x"})"));
    EXPECT_FALSE(charge_failed_for_its_key(503, "<html>balancer</html>"));
    EXPECT_FALSE(charge_failed_for_its_key(503, ""));
    // A declined card is final too, but not retried at all: only 503 asks for a new key.
    EXPECT_FALSE(charge_failed_for_its_key(402, R"({"status":402,"chargeId":"7d3f"})"));
    EXPECT_FALSE(charge_failed_for_its_key(201, R"({"id":"7d3f","chargeId":"7d3f"})"));
}

}  // namespace
}  // namespace marquee::load
