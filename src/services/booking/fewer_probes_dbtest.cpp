// Fewer probes per purchase (issue 15; ADR 0047; migrations/booking/0014, wallet/0007) against the real
// PostgreSQL: the triggers that replaced three foreign keys still refuse every row the foreign keys refused
// (a charge, a ledger row or a seat row naming a wallet or reservation that does not exist, and the deletion
// or re-keying of a referenced row), while the purchase's own functions, which have just read, made or
// updated the referenced row, skip the check; and a confirm in one statement writes the event it wrote
// before.
#include <string>
#include <utility>
#include <vector>

#include "db/migrations.hpp"
#include "db/session.hpp"
#include "db/sql_error.hpp"
#include "services/booking/test_fixture.hpp"

namespace marquee::booking::testing {
namespace {

using Refusal = std::pair<std::string, std::string>;  // SQLSTATE, constraint; empty when it succeeded

class FewerProbesDbTest : public BookingDbTest {
  protected:
    void SetUp() override {
        BookingDbTest::SetUp();
        std::vector<std::string> services{"wallet", "payment"};
        run(db::migrate(*pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
    }

    /// Runs `statements` in order in one transaction that is always rolled back; the refusal of the first
    /// that failed. (Rolled back so that a refusal that did not happen changes nothing other tests read.)
    Refusal refusal_in_a_rolled_back_transaction(const std::vector<std::string>& statements) {
        return run([&]() -> asio::awaitable<Refusal> {
            db::Session session = co_await pool_->session();
            co_await session.execute("BEGIN");
            Refusal refused;
            for (const auto& statement : statements) {
                bool failed = false;
                try {
                    (void)co_await session.query(statement);
                } catch (const db::SqlError& e) {
                    refused = {e.sqlstate(), e.constraint()};
                    failed = true;
                }
                if (failed) break;
            }
            co_await session.execute("ROLLBACK");
            co_return refused;
        }());
    }

    std::string new_wallet() {
        return sql("SELECT wallet.ensure($1::uuid)::text", db::params(new_uuid())).get<std::string>(0, 0);
    }

    static std::string ledger_insert(const std::string& wallet) {
        return "INSERT INTO wallet.ledger (wallet_id, kind, amount, balance_after, idempotency_key, "
               "reference_id) VALUES ('" +
               wallet + "', 'CHARGE', 1, 1, 'k-' || gen_random_uuid(), gen_random_uuid())";
    }
    static std::string charge_insert(const std::string& wallet) {
        return "INSERT INTO wallet.charges (id, wallet_id, user_id, idempotency_key, request_hash, amount) "
               "VALUES (gen_random_uuid(), '" +
               wallet + "', gen_random_uuid(), 'k', '\\x00', 1)";
    }
};

// wallet/0007: a ledger row or a charge naming no wallet is refused as the foreign key refused it (23503, the
// foreign key's name), also when the transaction has seen another wallet, and a charge cannot be moved onto
// one; rows naming an existing wallet are written whether or not the transaction has seen it.
TEST_F(FewerProbesDbTest, AChargeOrLedgerRowNamingNoWalletIsStillRefused) {
    const auto known = new_wallet();
    const auto unknown = new_uuid();
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({ledger_insert(unknown)}),
              (Refusal{"23503", "ledger_wallet_id_fkey"}));
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({charge_insert(unknown)}),
              (Refusal{"23503", "charges_wallet_id_fkey"}));
    const std::string seen_known = "SELECT set_config('marquee.wallet_seen', '" + known + "', true)";
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({seen_known, ledger_insert(unknown)}),
              (Refusal{"23503", "ledger_wallet_id_fkey"}));
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({seen_known, charge_insert(unknown)}),
              (Refusal{"23503", "charges_wallet_id_fkey"}));
    EXPECT_EQ(refusal_in_a_rolled_back_transaction(
                  {charge_insert(known), "UPDATE wallet.charges SET wallet_id = '" + unknown +
                                             "' WHERE wallet_id = '" + known + "'"}),
              (Refusal{"23503", "charges_wallet_id_fkey"}));
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({ledger_insert(known), charge_insert(known)}), Refusal{});
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({seen_known, ledger_insert(known), charge_insert(known)}),
              Refusal{});
}

// wallet/0007: what the foreign keys refused on the wallets' side (deleting a wallet with rows, changing its
// id), the triggers refuse for every wallet, and TRUNCATE too; other updates of a wallet are unchanged.
TEST_F(FewerProbesDbTest, AWalletIsNeverDeletedTruncatedOrGivenAnotherId) {
    const auto wallet = new_wallet();
    const std::string restrict_violation = "23001";
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({"DELETE FROM wallet.wallets WHERE id = '" + wallet + "'"})
                  .first,
              restrict_violation);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({"TRUNCATE wallet.wallets CASCADE"}).first,
              restrict_violation);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction(
                  {"UPDATE wallet.wallets SET id = gen_random_uuid() WHERE id = '" + wallet + "'"})
                  .first,
              restrict_violation);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction(
                  {"UPDATE wallet.wallets SET id = id, balance = balance + 1 WHERE id = '" + wallet + "'"}),
              Refusal{});
}

