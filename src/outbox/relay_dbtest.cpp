// The relay against the real PostgreSQL and NATS JetStream, on an outbox table and a stream of its own
// (`<unique>.outbox` shaped like booking.outbox, subjects `<unique>.>`), so it runs beside any other test.
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "coroutines.hpp"
#include "db/pool.hpp"
#include "local_services.hpp"
#include "mq/nats.hpp"
#include "outbox/relay.hpp"

namespace marquee::outbox {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

struct Row {
    std::string event_id;
    std::string event_type;
    std::string payload;
};

class RelayDbTest : public ::testing::Test {
  protected:
    void SetUp() override {
        name_ = test::unique_name("relay");
        table_ = name_ + ".outbox";
        run(db_.query("CREATE SCHEMA " + name_ + "; "));
        run(db_.query("CREATE TABLE " + table_ + " (LIKE booking.outbox INCLUDING ALL)"));
    }

    void TearDown() override {
        run(db_.query("DROP SCHEMA " + name_ + " CASCADE"));
        run(nats_.delete_stream(stream()));
    }

    template <typename T>
    T run(asio::awaitable<T> task) {
        return test::run_here(io_, std::move(task));
    }

    std::string stream() const { return "S" + name_; }

    RelayOptions options(std::size_t batch_size = 100) const {
        RelayOptions options;
        options.table = table_;
        options.subject_prefix = name_;
        options.stream = stream();
        options.batch_size = batch_size;
        options.idle_period = 20ms;
        options.retry_period = 50ms;
        return options;
    }

    /// Inserts one outbox row per event type, in order; the second carries a traceparent.
    std::vector<Row> insert(const std::vector<std::string>& types) {
        std::vector<Row> rows;
        for (std::size_t i = 0; i < types.size(); ++i) {
            const std::string payload = R"({"scheduleId": 7, "seatIndexes": [)" + std::to_string(i) + "]}";
            const db::Result r =
                run(db_.query("INSERT INTO " + table_ +
                                  " (event_type, aggregate_id, payload, traceparent) VALUES ($1, "
                                  "gen_random_uuid(), $2::jsonb, "
                                  "$3) RETURNING event_id::text AS event_id, payload::text AS payload",
                              db::params(types[i], payload,
                                         i == 1 ? std::optional<std::string>(kTraceparent) : std::nullopt)));
            rows.push_back(
                Row{r.get<std::string>(0, "event_id"), types[i], r.get<std::string>(0, "payload")});
        }
        return rows;
    }

    std::int64_t unpublished() {
        const std::string sql = "SELECT count(*)::bigint AS n FROM " + table_ + " WHERE published_at IS NULL";
        return run(db_.query(sql)).get<std::int64_t>(0, "n");
    }

    /// Every message on the test stream, in stream order, fetched with a test consumer.
    std::vector<mq::Message> stream_messages(std::size_t expected) {
        mq::ConsumerSpec spec(stream(), "relay-test", "");
        mq::Consumer consumer = run(nats_.pull_consumer(spec));
        std::vector<mq::Message> messages;
        for (int tries = 0; tries < 10 && messages.size() < expected; ++tries) {
            std::vector<mq::Message> more = run(consumer.fetch(expected, 2s));
            messages.insert(messages.end(), more.begin(), more.end());
        }
        // Anything beyond `expected` (a row published twice) shows up here.
        std::vector<mq::Message> extra = run(consumer.fetch(10, 300ms));
        messages.insert(messages.end(), extra.begin(), extra.end());
        return messages;
    }

    void expect_in_order(const std::vector<mq::Message>& messages, const std::vector<Row>& rows) {
        ASSERT_EQ(messages.size(), rows.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            EXPECT_EQ(messages[i].subject(), name_ + "." + rows[i].event_type) << i;
            EXPECT_EQ(messages[i].header("Nats-Msg-Id"), rows[i].event_id) << i;
            EXPECT_EQ(json::parse(messages[i].data()), json::parse(rows[i].payload)) << i;
        }
    }

