// Holds commit asynchronously (issue 15; ADR 0052; migrations/booking/0015) against the real PostgreSQL: the
// holds' last argument sets synchronous_commit for their own transaction only, and the Store passes
// --durable-holds through it. What a crash of PostgreSQL then keeps is the fault recipe `pg-crash`
// (scripts/opslib/faults.py): a hold and the payment answered after it both survive.
#include <functional>
#include <map>
#include <string>

#include "db/session.hpp"
#include "services/booking/test_fixture.hpp"

namespace marquee::booking::testing {
namespace {

/// Runs `done` when the scope ends, however it ends (an ASSERT returns early).
struct ScopeExit {
    std::function<void()> done;
    ~ScopeExit() { done(); }
};

class AsyncHoldDbTest : public BookingDbTest {
  protected:
    /// synchronous_commit as the transaction of `call` sees it after the call, and on the same connection
    /// after that transaction committed.
    std::pair<std::string, std::string> commit_mode_around(const std::string& call, db::Params params) {
        return run([&]() -> asio::awaitable<std::pair<std::string, std::string>> {
            db::Session session = co_await pool_->session();
            co_await session.execute("BEGIN");
            (void)co_await session.query(call, std::move(params));
            const db::Result inside = co_await session.query("SELECT current_setting('synchronous_commit')");
            co_await session.execute("COMMIT");
            const db::Result after = co_await session.query("SELECT current_setting('synchronous_commit')");
            co_return std::pair{inside.get<std::string>(0, 0), after.get<std::string>(0, 0)};
        }());
    }

    std::string server_default() {
        return sql("SELECT current_setting('synchronous_commit')").get<std::string>(0, 0);
    }

    std::int64_t zone_of(std::int64_t seat) {
        return sql("SELECT zone_id FROM catalog.seats WHERE id = $1", db::params(seat))
            .get<std::int64_t>(0, 0);
    }