// booking/0014: a seat row naming no reservation, or its reservation with another schedule, is refused as the
// composite foreign key refused it, also right after a hold in the same transaction recorded its own
// reservation; and a reservation is never deleted, truncated, or given another id or schedule.
TEST_F(FewerProbesDbTest, ASeatRowStillNeedsItsReservationAndScheduleAndAReservationStays) {
    const auto s = make_schedule(3);
    const auto other = make_schedule(1);
    const auto held = hold(new_uuid(), s, {s.seats[0]});
    const auto seat = [&](const std::string& reservation, std::int64_t seat_id, std::int64_t schedule) {
        return "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price) "
               "SELECT '" +
               reservation + "', id, " + std::to_string(schedule) +
               ", zone_id, 1 FROM catalog.seats WHERE id = " + std::to_string(seat_id);
    };
    const Refusal fkey{"23503", "reservation_seats_reservation_id_schedule_id_fkey"};
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({seat(new_uuid(), s.seats[1], s.id)}), fkey);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({seat(held.id, other.seats[0], other.id)}), fkey);
    const std::string a_hold = "SELECT * FROM booking.hold(gen_random_uuid(), " + std::to_string(s.id) +
                               ", gen_random_uuid(), ARRAY[" + std::to_string(s.seats[2]) +
                               "]::bigint[], 300, NULL, 'key', '\\x00')";
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({a_hold, seat(held.id, other.seats[0], other.id)}), fkey);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({a_hold, seat(new_uuid(), s.seats[1], s.id)}), fkey);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({seat(held.id, s.seats[1], s.id)}), Refusal{});

    const std::string restrict_violation = "23001";
    EXPECT_EQ(refusal_in_a_rolled_back_transaction(
                  {"DELETE FROM booking.reservations WHERE id = '" + held.id + "'"})
                  .first,
              restrict_violation);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction({"TRUNCATE booking.reservations CASCADE"}).first,
              restrict_violation);
    EXPECT_EQ(
        refusal_in_a_rolled_back_transaction({"UPDATE booking.reservations SET schedule_id = " +
                                              std::to_string(other.id) + " WHERE id = '" + held.id + "'"})
            .first,
        restrict_violation);
    EXPECT_EQ(refusal_in_a_rolled_back_transaction(
                  {"UPDATE booking.reservations SET id = gen_random_uuid() WHERE id = '" + held.id + "'"})
                  .first,
              restrict_violation);
}

