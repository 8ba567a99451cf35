#include "pg_sim/gateway.hpp"

#include <gtest/gtest.h>

namespace marquee::pg_sim {
namespace {

class GatewayTest : public ::testing::Test {
  protected:
    core::ManualClock clock_{core::TimePoint{} + std::chrono::hours(24 * 365 * 50)};
};

TEST_F(GatewayTest, ApprovesAndRecordsByKey) {
    Gateway gateway({}, 1, clock_);
    const auto result = gateway.approve("k1", "order-1", 50'000);
    ASSERT_EQ(result.outcome, Outcome::Answer);
    EXPECT_EQ(result.payment->status, PaymentStatus::Approved);
    EXPECT_EQ(result.payment->amount, 50'000);
    EXPECT_TRUE(result.payment->payment_key.starts_with("pay_"));
    EXPECT_EQ(gateway.find_by_key("k1")->payment_key, result.payment->payment_key);
    EXPECT_EQ(gateway.stats().approved_amount, 50'000);
}

TEST_F(GatewayTest, SameKeySameRequestReturnsFirstResultEvenWhenDownNow) {
    Gateway gateway({}, 1, clock_);
    const auto first = gateway.approve("k1", "order-1", 100);
    Faults down;
    down.down = true;
    gateway.set_faults(down);
    const auto again = gateway.approve("k1", "order-1", 100);
    ASSERT_EQ(again.outcome, Outcome::Answer);
    EXPECT_EQ(again.payment->payment_key, first.payment->payment_key);
    EXPECT_EQ(gateway.stats().approved, 1u);
    EXPECT_EQ(gateway.stats().replays, 1u);
}

TEST_F(GatewayTest, SameKeyDifferentRequestIsRefused) {
    Gateway gateway({}, 1, clock_);
    (void)gateway.approve("k1", "order-1", 100);
    EXPECT_EQ(gateway.approve("k1", "order-1", 101).outcome, Outcome::KeyReused);
    EXPECT_EQ(gateway.approve("k1", "order-2", 100).outcome, Outcome::KeyReused);
}

TEST_F(GatewayTest, ErrorsAndTimeoutsRecordNothing) {
    Faults faults;
    faults.error_rate = 1;
    Gateway gateway(faults, 1, clock_);
    EXPECT_EQ(gateway.approve("k1", "o", 1).outcome, Outcome::Error);
    EXPECT_FALSE(gateway.find_by_key("k1"));
    faults.error_rate = 0;
    faults.timeout_rate = 1;
    gateway.set_faults(faults);
    EXPECT_EQ(gateway.approve("k1", "o", 1).outcome, Outcome::Hang);
    EXPECT_FALSE(gateway.find_by_key("k1"));
    faults.timeout_rate = 0;
    gateway.set_faults(faults);
    EXPECT_EQ(gateway.approve("k1", "o", 1).outcome,
              Outcome::Answer);  // a retry after a failure goes through
}

TEST_F(GatewayTest, LostAnswerIsRecordedAndFoundByKey) {
    Faults faults;
    faults.lost_rate = 1;
    Gateway gateway(faults, 1, clock_);
    const auto result = gateway.approve("k1", "o", 700);
    EXPECT_EQ(result.outcome, Outcome::LostAfterSave);
    ASSERT_TRUE(gateway.find_by_key("k1"));
    EXPECT_EQ(gateway.find_by_key("k1")->status, PaymentStatus::Approved);
    EXPECT_EQ(gateway.stats().lost, 1u);
}

TEST_F(GatewayTest, DeclineIsAFinalRecordedAnswer) {
    Faults faults;
    faults.decline_rate = 1;
    Gateway gateway(faults, 1, clock_);
    const auto result = gateway.approve("k1", "o", 700);
    ASSERT_EQ(result.outcome, Outcome::Answer);
    EXPECT_EQ(result.payment->status, PaymentStatus::Declined);
    EXPECT_EQ(result.payment->decline_code, "CARD_DECLINED");
    EXPECT_EQ(gateway.stats().approved_amount, 0);
}

TEST_F(GatewayTest, CancelIsIdempotent) {
    Gateway gateway({}, 1, clock_);
    const auto key = gateway.approve("k1", "o", 300).payment->payment_key;
    EXPECT_EQ(gateway.cancel(key)->status, PaymentStatus::Cancelled);
    EXPECT_EQ(gateway.cancel(key)->status, PaymentStatus::Cancelled);
    EXPECT_EQ(gateway.stats().cancelled, 1u);
    EXPECT_EQ(gateway.stats().cancelled_amount, 300);
    EXPECT_FALSE(gateway.cancel("pay_unknown"));
}

TEST_F(GatewayTest, RatesFollowTheSeedReproducibly) {
    Faults faults;
    faults.error_rate = 0.3;
    auto errors_with_seed = [&](std::uint64_t seed) {
        Gateway gateway(faults, seed, clock_);
        int errors = 0;
        for (int i = 0; i < 1000; ++i) {
            if (gateway.approve("k" + std::to_string(i), "o", 1).outcome == Outcome::Error) ++errors;
        }
        return errors;
    };
    const int errors = errors_with_seed(7);
    EXPECT_EQ(errors, errors_with_seed(7));
    EXPECT_GT(errors, 200);
    EXPECT_LT(errors, 400);
}

TEST_F(GatewayTest, DelayStaysWithinLatencyPlusJitter) {
    Faults faults;
    faults.latency = std::chrono::milliseconds(20);
    faults.jitter = std::chrono::milliseconds(10);
    Gateway gateway(faults, 3, clock_);
    for (int i = 0; i < 100; ++i) {
        const auto d = gateway.delay();
        EXPECT_GE(d.count(), 20);
        EXPECT_LE(d.count(), 30);
    }
}

TEST_F(GatewayTest, RefundsPartOfAPaymentOncePerKeyWithinWhatIsLeft) {
    Gateway gateway({}, 1, clock_);
    const auto paid = gateway.approve("k1", "order-1", 50'000);
    const auto& key = paid.payment->payment_key;
    const auto first = gateway.refund("r1", key, 30'000);
    ASSERT_EQ(first.outcome, RefundOutcome::Answer);
    EXPECT_TRUE(first.refund->refund_key.starts_with("rfd_"));
    // A repeat answers the first result, even while the gateway is down; another request is refused.
    Faults down;
    down.down = true;
    gateway.set_faults(down);
    const auto again = gateway.refund("r1", key, 30'000);
    ASSERT_EQ(again.outcome, RefundOutcome::Answer);
    EXPECT_EQ(again.refund->refund_key, first.refund->refund_key);
    EXPECT_EQ(gateway.refund("r2", key, 1).outcome, RefundOutcome::Error) << "down: nothing recorded";
    gateway.set_faults({});
    EXPECT_EQ(gateway.refund("r1", key, 30'001).outcome, RefundOutcome::KeyReused);
    EXPECT_EQ(gateway.refund("r2", key, 20'001).outcome, RefundOutcome::NotRefundable) << "only 20,000 left";
    EXPECT_EQ(gateway.refund("r3", "pay_unknown", 1).outcome, RefundOutcome::NotFound);
    EXPECT_EQ(gateway.refund("r2", key, 20'000).outcome, RefundOutcome::Answer);
    EXPECT_EQ(gateway.stats().refunded, 2u);
    EXPECT_EQ(gateway.stats().refunded_amount, 50'000);
    EXPECT_EQ(gateway.find_refund("r2")->amount, 20'000);
    // Nothing is left to cancel: the books count each won once.
    (void)gateway.cancel(key);
    EXPECT_EQ(gateway.stats().cancelled_amount, 0);
}

}  // namespace
}  // namespace marquee::pg_sim