    double metric(const std::string& name) {
        const std::string rendered = metrics_.render();
        const std::string line = name + "{outbox=\"" + table_ + "\"} ";
        const auto at = rendered.find(line);
        if (at == std::string::npos) return -1;
        return std::stod(rendered.substr(at + line.size()));
    }

    asio::io_context io_;
    db::Pool db_{io_.get_executor(), db::PoolOptions{test::database_url(), 3, 10s, "outbox-relay-test"}};
    mq::Nats nats_{mq::NatsOptions{test::nats_url()}};
    core::MetricsRegistry metrics_;
    std::string name_;
    std::string table_;
};

TEST_F(RelayDbTest, PublishesEachRowOnceInIdOrderWithEventIdAsMsgId) {
    const std::vector<Row> rows = insert({"reservation.held", "reservation.expired", "reservation.held"});
    Relay relay(db_, nats_, metrics_, options(2));
    run(relay.ensure_stream());
    EXPECT_EQ(run(relay.publish_pending()), 2u);  // one batch
    EXPECT_EQ(unpublished(), 1);
    EXPECT_EQ(metric("outbox_unpublished"), 1);
    EXPECT_EQ(run(relay.publish_pending()), 1u);
    EXPECT_EQ(run(relay.publish_pending()), 0u);
    EXPECT_EQ(unpublished(), 0);
    EXPECT_EQ(metric("outbox_published_total"), 3);
    EXPECT_EQ(metric("outbox_unpublished"), 0);
    EXPECT_EQ(metric("outbox_lag_seconds"), 0);

    const std::vector<mq::Message> messages = stream_messages(rows.size());
    expect_in_order(messages, rows);
    ASSERT_EQ(messages.size(), 3u);
    EXPECT_EQ(messages[0].header("traceparent"), std::nullopt);
    EXPECT_EQ(messages[1].header("traceparent"), kTraceparent);
}

TEST_F(RelayDbTest, PublishesNothingWhileAnotherRelayHoldsTheTablesLock) {
    const std::vector<Row> rows = insert({"reservation.held", "reservation.cancelled"});
    Relay relay(db_, nats_, metrics_, options());
    run(relay.ensure_stream());
    const auto while_locked = [&]() -> asio::awaitable<std::size_t> {
        // What another replica's relay holds during its pass.
        db::Session other = co_await db_.session();
        co_await other.execute("BEGIN");
        co_await other.query("SELECT pg_advisory_xact_lock($1::bigint)", db::params(lock_key(table_)));
        const std::size_t published = co_await relay.publish_pending();
        co_await other.execute("COMMIT");
        co_return published;
    };
    EXPECT_EQ(run(while_locked()), 0u);
    EXPECT_EQ(unpublished(), 2);
    EXPECT_EQ(metric("outbox_unpublished"), 2);  // a relay without the lock still reports the backlog
    EXPECT_GE(metric("outbox_lag_seconds"), 0);

    EXPECT_EQ(run(relay.publish_pending()), 2u);
    expect_in_order(stream_messages(rows.size()), rows);
}

TEST_F(RelayDbTest, RowsStayUnpublishedWhileNatsIsDownThenAWorkingRelayDrainsThem) {
    const std::vector<Row> rows =
        insert({"reservation.held", "reservation.confirmed", "reservation.expired"});
    mq::Nats down(mq::NatsOptions{"nats://127.0.0.1:" + std::to_string(test::closed_port()), 300ms});
    Relay broken(db_, down, metrics_, options());
    try {
        run(broken.ensure_stream());
        ADD_FAILURE() << "ensure_stream without NATS";
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 503);
    }
    try {
        run(broken.publish_pending());
        ADD_FAILURE() << "publish_pending without NATS";
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 503);
    }
    EXPECT_EQ(unpublished(), 3);
    EXPECT_EQ(metric("outbox_published_total"), 0);

    Relay working(db_, nats_, metrics_, options());
    run(working.ensure_stream());
    EXPECT_EQ(run(working.publish_pending()), 3u);
    EXPECT_EQ(unpublished(), 0);
    expect_in_order(stream_messages(rows.size()), rows);
}

