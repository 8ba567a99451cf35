// Cancellation and refund against the real PostgreSQL and an in-process pg-sim (ADR 0028): the fee tiers at
// their boundaries by the database clock, the fee from the card part first, the idempotent repeat, a cancel
// racing the deadline decided once, the refusals, and a card refund the gateway fails, retried until it
// settles.
#include <atomic>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "services/payment/refund_fixture_dbtest.hpp"

namespace marquee::payment {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::RefundDbTest;

class CancelDbTest : public RefundDbTest {
  protected:
    /// The fee percent of `schedule` at starts_at + `offset` (NULL: closed → -1).
    int percent_at(std::int64_t schedule, const std::string& offset) {
        const auto r =
            sql("SELECT t.fee_percent FROM catalog.schedules s, "
                "catalog.cancellation_terms(s.id, s.starts_at + $2::interval) t WHERE s.id = $1",
                db::params(schedule, offset));
        return r.is_null(0, "fee_percent") ? -1 : r.get<std::int32_t>(0, "fee_percent");
    }
};

TEST_F(CancelDbTest, FeeTiersAtTheirBoundaries) {
    const auto s = make_schedule(1);
    // Default rule: free until D-10, 10 % until D-3, closed from D-3 on; a boundary belongs to the next tier.
    EXPECT_EQ(percent_at(s.id, "-10 days -1 microsecond"), 0);
    EXPECT_EQ(percent_at(s.id, "-10 days"), 10);
    EXPECT_EQ(percent_at(s.id, "-3 days -1 microsecond"), 10);
    EXPECT_EQ(percent_at(s.id, "-3 days"), -1);
    EXPECT_EQ(percent_at(s.id, "0"), -1);

    sql("UPDATE catalog.schedules SET cancel_days_before = '{30,7,1}', cancel_fee_percents = '{0,20,50}' "
        "WHERE id = $1",
        db::params(s.id));
    EXPECT_EQ(percent_at(s.id, "-31 days"), 0);
    EXPECT_EQ(percent_at(s.id, "-30 days"), 20);
    EXPECT_EQ(percent_at(s.id, "-7 days"), 50);
    EXPECT_EQ(percent_at(s.id, "-1 day"), -1);
    // A rule whose days do not decrease, or with a percent over 100, is refused by the table.
    EXPECT_THROW(sql("UPDATE catalog.schedules SET cancel_days_before = '{3,10}', cancel_fee_percents = "
                     "'{0,10}' WHERE id = $1",
                     db::params(s.id)),
                 std::exception);
    EXPECT_THROW(
        sql("UPDATE catalog.schedules SET cancel_days_before = '{10}', cancel_fee_percents = '{101}' "
            "WHERE id = $1",
            db::params(s.id)),
        std::exception);
}

TEST_F(CancelDbTest, TheTierIsTheOneOfTheDatabaseClockAtTheCancel) {
    const auto s = make_schedule(2, 50'000);
    const auto user = new_user_with_points(100'000);
    const auto free = bought(user, s, {s.seats[0]});
    const auto charged = bought(user, s, {s.seats[1]});
    // D-10 is one hour away: free.
    starts_in(s.id, "10 days 1 hour");
    EXPECT_EQ(cancel(user, free).refund.fee, 0);
    // D-10 was passed by this statement's own clock (the cancel's transaction starts after it): 10 %.
    starts_in(s.id, "10 days");
    const auto out = cancel(user, charged);
    EXPECT_EQ(out.refund.fee_percent, 10);
    EXPECT_EQ(out.refund.fee, 5'000);
    EXPECT_EQ(out.refund.points_amount, 45'000);
    EXPECT_EQ(balance(user), 100'000 - 5'000);
}

TEST_F(CancelDbTest, RepeatGivesTheSameAnswerAndMovesNothingAgain) {
    const auto s = make_schedule(1, 40'000);
    const auto user = new_user_with_points(40'000);
    const auto reservation = bought(user, s, {s.seats[0]});
    const auto first = cancel(user, reservation, "cancel-1");
    EXPECT_FALSE(first.replayed);
    EXPECT_EQ(first.reservation.state, "CANCELLED");
    EXPECT_EQ(first.refund.state, "REFUNDED");
    for (const auto& key : {std::optional<std::string>("cancel-1"), std::optional<std::string>()}) {
        const auto again = cancel(user, reservation, key);
        EXPECT_TRUE(again.replayed);
        EXPECT_EQ(again.refund.id, first.refund.id);
        EXPECT_EQ(again.refund.points_amount, 40'000);
    }
    EXPECT_EQ(balance(user), 40'000);
    EXPECT_EQ(ledger_rows(user, "REFUND"), 1);
    EXPECT_EQ(outbox_count(reservation, "reservation.cancelled"), 1);
    EXPECT_EQ(live_rows(s, s.seats[0]), 0) << "the seat is free again";
    EXPECT_EQ(
        sql("SELECT count(*)::bigint FROM booking.seat_states($1)", db::params(s.id)).get<std::int64_t>(0, 0),
        0);
}

TEST_F(CancelDbTest, RefusalsAndAnotherUsersReservation) {
    const auto s = make_schedule(2);
    const auto user = new_user_with_points(90'000);
    const auto held = hold(user, s, {s.seats[1]});
    auto refused = cancel_problem(user, held.id);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status(), 409);
    EXPECT_EQ(refused->type(), "not-cancellable");

    const auto reservation = bought(user, s, {s.seats[0]});
    refused = cancel_problem(new_uuid(), reservation);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status(), 404);
    starts_in(s.id, "2 days");
    refused = cancel_problem(user, reservation);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->type(), "cancellation-closed");
    EXPECT_EQ(state_of(reservation), "CONFIRMED");
}

TEST_F(CancelDbTest, CancelWaitingOnTheLockWhileTheDeadlinePassesIsDecidedAtItsOwnInstant) {
    const auto s = make_schedule(2, 30'000);
    const auto user = new_user_with_points(60'000);
    const auto first = bought(user, s, {s.seats[0]});
    const auto second = bought(user, s, {s.seats[1]});
    // The deadline (D-3) is 4 seconds away.
    starts_in(s.id, "3 days 4 seconds");
    // Another transaction holds the reservation's row lock (as a concurrent cancel or sweep would).
    db::Pool blocker(ioc_.get_executor(), db::PoolOptions{test::database_url(), 1, 10s, "cancel-blocker"});
    std::atomic<bool> release{false};
    std::promise<void> locked;
    auto blocking = asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
            auto session = co_await blocker.session();
            co_await session.execute("BEGIN");
            co_await session.query("SELECT 1 FROM booking.reservations WHERE id = $1::uuid FOR UPDATE",
                                   db::params(first));
            locked.set_value();
            asio::steady_timer timer(co_await asio::this_coro::executor);
            while (!release) {
                timer.expires_after(10ms);
                co_await timer.async_wait(asio::use_awaitable);
            }
            co_await session.execute("COMMIT");
        },
        asio::use_future);
    locked.get_future().wait();
    auto waiting = asio::co_spawn(ioc_, refunds_->cancel(user, first, std::nullopt), asio::use_future);
    // The cancel began before the deadline and waits for the lock until the deadline has passed.
    const bool blocked_before_deadline = [&] {
        for (int i = 0; i < 300; ++i) {
            const auto r = sql(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE "
                "'%payment.cancel%') > 0 AS blocked, now() < (SELECT deadline FROM "
                "catalog.cancellation_terms($1, "
                "now())) AS before",
                db::params(s.id));
            if (!r.get<bool>(0, "before")) return false;
            if (r.get<bool>(0, "blocked")) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }();
    if (!blocked_before_deadline) {
        release = true;
        blocking.get();
        (void)waiting.get();
        GTEST_SKIP() << "the machine was too slow to start the cancel before the deadline";
    }
    while (sql("SELECT now() < deadline FROM catalog.cancellation_terms($1, now())", db::params(s.id))
               .get<bool>(0, 0)) {
        std::this_thread::sleep_for(50ms);
    }
    release = true;
    blocking.get();
    const auto decided = waiting.get();
    EXPECT_FALSE(decided.replayed);
    EXPECT_EQ(decided.refund.fee_percent, 10) << "decided at the instant its transaction began";
    // Once decided it stays decided, past the deadline too; a cancel that starts now is refused.
    EXPECT_TRUE(cancel(user, first).replayed);
    const auto closed = cancel_problem(user, second);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->type(), "cancellation-closed");
}

TEST_F(CancelDbTest, CardRefundTheGatewayFailsStaysPendingAndIsRefundedOnceLater) {
    const auto s = make_schedule(1, 70'000);
    const auto user = new_user_with_points(20'000);
    // 20,000 points + 50,000 card, free tier.
    const auto reservation = bought(user, s, {s.seats[0]}, Method::PointsAndCard, 20'000);
    pg_sim::Faults down;
    down.down = true;
    pg_.set_faults(down);
    const auto pending = cancel(user, reservation);
    EXPECT_EQ(pending.refund.state, "PENDING");
    EXPECT_EQ(pending.refund.card_amount, 50'000);
    EXPECT_EQ(pending.refund.points_amount, 20'000);
    EXPECT_EQ(balance(user), 20'000) << "the points are back at once";
    EXPECT_FALSE(pg_.find_refund(pending.refund.id).has_value());

    pg_.set_faults({});
    auto refund = pending.refund;
    refund.pg_transaction_id = sql("SELECT pg_transaction_id FROM payment.payments WHERE id = $1::uuid",
                                   db::params(refund.payment_id))
                                   .get<std::string>(0, 0);
    const auto settled = run(refunds_->refund_card(refund));
    EXPECT_EQ(settled.state, "REFUNDED");
    // A second attempt (a recovery pass racing the request) is answered by the gateway's replay.
    EXPECT_EQ(run(refunds_->refund_card(refund)).state, "REFUNDED");
    EXPECT_EQ(pg_.stats().refunded, 1u);
    EXPECT_EQ(pg_.stats().refunded_amount, 50'000);
    EXPECT_EQ(cancel(user, reservation).refund.state, "REFUNDED");
}

}  // namespace
}  // namespace marquee::payment
