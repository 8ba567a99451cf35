// A recovery pass drains a backlog larger than its batch: after a flash sale hundreds of top-ups can be left
// PENDING (answers lost, the gateway slow), and a pass that resolved one batch per period fell behind the
// window the invariants allow (docs/performance.md). A database and a pg-sim of the test's own, so the pass
// claims exactly the rows made here.
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "coroutines.hpp"
#include "db/pool.hpp"
#include "marquee_process.hpp"
#include "payment_gateway/client.hpp"
#include "pg_sim/local_server.hpp"
#include "services/wallet/charge_rules.hpp"
#include "services/wallet/service.hpp"
#include "services/wallet/store.hpp"

namespace marquee::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(RecoveryDrain, OneWalletPassFinishesEveryPendingChargeAcrossBatches) {
    core::init_logging(core::LogLevel::Error);
    PrivateDatabase database({"wallet"});
    pg_sim::LocalServer gateway{23};
    asio::io_context io;
    db::Pool pool(io.get_executor(), db::PoolOptions{database.url(), 2, 10s, "wallet-recovery-test"});
    wallet::Store store(pool);
    payment_gateway::ClientOptions gateway_options;
    gateway_options.url = gateway.url();
    payment_gateway::Client client(io.get_executor(), gateway_options);
    core::MetricsRegistry metrics;
    wallet::ServiceOptions options;
    options.recovery_age = 0s;
    options.recovery_batch = 4;
    wallet::Service service(store, client, metrics, options);

    // 23 top-ups left PENDING, as a crash or lost answers leave them: the gateway approved every other one
    // (the money is there, the credit is not), and never saw the rest.
    constexpr int kCharges = 23;
    constexpr std::int64_t kAmount = 1'000;
    const auto user = sql("SELECT gen_random_uuid()::text", {}, database.url()).get<std::string>(0, 0);
    int approved = 0;
    for (int i = 0; i < kCharges; ++i) {
        const std::string key = "backlog-" + std::to_string(i);
        auto begun =
            run_here(io, store.begin_charge(user, key, wallet::charge_request_hash(kAmount), kAmount));
        ASSERT_TRUE(begun.second);
        if (i % 2 == 0) {
            ASSERT_EQ(gateway.gateway().approve(begun.first.id, "order-" + key, kAmount).outcome,
                      pg_sim::Outcome::Answer);
            ++approved;
        }
    }

    // One pass, batches of 4: every charge is decided, none is left for a later pass.
    EXPECT_EQ(run_here(io, service.recover_pending()), kCharges);
    const auto states =
        sql("SELECT count(*) FILTER (WHERE state = 'PENDING'), count(*) FILTER (WHERE state = "
            "'APPROVED'), count(*) FILTER (WHERE state = 'FAILED') FROM wallet.charges",
            {}, database.url());
    EXPECT_EQ(states.get<std::int64_t>(0, 0), 0);
    EXPECT_EQ(states.get<std::int64_t>(0, 1), approved);
    EXPECT_EQ(states.get<std::int64_t>(0, 2), kCharges - approved);
    const auto money =
        sql("SELECT wallet.balance($1::uuid), (SELECT coalesce(sum(amount), 0)::bigint FROM "
            "wallet.ledger)",
            db::params(user), database.url());
    EXPECT_EQ(money.get<std::int64_t>(0, 0), approved * kAmount);
    EXPECT_EQ(money.get<std::int64_t>(0, 1), approved * kAmount);
    // A second pass finds nothing left: nothing is credited twice.
    EXPECT_EQ(run_here(io, service.recover_pending()), 0);
}

}  // namespace
}  // namespace marquee::test