    NewHold seat_hold(const std::string& user, const TestSchedule& s, std::int64_t seat) {
        NewHold hold;
        hold.user_id = user;
        hold.schedule_id = s.id;
        hold.queue_token_id = new_uuid();
        hold.seat_ids = {seat};
        hold.ttl = std::chrono::minutes(5);
        return hold;
    }
};

constexpr const char* kHold =
    "SELECT * FROM booking.hold($1::uuid, $2, gen_random_uuid(), ARRAY[$3]::bigint[], 300, NULL, $4, "
    "decode('00', 'hex'), $5)";
constexpr const char* kHoldBest =
    "SELECT * FROM booking.hold_best($1::uuid, $2, gen_random_uuid(), $3, 1, 300, NULL, $4, "
    "decode('00', 'hex'), $5)";

// false turns synchronous_commit off for the hold's transaction and for nothing after it; true leaves the
// server's setting. Every hold path: a seat hold without and with an Idempotency-Key, and best available.
TEST_F(AsyncHoldDbTest, TheHoldsLastArgumentSetsTheCommitModeOfTheirTransactionOnly) {
    const std::string server = server_default();
    ASSERT_NE(server, "off") << "the test database must commit synchronously by default";
    const auto s = make_schedule(6);
    const std::optional<std::string> no_key;
    const std::optional<std::string> key{"async-hold-key"};

    EXPECT_EQ(commit_mode_around(kHold, db::params(new_uuid(), s.id, s.seats[0], no_key, false)),
              (std::pair<std::string, std::string>{"off", server}));
    EXPECT_EQ(commit_mode_around(kHold, db::params(new_uuid(), s.id, s.seats[1], key, false)),
              (std::pair<std::string, std::string>{"off", server}));
    EXPECT_EQ(commit_mode_around(kHoldBest, db::params(new_uuid(), s.id, zone_of(s.seats[0]), no_key, false)),
              (std::pair<std::string, std::string>{"off", server}));

    EXPECT_EQ(commit_mode_around(kHold, db::params(new_uuid(), s.id, s.seats[3], no_key, true)),
              (std::pair<std::string, std::string>{server, server}));
    EXPECT_EQ(commit_mode_around(kHold, db::params(new_uuid(), s.id, s.seats[4], key, true)),
              (std::pair<std::string, std::string>{server, server}));
    EXPECT_EQ(commit_mode_around(kHoldBest, db::params(new_uuid(), s.id, zone_of(s.seats[0]), no_key, true)),
              (std::pair<std::string, std::string>{server, server}));

    // Each of them held what it was asked: the wrappers answer as the holds they wrap.
    EXPECT_EQ(sql("SELECT count(*)::bigint FROM booking.reservation_seats WHERE schedule_id = $1 AND state = "
                  "'HELD'",
                  db::params(s.id))
                  .get<std::int64_t>(0, 0),
              6);
}

// A refused hold (the seat is taken) answers the same through the wrapper, in either mode.
TEST_F(AsyncHoldDbTest, ARefusedHoldAnswersAsBefore) {
    const auto s = make_schedule(1);
    const std::optional<std::string> no_key;
    (void)sql(kHold, db::params(new_uuid(), s.id, s.seats[0], no_key, false));
    for (const bool synchronous : {false, true}) {
        const auto r = sql(kHold, db::params(new_uuid(), s.id, s.seats[0], no_key, synchronous));
        ASSERT_EQ(r.rows(), 1);
        EXPECT_EQ(r.get<std::string>(0, "outcome"), "TAKEN");
        EXPECT_EQ(r.get<std::int64_t>(0, "seat_id"), s.seats[0]);
    }
}

// The Store's hold commits with synchronous_commit off unless it was made with durable_holds (marquee
// --durable-holds): a trigger of this test records the setting each reservation of its two fans was
// inserted under, inside the hold's own transaction.
TEST_F(AsyncHoldDbTest, TheStoreCommitsHoldsAsDurableHoldsSays) {
    const std::string server = server_default();
    const auto s = make_schedule(4);
    const std::string fast_fan = new_uuid();
    const std::string durable_fan = new_uuid();
    const std::string suffix = test::unique_name("x").substr(2);
    const std::string table = "public.async_hold_seen_" + suffix;
    const std::string function = "public.async_hold_record_" + suffix;
    const std::string trigger = "async_hold_record_" + suffix;
    (void)sql("CREATE TABLE " + table + " (user_id uuid, mode text)");
    (void)sql("CREATE FUNCTION " + function + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO " +
              table + " VALUES (NEW.user_id, current_setting('synchronous_commit')); RETURN NEW; END $$");
    (void)sql("CREATE TRIGGER " + trigger + " AFTER INSERT ON booking.reservations FOR EACH ROW" +
              " WHEN (NEW.user_id IN ('" + fast_fan + "'::uuid, '" + durable_fan + "'::uuid))" +
              " EXECUTE FUNCTION " + function + "()");
    const ScopeExit cleanup{[&] {
        (void)sql("DROP TRIGGER IF EXISTS " + trigger + " ON booking.reservations");
        (void)sql("DROP FUNCTION IF EXISTS " + function + "()");
        (void)sql("DROP TABLE IF EXISTS " + table);
    }};

    Store fast(*pool_);
    Store durable(*pool_, true);
    ASSERT_TRUE(run(fast.hold(seat_hold(fast_fan, s, s.seats[0]))).reservation.has_value());
    ASSERT_TRUE(run(durable.hold(seat_hold(durable_fan, s, s.seats[1]))).reservation.has_value());
    NewHold best = seat_hold(fast_fan, s, 0);
    best.seat_ids.clear();
    best.zone_id = zone_of(s.seats[0]);
    best.count = 1;
    (void)run(fast.hold_best(best));
    best.user_id = durable_fan;
    (void)run(durable.hold_best(best));

    const auto seen =
        sql("SELECT user_id::text, string_agg(mode, ',' ORDER BY mode) FROM " + table + " GROUP BY user_id");
    std::map<std::string, std::string> modes;
    for (int i = 0; i < seen.rows(); ++i) modes[seen.get<std::string>(i, 0)] = seen.get<std::string>(i, 1);
    EXPECT_EQ(modes[fast_fan], "off,off");
    EXPECT_EQ(modes[durable_fan], server + "," + server);
}

}  // namespace
}  // namespace marquee::booking::testing
