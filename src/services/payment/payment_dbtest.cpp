// Payment against the real PostgreSQL (catalog, booking, wallet and payment migrated) and the payment-gateway
// simulator served in-process: invariant 3 (no payment taken twice, none lost) and the one final transaction.
// Holds are made through booking's own Service (tests may stand up what they test against).
#include <future>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
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
        auto user = new_uuid();
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

    /// A card payment left PENDING under `key` by a request whose settle was lost, as the API would have
    /// recorded it (the real request hash), made `seconds_old` older by its clock.
    Payment lost_card_payment(const std::string& user, const booking::Reservation& r, const std::string& key,
                              int seconds_old) {
        NewPayment p{user,
                     r.id,
                     new_uuid(),
                     key,
                     pay_request_hash(request(r, Method::Card)),
                     method_name(Method::Card),
                     r.total_price,
                     0,
                     r.total_price,
                     std::nullopt};
        auto payment = std::get<Payment>(run(payment_store_->begin(std::move(p))));
        sql("UPDATE payment.payments SET created_at = created_at - make_interval(secs => $2::int), "
            "updated_at = updated_at - make_interval(secs => $2::int) WHERE id = $1::uuid",
            db::params(payment.id, seconds_old));
        return payment;
    }

    /// payment.pay called directly (one statement), the queue token already checked for `schedule_id`.
    Store::Paid pay_sql(const std::string& user, const booking::Reservation& r, std::int64_t schedule_id,
                        const std::string& key, Method method = Method::Points,
                        std::optional<std::int64_t> points = {}) {
        NewPayment p{user, r.id, new_uuid(), key, http_hash(), method_name(method), 0, 0, 0, std::nullopt};
        return run(payment_store_->pay(std::move(p), schedule_id, points));
    }
    std::int64_t payments_of(const std::string& reservation_id) {
        return sql("SELECT count(*)::bigint FROM payment.payments WHERE reservation_id = $1::uuid",
                   db::params(reservation_id))
            .get<std::int64_t>(0, 0);
    }

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
    EXPECT_EQ(other_body->status(), 422);
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

// payment.pay (migrations/payment/0004_pay.sql): a whole points payment in one statement, every outcome.

