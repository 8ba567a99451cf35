// 예매 취소 under contention (ADR 0028): many cancels of one paid reservation at once, from two Refunds
// instances (as two replicas would), are decided once: one cancellation, one refund, the points back once,
// one reservation.cancelled event, and every caller gets the same answer. Against the real local PostgreSQL
// and an in-process pg-sim (the card part's refund is posted once at the gateway, whoever posts it).
#include <future>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "services/payment/refund_fixture_dbtest.hpp"

namespace marquee::payment {
namespace {

namespace asio = boost::asio;

class CancelRaces : public testing::RefundDbTest {
  protected:
    CancelRaces() : RefundDbTest(4, 16) {}
};

TEST_F(CancelRaces, FortyConcurrentCancelsOfOneReservationAreDecidedOnce) {
    constexpr int kCancels = 40;
    const auto s = make_schedule(2, 60'000);
    const auto user = new_user_with_points(60'000);
    // 60,000 points + 60,000 card: the points come back to the wallet, the card part through the gateway.
    const auto reservation = bought(user, s, {s.seats[0], s.seats[1]}, Method::PointsAndCard, 60'000);
    Refunds other_replica(*pool_, *gateway_, metrics_);

    std::vector<std::future<CancelOutcome>> cancels;
    for (int i = 0; i < kCancels; ++i) {
        Refunds& refunds = i % 2 == 0 ? *refunds_ : other_replica;
        std::optional<std::string> key;
        if (i % 3 == 0) key = "cancel-race-" + std::to_string(i);
        cancels.push_back(asio::co_spawn(ioc_, refunds.cancel(user, reservation, key), asio::use_future));
    }
    int decided = 0;
    std::set<std::string> refund_ids;
    for (auto& c : cancels) {
        const auto outcome = c.get();
        decided += outcome.replayed ? 0 : 1;
        refund_ids.insert(outcome.refund.id);
        EXPECT_EQ(outcome.reservation.state, "CANCELLED");
        EXPECT_EQ(outcome.refund.points_amount, 60'000);
        EXPECT_EQ(outcome.refund.card_amount, 60'000);
    }
    EXPECT_EQ(decided, 1) << "one cancel decided, every other one replayed its answer";
    EXPECT_EQ(refund_ids.size(), 1u);
    EXPECT_EQ(balance(user), 60'000) << "the points came back once";
    EXPECT_EQ(ledger_rows(user, "REFUND"), 1);
    EXPECT_EQ(outbox_count(reservation, "reservation.cancelled"), 1);
    EXPECT_EQ(sql("SELECT count(*)::bigint FROM payment.refunds WHERE reservation_id = $1::uuid",
                  db::params(reservation))
                  .get<std::int64_t>(0, 0),
              1);
    EXPECT_EQ(live_rows(s, s.seats[0]) + live_rows(s, s.seats[1]), 0);
    EXPECT_EQ(cancel(user, reservation).refund.state, "REFUNDED");
    EXPECT_EQ(pg_.stats().refunded, 1u) << "the card part was refunded once at the gateway";
    EXPECT_EQ(pg_.stats().refunded_amount, 60'000);
}

}  // namespace
}  // namespace marquee::payment
