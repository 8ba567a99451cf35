// Fewer index entries per purchase (issue 15; ADR 0044; migrations/booking/0013, payment/0007) against the
// real PostgreSQL: the indexes left still refuse what the dropped ones' constraints refused, and every query
// the dropped indexes served still reads an index.
#include <string>

#include "db/migrations.hpp"
#include "db/session.hpp"
#include "db/sql_error.hpp"
#include "services/booking/test_fixture.hpp"

namespace marquee::booking::testing {
namespace {

class FewerWritesDbTest : public BookingDbTest {
  protected:
    void SetUp() override {
        BookingDbTest::SetUp();
        // The purchase's other tables (payment/0007, wallet/0006).
        std::vector<std::string> services{"wallet", "payment"};
        run(db::migrate(*pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
    }

    /// The SQLSTATE and constraint of the error a statement raised; empty when it succeeded.
    std::pair<std::string, std::string> refusal(const std::string& statement, db::Params params = {}) {
        try {
            (void)sql(statement, std::move(params));
        } catch (const db::SqlError& e) {
            return {e.sqlstate(), e.constraint()};
        }
        return {};
    }

    /// EXPLAIN of a statement with sequential scans priced out, as one text: which index it can read.
    std::string plan_of(const std::string& statement, db::Params params = {}) {
        return run([&]() -> asio::awaitable<std::string> {
            db::Session session = co_await pool_->session();
            co_await session.execute("SET enable_seqscan = off");
            const db::Result r = co_await session.query("EXPLAIN " + statement, std::move(params));
            co_await session.execute("RESET enable_seqscan");
            std::string text;
            for (int i = 0; i < r.rows(); ++i) text += r.get<std::string>(i, 0) + "\n";
            co_return text;
        }());
    }

    std::string insert_reservation(const std::string& user, std::int64_t schedule, const char* key) {
        return sql("INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, "
                   "total_price, expires_at, idempotency_key) VALUES ($1::uuid, $2, gen_random_uuid(), 1, 1, "
                   "now() + interval '5 minutes', $3) RETURNING id::text",
                   db::params(
                       user, schedule,
                       key == nullptr ? std::optional<std::string>{} : std::optional<std::string>{key}))
            .get<std::string>(0, 0);
    }
};

// booking/0013 moved reservation_seats' composite foreign key onto UNIQUE (schedule_id, id): a seat row still
// cannot name a schedule other than its reservation's (or a reservation that does not exist).
TEST_F(FewerWritesDbTest, ASeatRowStillBelongsToItsReservationsSchedule) {
    const auto s = make_schedule(2);
    const auto other = make_schedule(1);
    const auto r = hold(new_uuid(), s, {s.seats[0]});
    const std::string insert =
        "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price) "
        "SELECT $1::uuid, $2, $3, zone_id, 1 FROM catalog.seats WHERE id = $2";
    EXPECT_EQ(
        refusal(insert, db::params(r.id, other.seats[0], other.id)),
        (std::pair<std::string, std::string>{"23503", "reservation_seats_reservation_id_schedule_id_fkey"}));
    EXPECT_EQ(refusal(insert, db::params(new_uuid(), s.seats[1], s.id)).first, "23503");
    EXPECT_EQ(sql("SELECT count(*)::bigint FROM booking.reservation_seats WHERE reservation_id = $1::uuid",
                  db::params(r.id))
                  .get<std::int64_t>(0, 0),
              1);
}

// The Idempotency-Key's unique index covers every reservation now (it also serves the fan's list): one key is
// still one reservation per fan, under the index name the service reads from the unique_violation, and holds
// without a key (NULL) never conflict with each other.
TEST_F(FewerWritesDbTest, AKeyIsStillOneReservationPerFanAndHoldsWithoutAKeyNeverConflict) {
    const auto s = make_schedule(1);
    const auto fan = new_uuid();
    (void)insert_reservation(fan, s.id, "key-1");
    EXPECT_EQ(
        refusal("INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, "
                "total_price, expires_at, idempotency_key) VALUES ($1::uuid, $2, gen_random_uuid(), 1, 1, "
                "now() + interval '5 minutes', 'key-1')",
                db::params(fan, s.id)),
        (std::pair<std::string, std::string>{"23505", "reservations_user_idempotency_key"}));
    (void)insert_reservation(new_uuid(), s.id, "key-1");  // another fan's key-1
    (void)insert_reservation(fan, s.id, nullptr);
    (void)insert_reservation(fan, s.id, nullptr);
    EXPECT_EQ(
        sql("SELECT count(*)::bigint FROM booking.reservations WHERE user_id = $1::uuid", db::params(fan))
            .get<std::int64_t>(0, 0),
        3);
}

// The fan's list (GET /reservations) lost reservations_user_idx: it reads the fan's rows through the key's
// index, with or without a key, newest first.
TEST_F(FewerWritesDbTest, AFansListReadsAnIndexAndShowsHoldsWithAndWithoutAKeyNewestFirst) {
    const auto s = make_schedule(3);
    const auto fan = new_uuid();
    const auto keyed = hold(fan, s, {s.seats[0]});
    const auto unkeyed = sql("SELECT reservation_id::text FROM booking.hold($1::uuid, $2, gen_random_uuid(), "
                             "ARRAY[$3]::bigint[], 300, NULL)",
                             db::params(fan, s.id, s.seats[1]))
                             .get<std::string>(0, 0);
    sql("UPDATE booking.reservations SET created_at = created_at - interval '1 minute' WHERE id = $1::uuid",
        db::params(keyed.id));
    const auto list = run(store_->list(fan, 10));
    ASSERT_EQ(list.size(), 2U);
    EXPECT_EQ(list[0].id, unkeyed);
    EXPECT_EQ(list[1].id, keyed.id);
    const auto plan = plan_of(
        "SELECT id FROM booking.reservations r WHERE r.user_id = $1::uuid "
        "ORDER BY r.created_at DESC, r.id LIMIT 10",
        db::params(fan));
    EXPECT_NE(plan.find("reservations_user_idempotency_key"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
}

// booking.sale_counts (the operator's figures) lost reservations_schedule_idx: it reads UNIQUE (schedule_id,
// id).
TEST_F(FewerWritesDbTest, TheSaleFiguresReadTheScheduleIndex) {
    const auto s = make_schedule(2);
    (void)hold(new_uuid(), s, {s.seats[0]});
    (void)hold(new_uuid(), s, {s.seats[1]});
    const auto counts = sql("SELECT fans_held FROM booking.sale_counts($1)", db::params(s.id));
    EXPECT_EQ(counts.get<std::int64_t>(0, 0), 2);
    const auto plan =
        plan_of("SELECT count(*) FROM booking.reservations r WHERE r.schedule_id = $1", db::params(s.id));
    EXPECT_NE(plan.find("reservations_schedule_id_id_key"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
}

// wallet/0006: the wallet's recent ledger rows (Store::view) can be read in order from the primary key
// (wallet_id, id), backwards, with no sort, now that ledger_wallet_recent_idx is gone. (With a wallet's few
// rows the planner may prefer a bitmap scan and a sort; sorts and bitmap scans priced out, the ordered scan
// must exist.)
TEST_F(FewerWritesDbTest, AWalletsRecentRowsReadThePrimaryKeyBackwards) {
    const auto wallet = new_uuid();
    const auto plan = run([&]() -> asio::awaitable<std::string> {
        db::Session session = co_await pool_->session();
        co_await session.execute(
            "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off");
        const db::Result r = co_await session.query(
            "EXPLAIN SELECT id, kind, amount FROM wallet.ledger WHERE wallet_id = $1::uuid ORDER BY id DESC "
            "LIMIT 20",
            db::params(wallet));
        co_await session.execute("RESET enable_seqscan; RESET enable_bitmapscan; RESET enable_sort");
        std::string text;
        for (int i = 0; i < r.rows(); ++i) text += r.get<std::string>(i, 0) + "\n";
        co_return text;
    }());
    EXPECT_NE(plan.find("Index Scan Backward using ledger_pkey"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
}

// The relay (src/outbox/relay.cpp) reads and marks an outbox's rows through outbox_unpublished_idx, the one
// index left on the outbox (booking/0013, payment/0007).
TEST_F(FewerWritesDbTest, TheRelayReadsAndMarksThroughThePartialIndex) {
    for (const std::string table : {"booking.outbox", "payment.outbox"}) {
        const auto read = plan_of("SELECT id, event_id::text, event_type, payload::text, traceparent FROM " +
                                  table + " WHERE published_at IS NULL ORDER BY id LIMIT 100");
        EXPECT_NE(read.find("outbox_unpublished_idx"), std::string::npos) << read;
        EXPECT_EQ(read.find("Seq Scan"), std::string::npos) << read;
        const auto mark =
            plan_of("UPDATE " + table +
                    " SET published_at = now() WHERE id = ANY('{1,2,3}'::bigint[]) AND published_at "
                    "IS NULL");
        EXPECT_NE(mark.find("outbox_unpublished_idx"), std::string::npos) << mark;
        EXPECT_EQ(mark.find("Seq Scan"), std::string::npos) << mark;
    }
}

// What a purchase's tables index after booking/0013 and payment/0007: the indexes each query of the purchase,
// its recovery and its pages reads, and no other. A new index here costs every purchase an entry (two when
// the row's state changes): ADR 0044 counts them.
TEST_F(FewerWritesDbTest, ThePurchaseTablesKeepOnlyTheIndexesTheirQueriesRead) {
    const auto indexes = [&](const std::string& table) {
        const auto r =
            sql("SELECT string_agg(indexrelid::regclass::text, ' ' ORDER BY indexrelid::regclass::text) "
                "FROM pg_index WHERE indrelid = $1::regclass",
                db::params(table));
        return r.get<std::string>(0, 0);
    };
    EXPECT_EQ(indexes("booking.reservations"),
              "booking.reservations_due_idx booking.reservations_fan_live_idx booking.reservations_pkey "
              "booking.reservations_schedule_id_id_key booking.reservations_user_idempotency_key");
    EXPECT_EQ(indexes("booking.outbox"), "booking.outbox_unpublished_idx");
    EXPECT_EQ(indexes("payment.outbox"), "payment.outbox_unpublished_idx");
    EXPECT_EQ(indexes("wallet.ledger"), "wallet.ledger_pkey wallet.ledger_wallet_idempotency_key");
    EXPECT_EQ(indexes("payment.payments"),
              "payment.payments_one_live_per_reservation payment.payments_pending_idx payment.payments_pkey "
              "payment.payments_to_cancel_idx payment.payments_user_idempotency_key");
}

}  // namespace
}  // namespace marquee::booking::testing
