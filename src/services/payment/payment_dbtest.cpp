// Payment against the real PostgreSQL (catalog, booking, wallet and payment migrated) and the payment-gateway
// simulator served in-process: invariant 3 (no payment taken twice, none lost) and the one final transaction.
// Holds are made through booking's own Service (tests may stand up what they test against).
#include <mutex>

#include <gtest/gtest.h>

#include "pg_sim/local_server.hpp"
#include "services/booking/test_fixture.hpp"
#include "services/payment/rules.hpp"
#include "services/payment/service.hpp"

namespace marquee::payment {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class PaymentDbTest : public booking::testing::BookingDbTest {
  protected:
    void SetUp() override {
        BookingDbTest::SetUp();
        std::vector<std::string> services{"wallet", "payment"};
        run(db::migrate(*pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
        payment_gateway::ClientOptions gateway_options;
        gateway_options.url = pg_sim_.url();
        gateway_options.call_timeout = 300ms;
        gateway_options.backoff = 1ms;
        gateway_ = std::make_unique<payment_gateway::Client>(ioc_.get_executor(), gateway_options);
        payment_store_ = std::make_unique<Store>(*pool_);
        // Recovery is driven through resolve() and refund_card() on each test's own payments, never through a
        // claim of old rows: other test processes share the database (and the Marquee processes of the e2e
        // tests run recovery passes of their own against another simulator).
        payments_ = std::make_unique<Service>(
            *payment_store_, *gateway_, booking::testing::stub_queue_check(), recording_release(), metrics_);
    }

    void TearDown() override {
        payments_.reset();
        payment_store_.reset();
        gateway_.reset();
        BookingDbTest::TearDown();
    }

    QueueRelease recording_release() {
        return [this](std::int64_t schedule_id, std::string token) -> asio::awaitable<bool> {
            std::lock_guard lock(released_mutex_);
            released_.emplace_back(schedule_id, std::move(token));
            co_return true;
        };
    }

    std::string new_user_with_points(std::int64_t points) {
        const auto user = new_uuid();
        if (points > 0) {
            sql("SELECT * FROM wallet.apply($1::uuid, 'CHARGE', $2, 'seed:' || gen_random_uuid(), "
                "gen_random_uuid())",
                db::params(user, points));
        }
        return user;
    }

    std::int64_t balance(const std::string& user) {
        return sql("SELECT wallet.balance($1::uuid)", db::params(user)).get<std::int64_t>(0, 0);
    }
    std::int64_t ledger_sum(const std::string& user) {
        return sql("SELECT coalesce(sum(l.amount), 0)::bigint FROM wallet.ledger l JOIN wallet.wallets w ON "
                   "w.id = l.wallet_id WHERE w.user_id = $1::uuid",
                   db::params(user))
            .get<std::int64_t>(0, 0);
    }
    std::int64_t ledger_rows(const std::string& user, const std::string& kind) {
        return sql("SELECT count(*)::bigint FROM wallet.ledger l JOIN wallet.wallets w ON w.id = l.wallet_id "
                   "WHERE w.user_id = $1::uuid AND l.kind = $2",
                   db::params(user, kind))
            .get<std::int64_t>(0, 0);
    }
    std::string reservation_state(const std::string& id) {
        return sql("SELECT state FROM booking.reservation_for_payment($1::uuid, (SELECT user_id FROM "
                   "booking.reservations WHERE id = $1::uuid))",
                   db::params(id))
            .get<std::string>(0, 0);
    }
    std::int64_t seats_in(const std::string& reservation_id, const std::string& state) {
        return sql("SELECT count(*)::bigint FROM booking.reservation_seats WHERE reservation_id = $1::uuid "
                   "AND "
                   "state = $2",
                   db::params(reservation_id, state))
            .get<std::int64_t>(0, 0);
    }
    std::int64_t payment_events(const std::string& payment_id, const std::string& event) {
        return sql("SELECT count(*)::bigint FROM payment.outbox WHERE aggregate_id = $1::uuid AND event_type "
                   "= $2",
                   db::params(payment_id, event))
            .get<std::int64_t>(0, 0);
    }

    PayRequest request(const booking::Reservation& r, Method method,
                       std::optional<std::int64_t> points = {}) {
        return PayRequest{r.id, method, points};
    }
    PayOutcome pay(const std::string& user, const std::string& key, PayRequest request) {
        return run(payments_->pay(user, new_uuid(), key, std::move(request)));
    }
    std::optional<core::Problem> pay_problem(const std::string& user, const std::string& key,
                                             PayRequest request) {
        return problem_of([&] { (void)pay(user, key, std::move(request)); });
    }

    /// A PENDING payment as a crashed request leaves it: recorded, then nothing more.
    Payment crashed_payment(const std::string& user, const booking::Reservation& r, Method method,
                            std::int64_t points, std::int64_t card) {
        NewPayment p{user,          r.id,
                     new_uuid(),    "crashed-" + new_uuid(),
                     http_hash(),   method_name(method),
                     r.total_price, points,
                     card,          std::nullopt};
        auto begun = run(payment_store_->begin(std::move(p)));
        return std::get<Payment>(std::move(begun));
    }
    static std::string http_hash() { return std::string(64, 'a'); }

    pg_sim::LocalServer pg_sim_{23};
    pg_sim::Gateway& pg_ = pg_sim_.gateway();
    std::unique_ptr<payment_gateway::Client> gateway_;
    std::unique_ptr<Store> payment_store_;
    std::unique_ptr<Service> payments_;
    std::mutex released_mutex_;
    std::vector<std::pair<std::int64_t, std::string>> released_;
};

TEST_F(PaymentDbTest, PointsPaymentConfirmsTheReservationInOneTransaction) {
    const auto s = make_schedule(4, 40'000);
    const auto user = new_user_with_points(100'000);
    const auto hold = this->hold(user, s, {s.seats[0], s.seats[1]});
    const auto outcome = pay(user, "pay-1", request(hold, Method::Points));
    EXPECT_EQ(outcome.payment.state, "APPROVED");
    EXPECT_EQ(outcome.payment.amount, 80'000);
    EXPECT_EQ(outcome.payment.points_amount, 80'000);
    EXPECT_EQ(outcome.payment.pg_status, "NONE");
    EXPECT_EQ(outcome.balance, 20'000);
    EXPECT_FALSE(outcome.replayed);
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
    EXPECT_EQ(seats_in(hold.id, "SOLD"), 2);
    EXPECT_EQ(balance(user), 20'000);
    EXPECT_EQ(ledger_sum(user), 20'000);
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 1);
    EXPECT_EQ(outbox_count(hold.id, "reservation.confirmed"), 1);
    EXPECT_EQ(payment_events(outcome.payment.id, "payment.approved"), 1);
    std::lock_guard lock(released_mutex_);
    ASSERT_EQ(released_.size(), 1u);
    EXPECT_EQ(released_[0].first, s.id);
    EXPECT_EQ(released_[0].second, outcome.payment.queue_token_id);
}

TEST_F(PaymentDbTest, SameKeyReplaysTheFirstOutcomeAndMovesMoneyOnce) {
    const auto s = make_schedule(1, 30'000);
    const auto user = new_user_with_points(50'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto first = pay(user, "once", request(hold, Method::Points));
    const auto again = pay(user, "once", request(hold, Method::Points));
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.payment.id, first.payment.id);
    EXPECT_EQ(balance(user), 20'000);
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 1);
    const auto other_body = pay_problem(user, "once", request(hold, Method::Card));
    ASSERT_TRUE(other_body);
    EXPECT_EQ(other_body->status(), 409);
    EXPECT_EQ(other_body->type(), "idempotency-key-reused");
    const auto other_key = pay_problem(user, "another", request(hold, Method::Points));
    ASSERT_TRUE(other_key);
    EXPECT_EQ(other_key->status(), 409);
    EXPECT_EQ(other_key->type(), "already-confirmed");
    EXPECT_EQ(balance(user), 20'000);
}

TEST_F(PaymentDbTest, CardPaymentChargesTheGatewayOnce) {
    const auto s = make_schedule(1, 70'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto outcome = pay(user, "card", request(hold, Method::Card));
    EXPECT_EQ(outcome.payment.state, "APPROVED");
    EXPECT_EQ(outcome.payment.card_amount, 70'000);
    EXPECT_EQ(outcome.payment.pg_status, "APPROVED");
    EXPECT_TRUE(outcome.payment.pg_transaction_id);
    (void)pay(user, "card", request(hold, Method::Card));
    EXPECT_EQ(pg_.stats().approved, 1u);
    EXPECT_EQ(pg_.stats().approved_amount, 70'000);
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 0);
}

TEST_F(PaymentDbTest, PointsAndCardSplitsTheAmount) {
    const auto s = make_schedule(1, 70'000);
    const auto user = new_user_with_points(30'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto outcome = pay(user, "split", request(hold, Method::PointsAndCard, 25'000));
    EXPECT_EQ(outcome.payment.state, "APPROVED");
    EXPECT_EQ(outcome.payment.points_amount, 25'000);
    EXPECT_EQ(outcome.payment.card_amount, 45'000);
    EXPECT_EQ(balance(user), 5'000);
    EXPECT_EQ(pg_.stats().approved_amount, 45'000);
}

TEST_F(PaymentDbTest, ExpiredHoldIs410AndNothingMoves) {
    const auto s = make_schedule(1, 10'000);
    const auto user = new_user_with_points(50'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    make_overdue(hold.id);
    const auto problem = pay_problem(user, "late", request(hold, Method::Points));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 410);
    EXPECT_EQ(problem->type(), "hold-expired");
    EXPECT_EQ(balance(user), 50'000);
    EXPECT_EQ(pg_.stats().approved, 0u);
    // The refusal is recorded: the same key answers the same.
    const auto again = pay_problem(user, "late", request(hold, Method::Points));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->type(), "hold-expired");
    EXPECT_EQ(sql("SELECT count(*)::bigint FROM payment.payments WHERE reservation_id = $1::uuid AND state = "
                  "'FAILED' AND failure_code = 'hold-expired'",
                  db::params(hold.id))
                  .get<std::int64_t>(0, 0),
              1);
}

TEST_F(PaymentDbTest, InsufficientPointsIs402AndNothingIsCharged) {
    const auto s = make_schedule(1, 90'000);
    const auto user = new_user_with_points(10'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto problem = pay_problem(user, "short", request(hold, Method::PointsAndCard, 20'000));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 402);
    EXPECT_EQ(problem->type(), "insufficient-points");
    EXPECT_EQ(pg_.stats().approved, 0u);
    EXPECT_EQ(balance(user), 10'000);
    EXPECT_EQ(reservation_state(hold.id), "HELD");
    // The hold stays payable with another key and enough points.
    const auto outcome = pay(user, "enough", request(hold, Method::PointsAndCard, 5'000));
    EXPECT_EQ(outcome.payment.state, "APPROVED");
}

TEST_F(PaymentDbTest, DeclinedCardIs402AndKeepsTheHold) {
    pg_.set_faults({.decline_rate = 1});
    const auto s = make_schedule(1, 20'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto problem = pay_problem(user, "declined", request(hold, Method::Card));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 402);
    EXPECT_EQ(problem->type(), "card-declined");
    EXPECT_EQ(reservation_state(hold.id), "HELD");
    pg_.set_faults({});
    EXPECT_EQ(pay(user, "retry", request(hold, Method::Card)).payment.state, "APPROVED");
}

TEST_F(PaymentDbTest, GatewayDownIs503WithNothingCharged) {
    pg_.set_faults({.down = true});
    const auto s = make_schedule(1, 20'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto problem = pay_problem(user, "down", request(hold, Method::Card));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 503);
    EXPECT_EQ(pg_.stats().approved, 0u);
    EXPECT_EQ(reservation_state(hold.id), "HELD");
}

TEST_F(PaymentDbTest, AnotherKeyWhileOneIsPendingIs409PaymentInProgress) {
    const auto s = make_schedule(1, 20'000);
    const auto user = new_user_with_points(50'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    (void)crashed_payment(user, hold, Method::Points, 20'000, 0);
    const auto problem = pay_problem(user, "second", request(hold, Method::Points));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 409);
    EXPECT_EQ(problem->type(), "payment-in-progress");
}

TEST_F(PaymentDbTest, PointsThatRanOutBeforeTheFinalTransactionUndoTheConfirm) {
    const auto s = make_schedule(1, 20'000);
    const auto user = new_user_with_points(20'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto payment = crashed_payment(user, hold, Method::Points, 20'000, 0);
    // Spent elsewhere between the early check and the final transaction.
    sql("SELECT * FROM wallet.debit($1::uuid, 15000, 'elsewhere', gen_random_uuid())", db::params(user));
    EXPECT_EQ(run(payment_store_->finish(payment.id, std::nullopt)), "insufficient-points");
    EXPECT_EQ(reservation_state(hold.id), "HELD") << "booking.confirm is rolled back with the debit";
    EXPECT_EQ(seats_in(hold.id, "HELD"), 1);
    EXPECT_EQ(outbox_count(hold.id, "reservation.confirmed"), 0);
    EXPECT_EQ(run(payment_store_->get(payment.id)).state, "FAILED");
    EXPECT_EQ(payment_events(payment.id, "payment.failed"), 1);
    EXPECT_EQ(balance(user), 5'000);
    // A second finish (a recovery pass racing the request) decides nothing again.
    EXPECT_EQ(run(payment_store_->finish(payment.id, std::nullopt)), "FAILED");
}

TEST_F(PaymentDbTest, RecoveryConfirmsACardPaymentTheGatewayApprovedBeforeACrash) {
    const auto s = make_schedule(1, 60'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto payment = crashed_payment(user, hold, Method::Card, 0, 60'000);
    ASSERT_EQ(pg_.approve(payment.id, "payment-" + payment.id, 60'000).outcome, pg_sim::Outcome::Answer);
    // And one the gateway never saw: recovery fails it, nothing charged.
    const auto s2 = make_schedule(1, 10'000);
    const auto hold2 = this->hold(user, s2, {s2.seats[0]});
    const auto never = crashed_payment(user, hold2, Method::Card, 0, 10'000);

    EXPECT_TRUE(run(payments_->resolve(payment)));
    EXPECT_TRUE(run(payments_->resolve(never)));
    EXPECT_EQ(run(payment_store_->get(payment.id)).state, "APPROVED");
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
    EXPECT_EQ(run(payment_store_->get(never.id)).state, "FAILED");
    EXPECT_EQ(reservation_state(hold2.id), "HELD");
    EXPECT_EQ(pg_.stats().approved, 1u);
    // A second pass (another replica, or a late request) finds them final and moves nothing.
    EXPECT_TRUE(run(payments_->resolve(payment)));
    EXPECT_TRUE(run(payments_->resolve(never)));
    EXPECT_EQ(run(payment_store_->get(payment.id)).state, "APPROVED");
    EXPECT_EQ(run(payment_store_->get(never.id)).state, "FAILED");
    EXPECT_EQ(pg_.stats().approved, 1u);
    EXPECT_EQ(pg_.stats().cancelled, 0u);
}

TEST_F(PaymentDbTest, HoldThatExpiredWhileTheCardWasChargedIsRefundedAt410) {
    const auto s = make_schedule(1, 50'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto payment = crashed_payment(user, hold, Method::Card, 0, 50'000);
    ASSERT_EQ(pg_.approve(payment.id, "payment-" + payment.id, 50'000).outcome, pg_sim::Outcome::Answer);
    make_overdue(hold.id);
    EXPECT_TRUE(run(payments_->resolve(payment)));
    const auto failed = run(payment_store_->get(payment.id));
    EXPECT_EQ(failed.state, "FAILED");
    EXPECT_EQ(failed.failure_code, "hold-expired");
    EXPECT_EQ(failed.pg_status, "CANCELLED");
    EXPECT_EQ(pg_.stats().cancelled_amount, 50'000);
    EXPECT_EQ(reservation_state(hold.id), "EXPIRED");
    EXPECT_EQ(seats_in(hold.id, "RELEASED"), 1);
    EXPECT_EQ(outbox_count(hold.id, "reservation.expired"), 1);
}

TEST_F(PaymentDbTest, ACancelTheGatewayMissedIsRetriedByRecovery) {
    const auto s = make_schedule(1, 50'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto payment = crashed_payment(user, hold, Method::Card, 0, 50'000);
    ASSERT_EQ(pg_.approve(payment.id, "payment-" + payment.id, 50'000).outcome, pg_sim::Outcome::Answer);
    make_overdue(hold.id);
    const auto charge = run(gateway_->find(payment.id));
    pg_.set_faults({.down = true});
    EXPECT_EQ(run(payment_store_->finish(payment.id, charge.payment_key)), "hold-expired");
    EXPECT_FALSE(run(payments_->refund_card(run(payment_store_->get(payment.id)))));
    EXPECT_EQ(run(payment_store_->get(payment.id)).pg_status, "APPROVED") << "on the cancel list";
    pg_.set_faults({});
    EXPECT_TRUE(run(payments_->refund_card(run(payment_store_->get(payment.id)))));
    EXPECT_EQ(run(payment_store_->get(payment.id)).pg_status, "CANCELLED");
    EXPECT_EQ(pg_.stats().cancelled_amount, 50'000);
}

TEST_F(PaymentDbTest, LostGatewayAnswerIsApprovedOnce) {
    pg_.set_faults({.lost_rate = 1, .hang = 1000ms});
    const auto s = make_schedule(1, 30'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto outcome = pay(user, "lost", request(hold, Method::Card));
    // The client asks the gateway by key after the lost answer: approved, or left PENDING for recovery.
    if (outcome.payment.state == "PENDING") {
        pg_.set_faults({});
        EXPECT_TRUE(run(payments_->resolve(outcome.payment)));
    }
    EXPECT_EQ(run(payment_store_->get(outcome.payment.id)).state, "APPROVED");
    EXPECT_EQ(pg_.stats().approved, 1u);
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
}

TEST_F(PaymentDbTest, AnotherUsersReservationOrPaymentIs404) {
    const auto s = make_schedule(1, 10'000);
    const auto owner = new_user_with_points(10'000);
    const auto stranger = new_user_with_points(10'000);
    const auto hold = this->hold(owner, s, {s.seats[0]});
    const auto problem = pay_problem(stranger, "steal", request(hold, Method::Points));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 404);
    const auto paid = pay(owner, "mine", request(hold, Method::Points));
    const auto lookup = problem_of([&] { (void)run(payments_->get(stranger, paid.payment.id)); });
    ASSERT_TRUE(lookup);
    EXPECT_EQ(lookup->status(), 404);
    EXPECT_EQ(run(payments_->get(owner, paid.payment.id)).state, "APPROVED");
}

TEST_F(PaymentDbTest, TheDatabaseRefusesASecondLivePaymentForOneReservation) {
    const auto s = make_schedule(1, 10'000);
    const auto user = new_user_with_points(0);
    const auto hold = this->hold(user, s, {s.seats[0]});
    (void)crashed_payment(user, hold, Method::Points, 10'000, 0);
    EXPECT_THROW((void)crashed_payment(user, hold, Method::Points, 10'000, 0), std::bad_variant_access);
    EXPECT_EQ(sql("SELECT count(*)::bigint FROM payment.payments WHERE reservation_id = $1::uuid",
                  db::params(hold.id))
                  .get<std::int64_t>(0, 0),
              1);
}

}  // namespace
}  // namespace marquee::payment