// The purchase's own statements (booking.hold, wallet.begin_charge on a first use, wallet.settle_charge,
// payment.pay) write their seat row, charge and two ledger rows without running the replaced checks: the
// trigger functions are called no time in that transaction (counted by PostgreSQL's function statistics),
// and once for each row written after the recorded ids were cleared.
TEST_F(FewerProbesDbTest, APurchasesOwnRowsAreNotProbedAgain) {
    const auto s = make_schedule(2, 1000);
    const auto counts = run([&]() -> asio::awaitable<std::vector<std::int64_t>> {
        db::Session session = co_await pool_->session();
        co_await session.execute("BEGIN; SET LOCAL track_functions = 'pl'");
        const auto fan = (co_await session.query("SELECT gen_random_uuid()::text")).get<std::string>(0, 0);
        const auto hold = co_await session.query(
            "SELECT reservation_id::text FROM booking.hold($1::uuid, $2, gen_random_uuid(), "
            "ARRAY[$3]::bigint[], "
            "300, NULL, 'hold-key', '\\x00')",
            db::params(fan, s.id, s.seats[0]));
        const auto reservation = hold.get<std::string>(0, 0);
        const auto charge = (co_await session.query("SELECT (o.charge).id::text FROM wallet.begin_charge("
                                                    "$1::uuid, 'top-up', '\\x00', 1000) o",
                                                    db::params(fan)))
                                .get<std::string>(0, 0);
        (void)co_await session.query(
            "SELECT o.outcome FROM wallet.settle_charge($1::uuid, 'APPROVED', 'pg-tx', NULL) o",
            db::params(charge));
        const auto paid = co_await session.query(
            "SELECT o.outcome FROM payment.pay($1::uuid, $2::uuid, $3, gen_random_uuid(), 'pay-key', "
            "'\\x00', "
            "'POINTS', NULL, NULL) o",
            db::params(fan, reservation, s.id));
        const std::string calls =
            "SELECT coalesce(pg_stat_get_xact_function_calls('wallet.check_wallet_exists'::regproc), 0), "
            "coalesce(pg_stat_get_xact_function_calls('booking.check_seat_reservation'::regproc), 0), "
            "(SELECT count(*) FROM wallet.ledger l JOIN wallet.wallets w ON w.id = l.wallet_id "
            "  WHERE w.user_id = $1::uuid), "
            "(SELECT count(*) FROM booking.outbox o WHERE o.aggregate_id = $2::uuid "
            "  AND o.event_type = 'reservation.confirmed')";
        const auto before = co_await session.query(calls, db::params(fan, reservation));
        // Rows written where nothing recorded the wallet or reservation they name: checked.
        (void)co_await session.query(
            "SELECT set_config('marquee.wallet_seen', '', true), set_config('marquee.reservation_seen', '', "
            "true)");
        (void)co_await session.query(
            "INSERT INTO wallet.ledger (wallet_id, kind, amount, balance_after, idempotency_key, "
            "reference_id) "
            "SELECT id, 'REFUND', 1, 1, 'refund-key', gen_random_uuid() FROM wallet.wallets WHERE user_id = "
            "$1::uuid",
            db::params(fan));
        (void)co_await session.query(
            "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price, "
            "state) "
            "SELECT $1::uuid, id, schedule_id, zone_id, 1, 'RELEASED' FROM catalog.seats WHERE id = $2",
            db::params(reservation, s.seats[1]));
        const auto after = co_await session.query(calls, db::params(fan, reservation));
        co_await session.execute("ROLLBACK");
        co_return std::vector<std::int64_t>{paid.get<std::string>(0, 0) == "APPROVED" ? 1 : 0,
                                            before.get<std::int64_t>(0, 0),
                                            before.get<std::int64_t>(0, 1),
                                            before.get<std::int64_t>(0, 2),
                                            before.get<std::int64_t>(0, 3),
                                            after.get<std::int64_t>(0, 0),
                                            after.get<std::int64_t>(0, 1)};
    }());
    ASSERT_EQ(counts[0], 1) << "payment.pay did not approve";
    EXPECT_EQ(counts[1], 0) << "wallet.check_wallet_exists ran for the purchase's own charge or ledger rows";
    EXPECT_EQ(counts[2], 0) << "booking.check_seat_reservation ran for the hold's own seat row";
    EXPECT_EQ(counts[3], 2) << "the CHARGE and PAYMENT ledger rows";
    EXPECT_EQ(counts[4], 1) << "one reservation.confirmed event";
    EXPECT_EQ(counts[5], 1) << "a ledger row of another writer was not checked";
    EXPECT_EQ(counts[6], 1) << "another writer's seat row was not checked";
}

// booking/0014's confirm in one statement: the reservation CONFIRMED with its payment, its seats SOLD, and
// reservation.confirmed with the payload booking.event_payload builds for it (seat ids and indexes in seat
// order), for a hold of several seats.
TEST_F(FewerProbesDbTest, AConfirmInOneStatementWritesTheSameRowsAndEvent) {
    const auto s = make_schedule(4);
    const auto held = hold(new_uuid(), s, {s.seats[3], s.seats[1], s.seats[2]});
    const auto payment = new_uuid();
    EXPECT_EQ(sql("SELECT booking.confirm($1::uuid, $2::uuid)", db::params(held.id, payment))
                  .get<std::string>(0, 0),
              "CONFIRMED");
    const auto r =
        sql("SELECT r.state, r.payment_id::text, r.confirmed_at IS NOT NULL, "
            "(SELECT string_agg(s.state, ',' ORDER BY s.seat_id) FROM booking.reservation_seats s "
            "  WHERE s.reservation_id = r.id), "
            "(SELECT count(*) FROM booking.outbox o WHERE o.aggregate_id = r.id "
            "  AND o.event_type = 'reservation.confirmed'), "
            "(SELECT o.payload = booking.event_payload(r.id, 'SOLD') FROM booking.outbox o "
            "  WHERE o.aggregate_id = r.id AND o.event_type = 'reservation.confirmed'), "
            "(SELECT o.payload->>'seatIndexes' FROM booking.outbox o "
            "  WHERE o.aggregate_id = r.id AND o.event_type = 'reservation.confirmed') "
            "FROM booking.reservations r WHERE r.id = $1::uuid",
            db::params(held.id));
    EXPECT_EQ(r.get<std::string>(0, 0), "CONFIRMED");
    EXPECT_EQ(r.get<std::string>(0, 1), payment);
    EXPECT_TRUE(r.get<bool>(0, 2));
    EXPECT_EQ(r.get<std::string>(0, 3), "SOLD,SOLD,SOLD");
    EXPECT_EQ(r.get<std::int64_t>(0, 4), 1);
    EXPECT_TRUE(r.get<bool>(0, 5));
    EXPECT_EQ(r.get<std::string>(0, 6), "[1, 2, 3]");
    EXPECT_EQ(sql("SELECT booking.confirm($1::uuid, $2::uuid)", db::params(held.id, payment))
                  .get<std::string>(0, 0),
              "ALREADY_CONFIRMED");
}

}  // namespace
}  // namespace marquee::booking::testing
