// A NATS node lost while the outbox relays (issue 16, docs/decisions/0021-postgres-failover.md): the relay
// and an idempotent consumer on the cluster's three nodes (MARQUEE_NATS_URL lists them), a stream of the
// test's own at 3 replicas, and the node the client is connected to killed with kill -9 mid-stream, then
// restored.
// Checks: every outbox row is published (at least once) and applied exactly once by the consumer, which
// records each event id under a primary key, as Marquee's consumers do.
//
// Brings `scripts/cluster up --only postgres --only nats` itself (stopped after if they were down). ctest
// label `cluster`, skipped in CI unless MARQUEE_CI_EXTRA names `cluster` (see pg_failover_clustertest.cpp).
#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "cluster_env.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "coroutines.hpp"
#include "db/pool.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"
#include "mq/nats.hpp"
#include "outbox/relay.hpp"

namespace marquee::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kBatches = 40;
constexpr int kBatchRows = 20;

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

TEST(NatsClusterTest, EveryOutboxEventIsDeliveredAndAppliedOnceWhileANodeIsKilledAndRestored) {
    if (skipped_in_ci()) GTEST_SKIP() << "not in CI unless MARQUEE_CI_EXTRA names cluster";
    const ClusterComponents cluster({"postgres", "nats"}, {"MARQUEE_DATABASE_URL", "MARQUEE_NATS_URL"});
    use_cluster_settings({"MARQUEE_DATABASE_URL", "MARQUEE_NATS_URL"});
    ::setenv("MARQUEE_PAYMENT_GATEWAY_URL", "http://127.0.0.1:1", 0);  // --migrate-only calls no gateway
    const auto [migrated, output] = run_marquee({"--migrate-only"}, 120s);
    ASSERT_EQ(migrated, 0) << output;

    const std::string name = unique_name("natsha");
    const std::string table = name + ".outbox";
    sql("CREATE SCHEMA " + name);
    sql("CREATE TABLE " + table + " (LIKE booking.outbox INCLUDING ALL)");
    sql("CREATE TABLE " + name + ".applied (event_id uuid PRIMARY KEY)");

    asio::io_context io;
    db::Pool db(io.get_executor(), db::PoolOptions{database_url(), 4, 10s, "nats-cluster-test"});
    const std::string client = name + "-client";
    mq::Nats nats(mq::NatsOptions{nats_url(), 2000ms, client});
    core::MetricsRegistry metrics;
    outbox::RelayOptions options;
    options.table = table;
    options.subject_prefix = name;
    options.stream = "S" + name;
    options.stream_replicas = 3;
    options.idle_period = 20ms;
    options.retry_period = 200ms;
    outbox::Relay relay(db, nats, metrics, options);
    run_here(io, relay.ensure_stream());
    // The node this client is connected to dies: its publishes and acks in flight are lost with it, and
    // libnats must move to another node. Whether it also leads the stream is reported.
    const std::string victim = cluster_script("nats_cluster.py", "connection-node " + client);
    const std::string leader_before = cluster_script("nats_cluster.py", "stream-leader " + options.stream);

    std::atomic<bool> consuming{true};
    std::atomic<std::int64_t> delivered{0}, duplicates{0}, consume_errors{0};
    const std::string apply =
        "INSERT INTO " + name +
        ".applied (event_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING RETURNING event_id";
    const auto consume = [&]() -> asio::awaitable<void> {
        mq::ConsumerSpec spec(options.stream, "cluster-test", "");
        spec.ack_wait = 5s;
        std::optional<mq::Consumer> consumer;
        while (consuming) {
            bool failed = false;
            try {
                if (!consumer) {
                    consumer = co_await nats.pull_consumer(spec);
                }
                std::vector<mq::Message> messages = co_await consumer->fetch(50, 500ms);
                for (mq::Message& message : messages) {
                    ++delivered;
                    const std::string id = message.header("Nats-Msg-Id").value_or("");
                    db::Params params = db::params(id);
                    const db::Result applied = co_await db.query(apply, std::move(params));
                    if (applied.rows() == 0) ++duplicates;  // delivered again: applied once all the same
                    co_await message.ack();
                }
            } catch (const core::Problem&) {
                ++consume_errors;  // the node we were on died: libnats moves to another, the durable stays
                failed = true;
            }
            if (failed) {
                co_await pause(200ms);  // co_await is not allowed inside a handler
            }
        }
    };
    asio::co_spawn(io, relay.run(), asio::detached);
    asio::co_spawn(io, consume(), asio::detached);
    io.restart();  // run_here ran it out of work above
    std::thread loop([&io] { io.run(); });

    std::string killed_report, restored_report;
    for (int batch = 0; batch < kBatches; ++batch) {
        sql("INSERT INTO " + table + " (event_type, aggregate_id, payload) SELECT 'reservation.held', " +
            "gen_random_uuid(), jsonb_build_object('i', g) FROM generate_series(1, " +
            std::to_string(kBatchRows) + ") g");
        std::this_thread::sleep_for(50ms);
        if (batch == kBatches / 4) killed_report = cluster_script("nats_cluster.py", "kill " + victim);
        if (batch == kBatches / 2) {
            std::this_thread::sleep_for(2s);  // events keep flowing on two nodes
            restored_report = cluster_script("nats_cluster.py", "restore " + victim);
        }
    }
    const std::int64_t total = std::int64_t{kBatches} * kBatchRows;
    const auto count = [&](const std::string& query) { return sql(query).get<std::int64_t>(0, 0); };
    const auto deadline = Clock::now() + 120s;
    while (Clock::now() < deadline &&
           (count("SELECT count(*)::bigint FROM " + table + " WHERE published_at IS NULL") > 0 ||
            count("SELECT count(*)::bigint FROM " + name + ".applied") < total)) {
        std::this_thread::sleep_for(200ms);
    }
    relay.stop();
    consuming = false;
    loop.join();

    std::cout << "[ nats ] the client's node " << victim
              << (victim == leader_before ? " (the stream leader)" : "") << "; killed " << killed_report
              << "; restored " << restored_report << "; " << delivered << " deliveries for " << total
              << " events, " << duplicates << " duplicates, " << consume_errors << " consumer errors\n";
    EXPECT_FALSE(victim.empty()) << "the client's node was not found";
    EXPECT_EQ(count("SELECT count(*)::bigint FROM " + table + " WHERE published_at IS NULL"), 0);
    EXPECT_EQ(count("SELECT count(*)::bigint FROM " + table), total);
    EXPECT_EQ(count("SELECT count(*)::bigint FROM " + name + ".applied"), total);
    EXPECT_EQ(count("SELECT count(*)::bigint FROM " + table + " o WHERE NOT EXISTS (SELECT 1 FROM " + name +
                    ".applied a WHERE a.event_id = o.event_id)"),
              0)
        << "events never applied";
    EXPECT_GE(delivered.load(), total);

    run_here(io, nats.delete_stream(options.stream));
    sql("DROP SCHEMA " + name + " CASCADE");
}

}  // namespace
}  // namespace marquee::test