TEST_F(RelayDbTest, RunLoopPublishesRowsAsTheyArriveAndEndsWhenItsHandleIsDropped) {
    const std::vector<Row> first = insert({"reservation.held"});
    Relay setup(db_, nats_, metrics_, options());
    run(setup.ensure_stream());  // the loop ensures it too; the test's consumer binds before it may have
    const auto scenario = [&]() -> asio::awaitable<std::size_t> {
        std::shared_ptr<void> handle =
            start_relay(co_await asio::this_coro::executor, db_, nats_, metrics_, options());
        co_await db_.query("INSERT INTO " + table_ +
                           " (event_type, aggregate_id, payload) VALUES ('reservation.cancelled', "
                           "gen_random_uuid(), '{}'::jsonb)");
        mq::ConsumerSpec spec(stream(), "relay-run-test", "");
        mq::Consumer consumer = co_await nats_.pull_consumer(spec);
        std::size_t received = 0;
        for (int tries = 0; tries < 10 && received < 2; ++tries) {
            std::vector<mq::Message> messages = co_await consumer.fetch(10, 2s);
            for (mq::Message& message : messages) {
                co_await message.ack();
            }
            received += messages.size();
        }
        handle.reset();  // the loop ends at its next wake-up; run_here returns only then
        co_return received;
    };
    EXPECT_EQ(run(scenario()), 2u);
    EXPECT_EQ(unpublished(), 0);
    EXPECT_FALSE(first.empty());
}

TEST_F(RelayDbTest, RunLoopRecreatesALostStreamAndLosesNoRow) {
    insert({"reservation.held"});
    const auto scenario = [&]() -> asio::awaitable<std::int64_t> {
        const auto executor = co_await asio::this_coro::executor;
        std::shared_ptr<void> handle = start_relay(executor, db_, nats_, metrics_, options());
        const std::string count_sql =
            "SELECT count(*)::bigint AS n FROM " + table_ + " WHERE published_at IS NULL";
        asio::steady_timer pace(executor);
        const auto drained = [&]() -> asio::awaitable<bool> {
            for (const auto deadline = std::chrono::steady_clock::now() + 10s;
                 std::chrono::steady_clock::now() < deadline;) {
                if ((co_await db_.query(count_sql)).get<std::int64_t>(0, "n") == 0) co_return true;
                pace.expires_after(20ms);  // polling pace; the deadline decides
                co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            co_return false;
        };
        EXPECT_TRUE(co_await drained());
        co_await nats_.delete_stream(stream());  // NATS lost the stream: publishes now fail
        co_await db_.query("INSERT INTO " + table_ +
                           " (event_type, aggregate_id, payload) VALUES ('reservation.expired', "
                           "gen_random_uuid(), '{}'::jsonb)");
        EXPECT_TRUE(co_await drained());
        handle.reset();
        co_return (co_await db_.query(count_sql)).get<std::int64_t>(0, "n");
    };
    EXPECT_EQ(run(scenario()), 0);
    // The recreated stream holds the row written after the loss, once.
    const std::vector<mq::Message> messages = stream_messages(1);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].subject(), name_ + ".reservation.expired");
}

TEST_F(RelayDbTest, RefusesATableThatIsNotSchemaDotOutbox) {
    RelayOptions bad = options();
    bad.table = "booking.reservations";
    EXPECT_THROW(Relay(db_, nats_, metrics_, bad), std::invalid_argument);
    bad.table = table_ + "; DROP TABLE booking.outbox";
    EXPECT_THROW(Relay(db_, nats_, metrics_, bad), std::invalid_argument);
    RelayOptions empty_batch = options(0);
    EXPECT_THROW(Relay(db_, nats_, metrics_, empty_batch), std::invalid_argument);
}

}  // namespace
}  // namespace marquee::outbox
