#pragma once
// Test-only: booking's DB fixture with wallet and payment migrated, an in-process pg-sim, payment's Service
// (to buy) and Refunds (to cancel). Used by refund_dbtest.cpp and
// tests/concurrency/cancel_concurrency_test.cpp.

#include <memory>
#include <optional>
#include <string>

#include "pg_sim/local_server.hpp"
#include "services/booking/test_fixture.hpp"
#include "services/payment/refunds.hpp"
#include "services/payment/service.hpp"

namespace marquee::payment::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class RefundDbTest : public booking::testing::BookingDbTest {
  protected:
    explicit RefundDbTest(int threads = 2, std::size_t pool_size = 8) : BookingDbTest(threads, pool_size) {}

    void SetUp() override {
        BookingDbTest::SetUp();
        std::vector<std::string> services{"wallet", "payment"};
        run(db::migrate(*pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
        payment_gateway::ClientOptions options;
        options.url = pg_sim_.url();
        options.call_timeout = 300ms;
        options.backoff = 1ms;
        gateway_ = std::make_unique<payment_gateway::Client>(ioc_.get_executor(), options);
        payment_store_ = std::make_unique<payment::Store>(*pool_);
        payments_ = std::make_unique<payment::Service>(
            *payment_store_, *gateway_, booking::testing::stub_queue_check(),
            [](std::int64_t, std::string) -> asio::awaitable<bool> { co_return true; }, metrics_);
        // Recovery is driven through refund_card() on the test's own refunds, never through a claim of old
        // rows: other test processes share the database.
        refunds_ = std::make_unique<Refunds>(*pool_, *gateway_, metrics_);
    }

    void TearDown() override {
        refunds_.reset();
        payments_.reset();
        payment_store_.reset();
        gateway_.reset();
        BookingDbTest::TearDown();
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

    /// `user` holds `seats` of `s` and pays them by `method` (points: what they cost, or `points`).
    std::string bought(const std::string& user, const booking::testing::TestSchedule& s,
                       std::vector<std::int64_t> seats, Method method = Method::Points,
                       std::optional<std::int64_t> points = std::nullopt) {
        const auto held = hold(user, s, std::move(seats));
        const auto paid =
            run(payments_->pay(user, new_uuid(), "pay-" + new_uuid(), PayRequest{held.id, method, points}));
        EXPECT_EQ(paid.payment.state, "APPROVED");
        return held.id;
    }

    CancelOutcome cancel(const std::string& user, const std::string& reservation,
                         std::optional<std::string> key = std::nullopt) {
        return run(refunds_->cancel(user, reservation, std::move(key)));
    }
    std::optional<core::Problem> cancel_problem(const std::string& user, const std::string& reservation) {
        return problem_of([&] { (void)cancel(user, reservation); });
    }

    /// The schedule starts at now() + `offset` (a PostgreSQL interval), its booking closing no later.
    void starts_in(std::int64_t schedule, const std::string& offset) {
        sql("UPDATE catalog.schedules SET starts_at = now() + $2::interval, "
            "booking_closes_at = least(booking_closes_at, now() + $2::interval) WHERE id = $1",
            db::params(schedule, offset));
    }

    std::int64_t balance(const std::string& user) {
        return sql("SELECT wallet.balance($1::uuid)", db::params(user)).get<std::int64_t>(0, 0);
    }
    std::int64_t ledger_rows(const std::string& user, const std::string& kind) {
        return sql("SELECT count(*)::bigint FROM wallet.ledger l JOIN wallet.wallets w ON w.id = l.wallet_id "
                   "WHERE w.user_id = $1::uuid AND l.kind = $2",
                   db::params(user, kind))
            .get<std::int64_t>(0, 0);
    }
    std::string state_of(const std::string& reservation) {
        return sql("SELECT state FROM booking.reservations WHERE id = $1::uuid", db::params(reservation))
            .get<std::string>(0, 0);
    }

    pg_sim::LocalServer pg_sim_{29};
    pg_sim::Gateway& pg_ = pg_sim_.gateway();
    std::unique_ptr<payment_gateway::Client> gateway_;
    std::unique_ptr<payment::Store> payment_store_;
    std::unique_ptr<payment::Service> payments_;
    std::unique_ptr<Refunds> refunds_;
};

}  // namespace marquee::payment::testing
