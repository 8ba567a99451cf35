// The wallet against the real PostgreSQL and the payment-gateway simulator (served in-process on loopback).
#include <algorithm>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "coroutines.hpp"
#include "db/migrations.hpp"
#include "local_services.hpp"
#include "pg_sim/local_server.hpp"
#include "services/wallet/charge_rules.hpp"
#include "services/wallet/service.hpp"

namespace marquee::wallet {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class WalletDbTest : public ::testing::Test {
  protected:
    void SetUp() override {
        core::init_logging(core::LogLevel::Error);
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
        pool_ = std::make_unique<db::Pool>(ioc_.get_executor(),
                                           db::PoolOptions{.url = test::database_url(), .size = 8});
        run(db::migrate(*pool_, std::string(MARQUEE_SOURCE_DIR) + "/migrations", {"wallet"}));
        payment_gateway::ClientOptions gateway_options;
        gateway_options.url = pg_sim_.url();
        gateway_options.call_timeout = 200ms;
        gateway_options.backoff = 1ms;
        gateway_ = std::make_unique<payment_gateway::Client>(ioc_.get_executor(), gateway_options);
        store_ = std::make_unique<Store>(*pool_);
        service_ = std::make_unique<Service>(*store_, *gateway_, metrics_, ServiceOptions{});
    }

    void TearDown() override {
        service_.reset();
        store_.reset();
        gateway_.reset();
        pool_.reset();
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }

    template <typename T>
    T run(asio::awaitable<T> work) {
        return test::run_on(ioc_, std::move(work));
    }

    std::string new_user() {
        return run(pool_->query("SELECT gen_random_uuid()::text AS id")).template get<std::string>(0, "id");
    }

    std::int64_t scalar(const std::string& sql, const std::string& user) {
        return run(pool_->query(sql, db::params(user))).template get<std::int64_t>(0, 0);
    }
    std::int64_t balance(const std::string& user) { return scalar("SELECT wallet.balance($1::uuid)", user); }
    std::int64_t ledger_sum(const std::string& user) {
        return scalar(
            "SELECT coalesce(sum(l.amount), 0)::bigint FROM wallet.ledger l JOIN wallet.wallets w ON w.id = "
            "l.wallet_id WHERE w.user_id = $1::uuid",
            user);
    }

    /// Makes a charge's attempt look `interval` old (created_at and updated_at, by the database's clock).
    void age(const std::string& charge_id, const std::string& interval) {
        run(
            pool_->query("UPDATE wallet.charges SET created_at = now() - $2::interval, updated_at = now() - "
                         "$2::interval WHERE id = $1::uuid",
                         db::params(charge_id, interval)));
    }

    ChargeOutcome charge(const std::string& user, const std::string& key, std::int64_t amount) {
        return run(service_->charge(user, key, amount));
    }