TEST_F(PaymentDbTest, PayInOneStatementConfirmsDebitsAndWritesTheEvents) {
    const auto s = make_schedule(2, 30'000);
    const auto user = new_user_with_points(100'000);
    const auto hold = this->hold(user, s, {s.seats[0], s.seats[1]});
    const auto paid = pay_sql(user, hold, s.id, "one");
    ASSERT_EQ(paid.outcome, "APPROVED");
    ASSERT_TRUE(paid.payment);
    EXPECT_EQ(paid.payment->state, "APPROVED");
    EXPECT_EQ(paid.payment->amount, 60'000);
    EXPECT_EQ(paid.payment->points_amount, 60'000);
    EXPECT_EQ(paid.payment->pg_status, "NONE");
    EXPECT_TRUE(paid.payment->decided_at);
    EXPECT_EQ(paid.balance, 40'000);
    EXPECT_EQ(paid.schedule_id, s.id);
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
    EXPECT_EQ(seats_in(hold.id, "SOLD"), 2);
    EXPECT_EQ(balance(user), 40'000);
    EXPECT_EQ(ledger_sum(user), 40'000);
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 1);
    EXPECT_EQ(outbox_count(hold.id, "reservation.confirmed"), 1);
    EXPECT_EQ(payment_events(paid.payment->id, "payment.approved"), 1);
    // The same key replays without moving anything again.
    const auto again = pay_sql(user, hold, s.id, "one");
    EXPECT_EQ(again.outcome, "REPLAY");
    ASSERT_TRUE(again.payment);
    EXPECT_EQ(again.payment->id, paid.payment->id);
    EXPECT_EQ(again.balance, 40'000);
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 1);
    // Another key for the paid reservation: 409 already-confirmed, recorded FAILED so its key answers the
    // same.
    const auto other = pay_sql(user, hold, s.id, "two");
    ASSERT_EQ(other.outcome, "FAILED");
    EXPECT_EQ(other.payment->failure_code, "already-confirmed");
    EXPECT_EQ(payments_of(hold.id), 2);
    EXPECT_EQ(balance(user), 40'000);
}

TEST_F(PaymentDbTest, PayRefusesWhatIsNotPayableAndRecordsTheRefusal) {
    const auto s = make_schedule(4, 10'000);
    const auto user = new_user_with_points(15'000);
    const auto stranger = new_user_with_points(50'000);

    // Another user's reservation, an unknown one, or a reservation of another schedule than the token's.
    const auto mine = this->hold(user, s, {s.seats[0]});
    EXPECT_EQ(pay_sql(stranger, mine, s.id, "steal").outcome, "NOT_FOUND");
    booking::Reservation unknown = mine;
    unknown.id = new_uuid();
    EXPECT_EQ(pay_sql(user, unknown, s.id, "ghost").outcome, "NOT_FOUND");
    EXPECT_EQ(pay_sql(user, mine, s.id + 1'000'000, "elsewhere").outcome, "WRONG_SCHEDULE");
    EXPECT_EQ(payments_of(mine.id), 0);

    // A points part that does not fit.
    const auto split = pay_sql(user, mine, s.id, "split", Method::PointsAndCard, 10'000);
    EXPECT_EQ(split.outcome, "BAD_SPLIT");
    EXPECT_EQ(split.total, 10'000);

    // An expired hold: 410, recorded, nothing moved.
    make_overdue(mine.id);
    const auto late = pay_sql(user, mine, s.id, "late");
    ASSERT_EQ(late.outcome, "FAILED");
    EXPECT_EQ(late.payment->failure_code, "hold-expired");
    EXPECT_EQ(pay_sql(user, mine, s.id, "late").outcome, "REPLAY");
    EXPECT_EQ(balance(user), 15'000);

    // A hold released before it was paid (no longer HELD).
    const auto released = this->hold(user, s, {s.seats[1]});
    sql("UPDATE booking.reservations SET state = 'CANCELLED', ended_at = now() WHERE id = $1::uuid",
        db::params(released.id));
    sql("UPDATE booking.reservation_seats SET state = 'RELEASED' WHERE reservation_id = $1::uuid",
        db::params(released.id));
    const auto gone = pay_sql(user, released, s.id, "gone");
    ASSERT_EQ(gone.outcome, "FAILED");
    EXPECT_EQ(gone.payment->failure_code, "hold-expired");

    // Not enough points (2 seats: 20,000 > 15,000): 402, recorded, the hold stays HELD.
    const auto pricey = this->hold(user, s, {s.seats[2], s.seats[3]});
    const auto poor = pay_sql(user, pricey, s.id, "poor");
    ASSERT_EQ(poor.outcome, "FAILED");
    EXPECT_EQ(poor.payment->failure_code, "insufficient-points");
    EXPECT_EQ(poor.payment->state, "FAILED");
    EXPECT_EQ(reservation_state(pricey.id), "HELD");
    EXPECT_EQ(seats_in(pricey.id, "HELD"), 2);
    EXPECT_EQ(outbox_count(pricey.id, "reservation.confirmed"), 0);
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 0);
    EXPECT_EQ(balance(user), 15'000);
    // A user with no wallet at all.
    const auto walletless = new_user_with_points(0);
    const auto other = make_schedule(1, 10'000);
    const auto theirs = this->hold(walletless, other, {other.seats[0]});
    const auto empty = pay_sql(walletless, theirs, other.id, "empty");
    ASSERT_EQ(empty.outcome, "FAILED");
    EXPECT_EQ(empty.payment->failure_code, "insufficient-points");
    EXPECT_EQ(reservation_state(theirs.id), "HELD");
}

TEST_F(PaymentDbTest, ConcurrentPaymentsOfOneReservationSellItOnce) {
    const auto s = make_schedule(1, 10'000);
    const auto user = new_user_with_points(100'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    // 16 attempts at once: 8 keys, each sent twice.
    std::vector<std::future<std::string>> attempts;
    for (int i = 0; i < 16; ++i) {
        const std::string key = "race-" + std::to_string(i % 8);
        const std::string token = new_uuid();  // made here: new_uuid() blocks on the test's io_context
        attempts.push_back(asio::co_spawn(
            ioc_,
            [this, user, hold, key, token, schedule = s.id]() -> asio::awaitable<std::string> {
                NewPayment p{user, hold.id, token, key, http_hash(), "POINTS", 0, 0, 0, std::nullopt};
                auto paid = co_await payment_store_->pay(std::move(p), schedule, std::nullopt);
                co_return paid.outcome;
            },
            asio::use_future));
    }
    int approved = 0, refused = 0, replayed = 0;
    for (auto& a : attempts) {
        const auto outcome = a.get();
        if (outcome == "APPROVED") ++approved;
        // 409s: refused at the one-live index, or (reservation read CONFIRMED) recorded FAILED
        // already-confirmed.
        if (outcome == "ALREADY_CONFIRMED" || outcome == "IN_PROGRESS" || outcome == "FAILED") ++refused;
        if (outcome == "REPLAY") ++replayed;
    }
    EXPECT_EQ(approved, 1);
    EXPECT_EQ(approved + refused + replayed, 16);
    EXPECT_EQ(sql("SELECT count(*)::bigint FROM payment.payments WHERE reservation_id = $1::uuid AND state = "
                  "'APPROVED'",
                  db::params(hold.id))
                  .get<std::int64_t>(0, 0),
              1);
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 1);
    EXPECT_EQ(balance(user), 90'000);
    EXPECT_EQ(ledger_sum(user), 90'000);
}

TEST_F(PaymentDbTest, ConcurrentPaymentsOfOneWalletNeverOverdraw) {
    // Four holds of 30,000 against 100,000 points, paid at once: three succeed, one is short.
    const auto s = make_schedule(4, 30'000);
    const auto user = new_user_with_points(100'000);
    std::vector<booking::Reservation> holds;
    holds.reserve(4);
    for (int i = 0; i < 4; ++i) holds.push_back(this->hold(user, s, {s.seats[static_cast<std::size_t>(i)]}));
    std::vector<std::future<std::string>> attempts;
    for (int i = 0; i < 4; ++i) {
        const std::string token = new_uuid();  // made here: new_uuid() blocks on the test's io_context
        attempts.push_back(asio::co_spawn(
            ioc_,
            [this, user, r = holds[static_cast<std::size_t>(i)], i, token,
             schedule = s.id]() -> asio::awaitable<std::string> {
                NewPayment p{user, r.id, token,       "wallet-" + std::to_string(i), http_hash(), "POINTS", 0,
                             0,    0,    std::nullopt};
                auto paid = co_await payment_store_->pay(std::move(p), schedule, std::nullopt);
                co_return paid.outcome == "FAILED" ? paid.payment->failure_code.value_or("") : paid.outcome;
            },
            asio::use_future));
    }
    int approved = 0, short_of_points = 0;
    for (auto& a : attempts) {
        const auto outcome = a.get();
        if (outcome == "APPROVED") ++approved;
        if (outcome == "insufficient-points") ++short_of_points;
    }
    EXPECT_EQ(approved, 3);
    EXPECT_EQ(short_of_points, 1);
    EXPECT_EQ(balance(user), 10'000);
    EXPECT_EQ(ledger_sum(user), 10'000);
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 3);
}

TEST_F(PaymentDbTest, CardPaymentIsBegunThenSettledInOneStatementEach) {
    const auto s = make_schedule(2, 40'000);
    const auto user = new_user_with_points(30'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    const auto begun = pay_sql(user, hold, s.id, "card", Method::PointsAndCard, 10'000);
    ASSERT_EQ(begun.outcome, "BEGUN");
    EXPECT_EQ(begun.payment->state, "PENDING");
    EXPECT_EQ(begun.payment->pg_status, "REQUESTED");
    EXPECT_EQ(begun.payment->card_amount, 30'000);
    EXPECT_EQ(balance(user), 30'000) << "nothing moves before the gateway answered";
    const auto settled = run(payment_store_->settle(begun.payment->id, "APPROVED", std::string("pg-tx-1")));
    EXPECT_EQ(settled.outcome, "APPROVED");
    EXPECT_EQ(settled.payment.state, "APPROVED");
    EXPECT_EQ(settled.payment.pg_status, "APPROVED");
    EXPECT_EQ(settled.balance, 20'000);
    EXPECT_EQ(reservation_state(hold.id), "CONFIRMED");
    // A second settle (a recovery pass racing the request) decides nothing again.
    EXPECT_EQ(run(payment_store_->settle(begun.payment->id, "APPROVED", std::string("pg-tx-1"))).outcome,
              "APPROVED");
    EXPECT_EQ(ledger_rows(user, "PAYMENT"), 1);

    const auto declined_hold = this->hold(user, s, {s.seats[1]});
    const auto declined = pay_sql(user, declined_hold, s.id, "declined", Method::Card);
    ASSERT_EQ(declined.outcome, "BEGUN");
    const auto failed = run(payment_store_->settle(declined.payment->id, "DECLINED", std::nullopt));
    EXPECT_EQ(failed.outcome, "FAILED");
    EXPECT_EQ(failed.payment.failure_code, "card-declined");
    EXPECT_EQ(payment_events(declined.payment->id, "payment.failed"), 1);
    EXPECT_EQ(reservation_state(declined_hold.id), "HELD");
    const auto unknown = pay_sql(user, declined_hold, s.id, "unknown", Method::Card);
    ASSERT_EQ(unknown.outcome, "BEGUN");
    EXPECT_EQ(run(payment_store_->settle(unknown.payment->id, "UNKNOWN", std::nullopt)).outcome, "PENDING");
}

TEST_F(PaymentDbTest, AScheduleHintSavesTheReadAndAWrongOneIsStillRefused) {
    const auto s = make_schedule(2, 10'000);
    const auto other = make_schedule(1, 10'000);
    const auto user = new_user_with_points(50'000);
    const auto hold = this->hold(user, s, {s.seats[0]});
    std::vector<std::int64_t> checked;
    std::mutex checked_mutex;
    // The token id is made here: a check runs inside the payment's coroutine, where a blocking query of the
    // test's own (run() on the same io_context) would wait for the connection strand it is running on.
    const std::string token_id = new_uuid();
    QueueCheck check = [&](std::string, std::int64_t schedule_id,
                           std::string) -> asio::awaitable<std::string> {
        std::lock_guard lock(checked_mutex);
        checked.push_back(schedule_id);
        co_return token_id;
    };
    // A hint naming another schedule: the token is checked again against the reservation's.
    std::int64_t hinted = other.id;
    ScheduleHint hint = [&](const std::string&, const std::string&) { return std::optional(hinted); };
    Service hinted_payments(*payment_store_, *gateway_, check, recording_release(), metrics_,
                            ServiceOptions{}, hint);
    const auto paid = run(hinted_payments.pay(user, new_uuid(), "hinted", request(hold, Method::Points)));
    EXPECT_EQ(paid.payment.state, "APPROVED");
    ASSERT_EQ(checked.size(), 2u);
    EXPECT_EQ(checked[0], other.id);
    EXPECT_EQ(checked[1], s.id);
    // The right hint: one check, one statement.
    const auto second = this->hold(user, s, {s.seats[1]});
    hinted = s.id;
    checked.clear();
    const auto again =
        run(hinted_payments.pay(user, new_uuid(), "hinted-2", request(second, Method::Points)));
    EXPECT_EQ(again.payment.state, "APPROVED");
    EXPECT_EQ(checked.size(), 1u);
    EXPECT_EQ(balance(user), 30'000);
}

// The functions a purchase calls keep one plan per statement for the connection (booking/0012, payment/0006,
// wallet/0005; ADR 0034). The setting lives on the function, so a later CREATE OR REPLACE that forgets it,
// or a new signature, fails here.
TEST_F(PaymentDbTest, ThePurchaseFunctionsKeepTheirPlansForTheConnection) {
    const std::vector<std::string> functions{
        "booking.hold(uuid, bigint, uuid, bigint[], double precision, text, text, bytea)",
        // booking/0015's wrapper, which the service calls (ADR 0052).
        "booking.hold(uuid, bigint, uuid, bigint[], double precision, text, text, bytea, boolean)",
        "booking.event_payload(uuid, text)",
        "payment.pay(uuid, uuid, bigint, uuid, text, bytea, text, bigint, text)",
        "payment.settle(uuid, text, text, text)",
        "wallet.begin_charge(uuid, text, bytea, bigint)",
        "wallet.settle_charge(uuid, text, text, text)",
    };
    for (const auto& function : functions) {
        const auto r =
            sql("SELECT coalesce('plan_cache_mode=force_generic_plan' = ANY (proconfig), false) "
                "FROM pg_proc WHERE oid = $1::regprocedure",
                db::params(function));
        ASSERT_EQ(r.rows(), 1) << function;
        EXPECT_TRUE(r.get<bool>(0, 0)) << function << " plans its statements again on every call";
    }
}

// ADR 0040 for card payments: a retry of a PENDING payment whose own settle was lost asks the gateway by key
// and finishes it, instead of answering 409 until the recovery age. A young one is still in flight.
TEST_F(PaymentDbTest, ARetryFinishesACardPaymentWhoseSettleWasLost) {
    const auto s = make_schedule(3, 30'000);
    const auto user = new_user_with_points(0);

    const auto approved_hold = this->hold(user, s, {s.seats[0]});
    const auto approved = lost_card_payment(user, approved_hold, "lost-approved", 2);
    ASSERT_EQ(pg_.approve(approved.id, "payment-" + approved.id, 30'000).outcome, pg_sim::Outcome::Answer);
    const auto retried = pay(user, "lost-approved", request(approved_hold, Method::Card));
    EXPECT_TRUE(retried.replayed);
    EXPECT_EQ(retried.payment.id, approved.id);
    EXPECT_EQ(retried.payment.state, "APPROVED");
    EXPECT_EQ(reservation_state(approved_hold.id), "CONFIRMED");
    EXPECT_EQ(payment_events(approved.id, "payment.approved"), 1);
    EXPECT_EQ(pay(user, "lost-approved", request(approved_hold, Method::Card)).payment.state, "APPROVED");
    EXPECT_EQ(pg_.stats().approved, 1u) << "asked, never charged again";

    // Declined by the gateway: the retry gets the decline, the hold stays.
    const auto declined_hold = this->hold(user, s, {s.seats[1]});
    const auto declined = lost_card_payment(user, declined_hold, "lost-declined", 2);
    pg_.set_faults({.decline_rate = 1});
    ASSERT_EQ(pg_.approve(declined.id, "payment-" + declined.id, 30'000).outcome, pg_sim::Outcome::Answer);
    pg_.set_faults({});
    const auto problem = pay_problem(user, "lost-declined", request(declined_hold, Method::Card));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->status(), 402);
    EXPECT_EQ(problem->type(), "card-declined");
    EXPECT_EQ(run(payment_store_->get(declined.id)).state, "FAILED");
    EXPECT_EQ(reservation_state(declined_hold.id), "HELD");

    // Younger than a second: the first request may still be waiting on the gateway, so 409 in flight and
    // nothing asked or changed.
    const auto young_hold = this->hold(user, s, {s.seats[2]});
    const auto young = lost_card_payment(user, young_hold, "young", 0);
    ASSERT_EQ(pg_.approve(young.id, "payment-" + young.id, 30'000).outcome, pg_sim::Outcome::Answer);
    const auto in_flight = pay_problem(user, "young", request(young_hold, Method::Card));
    ASSERT_TRUE(in_flight);
    EXPECT_EQ(in_flight->status(), 409);
    EXPECT_EQ(in_flight->type(), "idempotency-key-in-flight");
    EXPECT_EQ(run(payment_store_->get(young.id)).state, "PENDING");
}

// The race the retry has to survive: the first request's settle and retries of the same approved card payment
// at once, on several threads, for many payments. Each payment is finished once: one APPROVED row, one
// confirmed reservation, one completion event, nothing refunded, nothing charged twice.
TEST_F(PaymentDbTest, TheOriginalSettleAndRetriesAtOnceFinishACardPaymentOnce) {
    constexpr int kPayments = 20;
    constexpr int kRetries = 3;
    const auto s = make_schedule(kPayments, 5'000);
    std::vector<std::string> users;  // one each: a fan may hold only the schedule's ticket limit
    std::vector<booking::Reservation> holds;
    std::vector<Payment> payments;
    for (int i = 0; i < kPayments; ++i) {
        const auto& user = users.emplace_back(new_user_with_points(0));
        holds.push_back(this->hold(user, s, {s.seats[static_cast<std::size_t>(i)]}));
        payments.push_back(lost_card_payment(user, holds.back(), "race-" + std::to_string(i), 2));
        ASSERT_EQ(pg_.approve(payments.back().id, "payment-" + payments.back().id, 5'000).outcome,
                  pg_sim::Outcome::Answer);
    }
    std::vector<std::future<std::string>> settles;
    for (int i = 0; i < kPayments; ++i) {
        const auto& payment = payments[static_cast<std::size_t>(i)];
        const std::string payment_key = pg_.find_by_key(payment.id)->payment_key;
        settles.push_back(asio::co_spawn(
            asio::make_strand(ioc_),
            [this, id = payment.id, payment_key]() -> asio::awaitable<std::string> {
                auto settled = co_await payment_store_->settle(id, "APPROVED", payment_key);
                co_return settled.payment.state;
            },
            asio::use_future));
        for (int r = 0; r < kRetries; ++r) {
            settles.push_back(asio::co_spawn(
                asio::make_strand(ioc_),
                [this, user = users[static_cast<std::size_t>(i)], token = new_uuid(),
                 key = "race-" + std::to_string(i),
                 req = request(holds[static_cast<std::size_t>(i)],
                               Method::Card)]() -> asio::awaitable<std::string> {
                    auto outcome = co_await payments_->pay(user, token, key, req);
                    co_return outcome.payment.state;
                },
                asio::use_future));
        }
    }
    for (auto& settle : settles) EXPECT_EQ(settle.get(), "APPROVED");
    for (int i = 0; i < kPayments; ++i) {
        const auto& payment = payments[static_cast<std::size_t>(i)];
        EXPECT_EQ(run(payment_store_->get(payment.id)).state, "APPROVED");
        EXPECT_EQ(reservation_state(holds[static_cast<std::size_t>(i)].id), "CONFIRMED");
        EXPECT_EQ(payment_events(payment.id, "payment.approved"), 1) << "finished once";
    }
    EXPECT_EQ(pg_.stats().approved, static_cast<std::uint64_t>(kPayments)) << "nothing charged twice";
    EXPECT_EQ(pg_.stats().cancelled, 0u) << "nothing given back";
}

}  // namespace
}  // namespace marquee::payment