    asio::io_context ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
    std::vector<std::thread> threads_;
    pg_sim::LocalServer pg_sim_{11};
    pg_sim::Gateway& pg_ = pg_sim_.gateway();
    core::MetricsRegistry metrics_;
    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<payment_gateway::Client> gateway_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<Service> service_;
};

TEST_F(WalletDbTest, ApprovedChargeCreditsOnceAndReplaysByKey) {
    const auto user = new_user();
    const auto first = charge(user, "top-up-1", 50'000);
    EXPECT_EQ(first.charge.state, "APPROVED");
    EXPECT_EQ(first.balance, 50'000);
    EXPECT_FALSE(first.replayed);
    const auto again = charge(user, "top-up-1", 50'000);
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.charge.id, first.charge.id);
    EXPECT_EQ(balance(user), 50'000);
    EXPECT_EQ(ledger_sum(user), 50'000);
    EXPECT_EQ(pg_.stats().approved, 1u);
}

TEST_F(WalletDbTest, SameKeyWithAnotherAmountIs422) {
    const auto user = new_user();
    (void)charge(user, "k", 10'000);
    try {
        (void)charge(user, "k", 20'000);
        FAIL();
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 422);
        EXPECT_EQ(p.type(), "idempotency-key-reused");
    }
    EXPECT_EQ(balance(user), 10'000);
}

// A repeat while the first request with its key may still be running (its charge PENDING and younger than
// the recovery age): 409 idempotency-key-in-flight with Retry-After, and no second gateway call. Once the
// recovery age has passed, a repeat finishes the charge as recovery would (ADR 0040): the gateway holds
// nothing under its key, so it FAILED with nothing charged; and since that answer (a 503) is not final, the
// next repeat with the key re-opens it and charges it, once.
TEST_F(WalletDbTest, ARepeatWhileTheFirstIsInFlightIs409AndLaterFinishesIt) {
    const auto user = new_user();
    auto [pending, created] =
        run(store_->begin_charge(user, "in-flight", charge_request_hash(30'000), 30'000));
    ASSERT_TRUE(created);
    try {
        (void)charge(user, "in-flight", 30'000);
        FAIL() << "the first request may still be waiting on the gateway";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 409);
        EXPECT_EQ(p.type(), "idempotency-key-in-flight");
        const auto& headers = p.headers();
        EXPECT_NE(std::find(headers.begin(), headers.end(),
                            std::pair<std::string, std::string>{"Retry-After", "1"}),
                  headers.end());
    }
    EXPECT_EQ(pg_.stats().approved, 0u) << "no second charge at the gateway";

    age(pending.id, "2 minutes");
    const auto later = charge(user, "in-flight", 30'000);
    EXPECT_TRUE(later.replayed);
    EXPECT_EQ(later.charge.id, pending.id);
    EXPECT_EQ(later.charge.state, "FAILED");
    EXPECT_EQ(later.charge.failure_code, "PG_UNAVAILABLE");
    EXPECT_EQ(balance(user), 0);

    const auto retried = charge(user, "in-flight", 30'000);
    EXPECT_EQ(retried.charge.id, pending.id);
    EXPECT_EQ(retried.charge.state, "APPROVED");
    EXPECT_EQ(balance(user), 30'000);
    EXPECT_EQ(ledger_sum(user), 30'000);
    EXPECT_EQ(pg_.stats().approved, 1u);
    EXPECT_TRUE(charge(user, "in-flight", 30'000).replayed) << "final now: a plain replay";
    EXPECT_EQ(pg_.stats().approved, 1u);
}

// The flash sale's lost settle (docs/performance.md, issue 15): the gateway approved, then the statement
// applying its answer was refused. A retry with the key, once the attempt is a second old, asks the gateway
// and credits the charge at once instead of answering 409 until recovery.
TEST_F(WalletDbTest, ARetryFinishesAChargeWhoseSettleWasLost) {
    const auto user = new_user();
    auto [pending, created] = run(store_->begin_charge(user, "lost", charge_request_hash(20'000), 20'000));
    ASSERT_TRUE(created);
    ASSERT_EQ(pg_.approve(pending.id, "charge-" + pending.id, 20'000).outcome, pg_sim::Outcome::Answer);
    age(pending.id, "2 seconds");
    const auto retried = charge(user, "lost", 20'000);
    EXPECT_TRUE(retried.replayed);
    EXPECT_EQ(retried.charge.state, "APPROVED");
    EXPECT_EQ(retried.balance, 20'000);
    EXPECT_EQ(balance(user), 20'000);
    EXPECT_EQ(ledger_sum(user), 20'000);
    EXPECT_EQ(pg_.stats().approved, 1u);
}

// The race ADR 0040 has to survive: the first request's settle and retries' settles of the same approved
// charge at once, on two threads, for many charges. Exactly one credit each, whatever the interleaving.
TEST_F(WalletDbTest, TheOriginalSettleAndRetriesAtOnceCreditOnce) {
    constexpr int kCharges = 40;
    constexpr int kRetries = 3;
    const auto user = new_user();
    std::vector<std::string> ids;
    for (int i = 0; i < kCharges; ++i) {
        const std::string key = "race-" + std::to_string(i);
        auto [pending, created] = run(store_->begin_charge(user, key, charge_request_hash(1'000), 1'000));
        ASSERT_TRUE(created);
        ASSERT_EQ(pg_.approve(pending.id, "charge-" + pending.id, 1'000).outcome, pg_sim::Outcome::Answer);
        age(pending.id, "2 seconds");
        ids.push_back(pending.id);
    }
    std::vector<std::future<std::string>> settles;
    for (int i = 0; i < kCharges; ++i) {
        const std::string key = "race-" + std::to_string(i);
        const std::string id = ids[static_cast<std::size_t>(i)];
        const std::string payment_key = pg_.find_by_key(id)->payment_key;
        // The first request's own settle ...
        settles.push_back(asio::co_spawn(
            asio::make_strand(ioc_),
            [this, id, payment_key]() -> asio::awaitable<std::string> {
                auto settled = co_await store_->settle(id, "APPROVED", payment_key, std::nullopt);
                co_return settled.outcome;
            },
            asio::use_future));
        // ... and its retries, each asking the gateway and settling.
        for (int r = 0; r < kRetries; ++r) {
            settles.push_back(asio::co_spawn(
                asio::make_strand(ioc_),
                [this, user, key]() -> asio::awaitable<std::string> {
                    auto outcome = co_await service_->charge(user, key, 1'000);
                    co_return outcome.charge.state;
                },
                asio::use_future));
        }
    }
    int credited = 0;
    for (auto& settle : settles) {
        const auto outcome = settle.get();
        EXPECT_TRUE(outcome == "CREDITED" || outcome == "ALREADY_APPROVED" || outcome == "APPROVED")
            << outcome;
        if (outcome == "CREDITED") ++credited;
    }
    EXPECT_LE(credited, kCharges);
    EXPECT_EQ(balance(user), kCharges * 1'000);
    EXPECT_EQ(ledger_sum(user), kCharges * 1'000);
    EXPECT_EQ(scalar("SELECT count(*) FROM wallet.ledger l JOIN wallet.wallets w ON w.id = l.wallet_id "
                     "WHERE w.user_id = $1::uuid AND l.kind = 'CHARGE'",
                     user),
              kCharges)
        << "one CHARGE row per charge";
    EXPECT_EQ(pg_.stats().approved, static_cast<std::uint64_t>(kCharges)) << "nothing charged twice";
}

// A 503 is not a final answer (ADR 0040): a top-up the gateway could not take is tried again by a retry with
// the same key, and charged once.
TEST_F(WalletDbTest, ARetryOfAChargeTheGatewayCouldNotTakeTriesAgain) {
    pg_.set_faults({.down = true});
    const auto user = new_user();
    const auto first = charge(user, "k", 10'000);
    EXPECT_EQ(first.charge.state, "FAILED");
    pg_.set_faults({});
    const auto again = charge(user, "k", 10'000);
    EXPECT_EQ(again.charge.id, first.charge.id);
    EXPECT_EQ(again.charge.state, "APPROVED");
    EXPECT_EQ(balance(user), 10'000);
    EXPECT_EQ(charge(user, "k", 10'000).charge.state, "APPROVED");
    EXPECT_EQ(balance(user), 10'000);
    EXPECT_EQ(pg_.stats().approved, 1u);
}

TEST_F(WalletDbTest, DeclinedChargeMovesNothing) {
    pg_.set_faults({.decline_rate = 1});
    const auto user = new_user();
    const auto outcome = charge(user, "k", 10'000);
    EXPECT_EQ(outcome.charge.state, "FAILED");
    EXPECT_EQ(outcome.charge.pg_status, "DECLINED");
    EXPECT_EQ(balance(user), 0);
}

TEST_F(WalletDbTest, GatewayDownFailsTheChargeWithNothingMoved) {
    pg_.set_faults({.down = true});
    const auto user = new_user();
    const auto outcome = charge(user, "k", 10'000);
    EXPECT_EQ(outcome.charge.state, "FAILED");
    EXPECT_EQ(outcome.charge.failure_code, "PG_UNAVAILABLE");
    EXPECT_EQ(balance(user), 0);
    EXPECT_EQ(pg_.stats().approved, 0u);
}

TEST_F(WalletDbTest, LostAnswerIsCreditedOnce) {
    pg_.set_faults({.lost_rate = 1, .hang = 1000ms});
    const auto user = new_user();
    const auto outcome = charge(user, "k", 30'000);
    EXPECT_EQ(outcome.charge.state, "APPROVED");
    EXPECT_EQ(balance(user), 30'000);
    EXPECT_EQ(pg_.stats().approved_amount, 30'000);
}

TEST_F(WalletDbTest, RecoveryFinishesAChargeLeftPendingByACrash) {
    // A crash between the gateway's approval and our credit: the row is PENDING, the gateway holds the money.
    const auto user = new_user();
    auto [pending, created] = run(store_->begin_charge(user, "crashed", charge_request_hash(40'000), 40'000));
    ASSERT_TRUE(created);
    ASSERT_EQ(pg_.approve(pending.id, "charge-" + pending.id, 40'000).outcome, pg_sim::Outcome::Answer);
    // And one the gateway never saw: recovery must fail it, not credit it.
    auto [never, created2] = run(store_->begin_charge(user, "never-sent", charge_request_hash(5'000), 5'000));
    ASSERT_TRUE(created2);

    // Resolved one by one, as a recovery pass does, rather than through a claim of old rows: other test
    // processes share the database, and the e2e tests' Marquee processes run recovery against another
    // simulator.
    EXPECT_TRUE(run(service_->resolve(pending.id)));
    EXPECT_TRUE(run(service_->resolve(never.id)));
    EXPECT_EQ(run(store_->get_charge(pending.id)).state, "APPROVED");
    EXPECT_EQ(run(store_->get_charge(never.id)).state, "FAILED");
    EXPECT_EQ(balance(user), 40'000);
    EXPECT_EQ(ledger_sum(user), 40'000);
    // A second pass finds them final: nothing is applied twice.
    EXPECT_TRUE(run(service_->resolve(pending.id)));
    EXPECT_TRUE(run(service_->resolve(never.id)));
    EXPECT_EQ(run(store_->get_charge(pending.id)).state, "APPROVED");
    EXPECT_EQ(balance(user), 40'000);
    EXPECT_EQ(ledger_sum(user), 40'000);
}

TEST_F(WalletDbTest, TwoHundredConcurrentDebitsNeverGoNegative) {
    const auto user = new_user();
    (void)charge(user, "seed", 10'000);
    // 200 debits of 100 against 10,000: exactly 100 succeed, whatever the interleaving.
    std::vector<std::future<std::string>> debits;
    for (int i = 0; i < 200; ++i) {
        const std::string key = "payment:" + std::to_string(i);
        debits.push_back(asio::co_spawn(
            ioc_,
            [this, user, key]() -> asio::awaitable<std::string> {
                auto r = co_await pool_->query(
                    "SELECT outcome FROM wallet.debit($1::uuid, 100, $2, gen_random_uuid())",
                    db::params(user, key));
                co_return r.get<std::string>(0, "outcome");
            },
            asio::use_future));
    }
    int debited = 0, insufficient = 0;
    for (auto& d : debits) {
        const auto outcome = d.get();
        if (outcome == "DEBITED") ++debited;
        if (outcome == "INSUFFICIENT") ++insufficient;
    }
    EXPECT_EQ(debited, 100);
    EXPECT_EQ(insufficient, 100);
    EXPECT_EQ(balance(user), 0);
    EXPECT_EQ(ledger_sum(user), 0);
}

TEST_F(WalletDbTest, DebitAndRefundAreIdempotentByKey) {
    const auto user = new_user();
    (void)charge(user, "seed", 10'000);
    const auto debit = [&] {
        return run(
            pool_->query("SELECT outcome, balance FROM wallet.debit($1::uuid, 3000, 'payment:p1', "
                         "'00000000-0000-0000-0000-000000000001')",
                         db::params(user)));
    };
    EXPECT_EQ(debit().get<std::string>(0, "outcome"), "DEBITED");
    const auto again = debit();
    EXPECT_EQ(again.get<std::string>(0, "outcome"), "ALREADY_APPLIED");
    EXPECT_EQ(again.get<std::int64_t>(0, "balance"), 7'000);
    const auto refund =
        run(pool_->query("SELECT outcome FROM wallet.refund($1::uuid, 3000, 'refund:p1', "
                         "'00000000-0000-0000-0000-000000000001')",
                         db::params(user)));
    EXPECT_EQ(refund.get<std::string>(0, "outcome"), "APPLIED");
    EXPECT_EQ(balance(user), 10'000);
    EXPECT_EQ(ledger_sum(user), 10'000);
}

TEST_F(WalletDbTest, TheDatabaseRefusesANegativeBalanceByItself) {
    const auto user = new_user();
    (void)charge(user, "seed", 1'000);
    EXPECT_THROW(run(pool_->query("UPDATE wallet.wallets SET balance = -1 WHERE user_id = $1::uuid",
                                  db::params(user))),
                 db::SqlError);
}

}  // namespace
}  // namespace marquee::wallet
