// Seat holds against the real PostgreSQL and Redis: invariant 1 (one live hold per seat, refused by the
// database itself) and invariant 4 (expiry by the database clock, on read and by the sweeper).
#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log_context.hpp"
#include "db/session.hpp"
#include "services/booking/test_fixture.hpp"
#include "support/explain.hpp"

namespace marquee::booking::testing {
namespace {

// Shared buffers each booking.hold call read (EXPLAIN ANALYZE counts those of the statements inside the
// function too), all on one connection, so PL/pgSQL's cached plans are the ones measured.
asio::awaitable<std::vector<std::int64_t>> hold_buffers(db::Pool& pool, std::int64_t schedule,
                                                        std::vector<std::int64_t> seats) {
    db::Session session = co_await pool.session();
    // The generic plan, the one a pool connection keeps after five calls: it cannot know that this schedule
    // is the hot one (statistics estimate 1 / distinct schedules rows for it).
    co_await session.execute("SET plan_cache_mode = force_generic_plan");
    std::vector<std::int64_t> out;
    for (const std::int64_t seat : seats) {
        const db::Result r = co_await session.query(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM booking.hold(gen_random_uuid(), $1, "
            "gen_random_uuid(), $2::bigint[], 300, NULL)",
            db::params(schedule, "{" + std::to_string(seat) + "}"));
        out.push_back(test::plan_shared_buffers(r));
    }
    co_await session.execute("RESET plan_cache_mode");
    co_return out;
}

TEST_F(BookingDbTest, HoldsSeatsForFiveMinutesWithTheirPrices) {
    const auto s = make_schedule(4, 90000);
    const auto user = new_uuid();
    const auto token = new_uuid();
    const auto r = run(service_->hold(user, token, request(s, {s.seats[0], s.seats[2]})));
    EXPECT_EQ(r.state, "HELD");
    EXPECT_EQ(r.total_price, 180000);
    ASSERT_EQ(r.seats.size(), 2U);
    EXPECT_EQ(r.seats[0].seat_id, s.seats[0]);
    EXPECT_EQ(r.seats[0].price, 90000);
    EXPECT_EQ(r.expires_at - r.created_at, std::chrono::minutes(5));
    const auto row =
        sql("SELECT queue_token_id::text, seat_count FROM booking.reservations WHERE id = $1::uuid",
            db::params(r.id));
    EXPECT_EQ(row.get<std::string>(0, 0), token);
    EXPECT_EQ(row.get<std::int64_t>(0, 1), 2);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
    EXPECT_EQ(live_rows(s, s.seats[1]), 0);
}

TEST_F(BookingDbTest, HoldWritesAHeldOutboxEventWithSeatIndexes) {
    const auto s = make_schedule(4);
    const auto r = hold(new_uuid(), s, {s.seats[1], s.seats[3]});
    const auto row =
        sql("SELECT payload::text FROM booking.outbox WHERE aggregate_id = $1::uuid "
            "AND event_type = 'reservation.held'",
            db::params(r.id));
    ASSERT_EQ(row.rows(), 1);
    const auto payload = boost::json::parse(row.get<std::string>(0, 0)).as_object();
    EXPECT_EQ(payload.at("reservationId").as_string(), r.id);
    EXPECT_EQ(payload.at("scheduleId").as_int64(), s.id);
    EXPECT_TRUE(payload.contains("userId"));
    EXPECT_EQ(payload.at("seatIds").as_array().size(), 2U);
    EXPECT_EQ(payload.at("seatIndexes").as_array().at(0).as_int64(), 1);
    EXPECT_EQ(payload.at("seatIndexes").as_array().at(1).as_int64(), 3);
}

TEST_F(BookingDbTest, HeldSeatIs409NamingTheSeat) {
    const auto s = make_schedule(2);
    (void)hold(new_uuid(), s, {s.seats[0]});
    const auto p = problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 409);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(p->extensions().at("seats").as_array().at(0).as_int64(), s.seats[0]);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
}

TEST_F(BookingDbTest, HoldOutcomesAreCounted) {
    auto& holds = metrics_.counter("booking_holds_total", "");
    const auto s = make_schedule(1);
    (void)hold(new_uuid(), s, {s.seats[0]});
    (void)problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0]}); });
    EXPECT_EQ(holds.with({{"outcome", "held"}}).value(), 1u);
    // The second attempt is refused by the database (the first hold's lock is released once it committed).
    EXPECT_EQ(holds.with({{"outcome", "seat-taken-db"}}).value(), 1u);
    EXPECT_NE(metrics_.render().find("booking_holds_total{outcome=\"held\"} 1"), std::string::npos);
}

TEST_F(BookingDbTest, ASeatTheDatabaseCalledTakenIsRefusedFromRedisForAWhile) {
    auto& holds = metrics_.counter("booking_holds_total", "");
    const auto s = make_schedule(2);
    (void)hold(new_uuid(), s, {s.seats[0]});
    // The database refuses the second attempt and leaves a `taken` marker on the seat's lock, with a TTL.
    (void)problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0]}); });
    EXPECT_EQ(holds.with({{"outcome", "seat-taken-db"}}).value(), 1u);
    EXPECT_EQ(run(redis_->get(seat_lock_key(s.id, s.seats[0]))).value_or(""), "taken");
    // The third is refused by Redis alone, naming the seat, and the database still holds one live row.
    const auto p = problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(p->extensions().at("seats").as_array().at(0).as_int64(), s.seats[0]);
    EXPECT_EQ(holds.with({{"outcome", "seat-taken-lock"}}).value(), 1u);
    EXPECT_EQ(holds.with({{"outcome", "seat-taken-db"}}).value(), 1u);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
    // A multi-seat attempt marks only the taken seat; the free one's lock is released.
    (void)problem_of([&] { (void)hold(new_uuid(), s, {s.seats[1], s.seats[0]}); });
    EXPECT_FALSE(run(redis_->get(seat_lock_key(s.id, s.seats[1]))).has_value());
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[1]}).state, "HELD");
    std::vector<std::string> keys{seat_lock_key(s.id, s.seats[0])};
    (void)run(redis_->del(keys));
}

TEST_F(BookingDbTest, AReleasedSeatCanBeHeldAtOnceDespiteItsTakenMarker) {
    const auto s = make_schedule(1);
    const auto owner = new_uuid();
    const auto r = hold(owner, s, {s.seats[0]});
    (void)problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0]}); });
    ASSERT_EQ(run(redis_->get(seat_lock_key(s.id, s.seats[0]))).value_or(""), "taken");
    run(service_->release(owner, r.id));
    EXPECT_FALSE(run(redis_->get(seat_lock_key(s.id, s.seats[0]))).has_value());
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[0]}).state, "HELD");
}

TEST_F(BookingDbTest, MultiSeatHoldIsAllOrNothing) {
    const auto s = make_schedule(3);
    (void)hold(new_uuid(), s, {s.seats[1]});
    const auto late = new_uuid();
    const auto p = problem_of([&] { (void)hold(late, s, {s.seats[0], s.seats[1], s.seats[2]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    ASSERT_EQ(p->extensions().at("seats").as_array().size(), 1U);
    EXPECT_EQ(p->extensions().at("seats").as_array().at(0).as_int64(), s.seats[1]);
    EXPECT_TRUE(run(service_->mine(late)).empty());
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
    EXPECT_EQ(live_rows(s, s.seats[2]), 0);
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[0], s.seats[2]}).state, "HELD");
}

TEST_F(BookingDbTest, UnknownSeatIs404AndHoldsNothing) {
    const auto s = make_schedule(2);
    const auto other = make_schedule(1);
    const auto p = problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0], other.seats[0]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 404);
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
}

TEST_F(BookingDbTest, RefusedQueueCheckHoldsNothing) {
    const auto s = make_schedule(1);
    const auto user = new_uuid();
    const auto p = problem_of([&] { (void)run(service_->hold(user, "", request(s, {s.seats[0]}))); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 403);
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
}

TEST_F(BookingDbTest, ExpiredHoldReadsExpiredAndAnotherUserCanHoldTheSeat) {
    const auto s = make_schedule(1);
    const auto first = new_uuid();
    const auto old = hold(first, s, {s.seats[0]});
    make_overdue(old.id);
    const auto read = run(service_->get(first, old.id));
    EXPECT_EQ(read.state, "EXPIRED");
    EXPECT_EQ(read.seats.at(0).state, "RELEASED");
    const auto fresh = hold(new_uuid(), s, {s.seats[0]});
    EXPECT_EQ(fresh.state, "HELD");
    EXPECT_EQ(sql("SELECT state FROM booking.reservations WHERE id = $1::uuid", db::params(old.id))
                  .get<std::string>(0, 0),
              "EXPIRED");
    EXPECT_EQ(outbox_count(old.id, "reservation.expired"), 1);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
}

// The outbox rows name the trace of the request that wrote them; the relay sends it as a NATS header.
TEST_F(BookingDbTest, OutboxEventsCarryTheTraceparentOfTheirRequest) {
    const auto s = make_schedule(2);
    const auto user = new_uuid();
    const auto holding = core::make_log_context(core::TraceContext::start());
    const auto releasing = core::make_log_context(core::TraceContext::start());
    // Each call runs as the server runs a handler: spawned on an executor that carries its log context.
    const auto traced = [&](const auto& context) {
        return core::with_log_context(asio::any_io_executor(ioc_.get_executor()), context);
    };
    const Reservation r =
        asio::co_spawn(traced(holding), service_->hold(user, new_uuid(), request(s, {s.seats[0]})),
                       asio::use_future)
            .get();
    asio::co_spawn(traced(releasing), service_->release(user, r.id), asio::use_future).get();
    const auto traceparent_of = [&](const std::string& type) {
        const auto row =
            sql("SELECT coalesce(traceparent, 'none') FROM booking.outbox WHERE aggregate_id = "
                "$1::uuid AND event_type = $2",
                db::params(r.id, type));
        return row.empty() ? std::string("no row") : row.get<std::string>(0, 0);
    };
    EXPECT_EQ(traceparent_of("reservation.held"), holding->trace.traceparent());
    EXPECT_EQ(traceparent_of("reservation.cancelled"), releasing->trace.traceparent());
}

TEST_F(BookingDbTest, ReleaseCancelsTheHoldAndFreesItsSeats) {
    const auto s = make_schedule(2);
    const auto user = new_uuid();
    const auto r = hold(user, s, {s.seats[0], s.seats[1]});
    run(service_->release(user, r.id));
    EXPECT_EQ(run(service_->get(user, r.id)).state, "CANCELLED");
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
    EXPECT_EQ(outbox_count(r.id, "reservation.cancelled"), 1);
    run(service_->release(user, r.id));  // again: still cancelled, no second event
    EXPECT_EQ(outbox_count(r.id, "reservation.cancelled"), 1);
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[0], s.seats[1]}).state, "HELD");
}

TEST_F(BookingDbTest, ReleaseOfExpiredHoldIs410) {
    const auto s = make_schedule(1);
    const auto user = new_uuid();
    const auto r = hold(user, s, {s.seats[0]});
    make_overdue(r.id);
    const auto p = problem_of([&] { run(service_->release(user, r.id)); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 410);
    EXPECT_EQ(p->type(), "hold-expired");
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
}

TEST_F(BookingDbTest, ReleaseOfConfirmedReservationIs409) {
    const auto s = make_schedule(1);
    const auto user = new_uuid();
    const auto r = hold(user, s, {s.seats[0]});
    sql("UPDATE booking.reservations SET state = 'CONFIRMED', confirmed_at = now(), payment_id = "
        "gen_random_uuid() WHERE id = $1::uuid",
        db::params(r.id));
    const auto p = problem_of([&] { run(service_->release(user, r.id)); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 409);
    EXPECT_EQ(p->type(), "already-confirmed");
}

TEST_F(BookingDbTest, AnotherUsersReservationIs404) {
    const auto s = make_schedule(1);
    const auto r = hold(new_uuid(), s, {s.seats[0]});
    const auto stranger = new_uuid();
    const auto read = problem_of([&] { (void)run(service_->get(stranger, r.id)); });
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status(), 404);
    const auto release = problem_of([&] { run(service_->release(stranger, r.id)); });
    ASSERT_TRUE(release);
    EXPECT_EQ(release->status(), 404);
    const auto malformed = problem_of([&] { (void)run(service_->get(stranger, "not-a-uuid")); });
    ASSERT_TRUE(malformed);
    EXPECT_EQ(malformed->status(), 404);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
}

TEST_F(BookingDbTest, MineListsTheCallersReservationsNewestFirst) {
    const auto s = make_schedule(2);
    const auto user = new_uuid();
    const auto first = hold(user, s, {s.seats[0]});
    const auto second = hold(user, s, {s.seats[1]});
    const auto mine = run(service_->mine(user));
    ASSERT_EQ(mine.size(), 2U);
    EXPECT_EQ(mine[0].id, second.id);
    EXPECT_EQ(mine[1].id, first.id);
    EXPECT_EQ(mine[0].seats.size(), 1U);
}

TEST_F(BookingDbTest, SweeperExpiresOverdueHoldsAndReleasesTheirSeats) {
    const auto s = make_schedule(2);
    const auto overdue = hold(new_uuid(), s, {s.seats[0]});
    const auto live = hold(new_uuid(), s, {s.seats[1]});
    make_overdue(overdue.id);
    // The database is shared: an end-to-end test's Marquee (or a second replica) sweeps it too. A sweep takes
    // its holds FOR UPDATE SKIP LOCKED, so this one skips a hold the other has taken and not yet committed,
    // and returns with it still HELD. Sweep again until it is ended (by either), for at most 30 s: alone,
    // a sweep that does not end it leaves it HELD and the test fails.
    const auto state_of = [&](const std::string& id) {
        return sql("SELECT state FROM booking.reservations WHERE id = $1::uuid", db::params(id))
            .get<std::string>(0, 0);
    };
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    (void)run(service_->sweep());
    while (state_of(overdue.id) == "HELD" && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(20ms);
        (void)run(service_->sweep());
    }
    EXPECT_EQ(state_of(overdue.id), "EXPIRED");
    EXPECT_EQ(sql("SELECT state FROM booking.reservation_seats WHERE reservation_id = $1::uuid",
                  db::params(overdue.id))
                  .get<std::string>(0, 0),
              "RELEASED");
    EXPECT_EQ(outbox_count(overdue.id, "reservation.expired"), 1);
    const auto event =
        boost::json::parse(sql("SELECT payload::text FROM booking.outbox WHERE aggregate_id = $1::uuid AND "
                               "event_type = 'reservation.expired'",
                               db::params(overdue.id))
                               .get<std::string>(0, 0))
            .as_object();
    EXPECT_EQ(event.at("seatIds").as_array().at(0).as_int64(), s.seats[0]);
    EXPECT_EQ(event.at("seatIndexes").as_array().at(0).as_int64(), 0);
    EXPECT_EQ(state_of(live.id), "HELD");
    EXPECT_EQ(live_rows(s, s.seats[1]), 1);
}

// A hold's cost must not grow with the schedule's sales (issue 15): booking/0005's generic plans found the
// requested seats among every live seat of the schedule (index condition on schedule_id, seat_id filtered).
TEST_F(BookingDbTest, AHoldReadsAFewBuffersHoweverManySeatsOfItsScheduleAreLive) {
    const auto s = make_schedule(3000);
    // 2,000 seats SOLD, one reservation each, written in one statement.
    sql("WITH picked AS MATERIALIZED (SELECT gen_random_uuid() AS rid, c.id AS seat_id, c.zone_id "
        "FROM catalog.seats c WHERE c.schedule_id = $1 AND c.seat_index < 2000), "
        "r AS (INSERT INTO booking.reservations (id, user_id, schedule_id, queue_token_id, state, "
        "seat_count, "
        "total_price, expires_at, payment_id, confirmed_at) SELECT rid, gen_random_uuid(), $1, "
        "gen_random_uuid(), 'CONFIRMED', 1, 1, now() + interval '5 minutes', gen_random_uuid(), now() FROM "
        "picked) "
        "INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, zone_id, price, state) "
        "SELECT rid, seat_id, $1, zone_id, 1, 'SOLD' FROM picked",
        db::params(s.id));
    // Sold seats (TAKEN) and free ones (HELD), each through the cached generic plans; the first call of each
    // path also reads the system catalogs (its plans are built) and is not measured.
    std::vector<std::int64_t> seats{s.seats[1000], s.seats[2500]};
    for (std::size_t i = 1; i < 8; ++i) seats.push_back(s.seats[1000 + i]);
    for (std::size_t i = 1; i < 8; ++i) seats.push_back(s.seats[2500 + i]);
    const std::vector<std::int64_t> buffers = run(hold_buffers(*pool_, s.id, seats));
    ASSERT_EQ(buffers.size(), seats.size());
    // A few index probes: about 15 pages for a TAKEN answer and 40 for a hold written here. Every live seat
    // of the schedule is 2,000 index entries; booking/0005 read 72-75 per hold even when its plans stayed on
    // the index, reading the seats and the rows it had just written again, and a scan reads hundreds for
    // every hold. A local database grown by benchmarks to hundreds of thousands of reservations adds a level
    // to each of the ten or so indexes a hold writes (60-65 pages seen), and a hold that runs while other
    // test processes write the same tables can read more (86-91 pages seen for 3 of 14 holds, 2026-12-07). So
    // the typical hold (the median) must stay under 80 pages and no hold may reach 200: a plan that scans
    // fails both, a busy neighbour neither.
    std::vector<std::int64_t> measured(buffers.begin() + 2, buffers.end());
    std::sort(measured.begin(), measured.end());
    EXPECT_LT(measured[measured.size() / 2], 80) << "median of " << measured.size() << " holds";
    EXPECT_LT(measured.back(), 200) << "the most a hold read";
    EXPECT_EQ(live_rows(s, s.seats[2500]), 1);  // the free seats were held
}

TEST_F(BookingDbTest, DatabaseRefusesASecondHoldWithoutAnyLock) {
    const auto s = make_schedule(1);
    NewHold first{new_uuid(), s.id, new_uuid(), {s.seats[0]}, std::chrono::minutes(5)};
    NewHold second{new_uuid(), s.id, new_uuid(), {s.seats[0]}, std::chrono::minutes(5)};
    const auto won = run(store_->hold(first));
    const auto lost = run(store_->hold(second));
    ASSERT_TRUE(won.reservation);
    EXPECT_FALSE(lost.reservation);
    EXPECT_EQ(lost.taken, std::vector<std::int64_t>{s.seats[0]});
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
}

TEST_F(BookingDbTest, UniqueIndexRefusesConcurrentStoreHoldsWithoutLocks) {
    const auto s = make_schedule(1);
    constexpr int kRacers = 24;
    std::vector<std::future<HoldOutcome>> racers;
    for (int i = 0; i < kRacers; ++i) {
        NewHold h{new_uuid(), s.id, new_uuid(), {s.seats[0]}, std::chrono::minutes(5)};
        racers.push_back(asio::co_spawn(ioc_, store_->hold(h), asio::use_future));
    }
    int won = 0;
    for (auto& f : racers) {
        if (f.get().reservation) ++won;
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
}

TEST_F(BookingDbTest, SeatLockedByAnotherRequestIs409AtOnce) {
    const auto s = make_schedule(2);
    const auto key = seat_lock_key(s.id, s.seats[1]);
    run(redis_->set(key, "someone-else", std::chrono::milliseconds(60000)));
    const auto p = problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0], s.seats[1]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(p->extensions().at("seats").as_array().at(0).as_int64(), s.seats[1]);
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
    EXPECT_FALSE(run(redis_->get(seat_lock_key(s.id, s.seats[0]))).has_value()) << "its own lock released";
    EXPECT_EQ(run(redis_->get(key)).value_or(""), "someone-else")
        << "another request's lock is never removed";
    std::vector<std::string> keys{key};
    (void)run(redis_->del(keys));
}

TEST_F(BookingDbTest, ClosedBookingWindowIs409) {
    const auto s = make_schedule(1);
    sql("UPDATE catalog.schedules SET booking_opens_at = now() + interval '1 day' WHERE id = $1",
        db::params(s.id));
    const auto p = problem_of([&] { (void)hold(new_uuid(), s, {s.seats[0]}); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 409);
    EXPECT_EQ(p->type(), "booking-closed");
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
}

TEST_F(BookingDbTest, UnlockLeavesNoSeatLockBehind) {
    const auto s = make_schedule(1);
    (void)hold(new_uuid(), s, {s.seats[0]});
    EXPECT_FALSE(run(redis_->get(seat_lock_key(s.id, s.seats[0]))).has_value());
}

}  // namespace
}  // namespace marquee::booking::testing

namespace marquee::booking::testing {
namespace {

// ADR 0015: two processes, each with its own TakenMemory (bound 300 ms). `far` learns from the database that
// the seat is taken and then refuses it from memory; the holder releases it through `near`, which forgets
// at once; `far` may refuse it for at most the bound after it last saw it taken, then holds it.
TEST_F(BookingDbTest, ASeatRefusedFromMemoryIsHoldableAfterReleasePlusTheBound) {
    ServiceOptions options;
    options.taken_memory = 300ms;
    options.taken_ttl = 0ms;  // no Redis marker: only the memory stands between a release and the next hold
    core::MetricsRegistry near_metrics;
    core::MetricsRegistry far_metrics;
    Service near(*store_, *redis_, stub_queue_check(), near_metrics, options);
    Service far(*store_, *redis_, stub_queue_check(), far_metrics, options);
    const auto s = make_schedule(1);
    const auto owner = new_uuid();
    const auto r = run(near.hold(owner, new_uuid(), request(s, {s.seats[0]})));
    const auto refused = [&](Service& service) {
        return problem_of([&] { (void)run(service.hold(new_uuid(), new_uuid(), request(s, {s.seats[0]}))); });
    };
    auto p = refused(far);  // the database says taken
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    p = refused(far);  // the same 409 from memory
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status(), 409);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(p->extensions().at("seats").as_array().at(0).as_int64(), s.seats[0]);
    auto& far_holds = far_metrics.counter("booking_holds_total", "");
    EXPECT_EQ(far_holds.with({{"outcome", "seat-taken-db"}}).value(), 1u);
    EXPECT_EQ(far_holds.with({{"outcome", "seat-taken-memory"}}).value(), 1u);
    // The releasing process forgets at once: the next attempt through it goes to the database and wins.
    run(near.release(owner, r.id));
    std::this_thread::sleep_for(options.taken_memory);  // the bound passes (not a timing assert)
    const auto again = run(far.hold(new_uuid(), new_uuid(), request(s, {s.seats[0]})));
    EXPECT_EQ(again.state, "HELD");
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
    // Memory refuses only; the database decided the grant.
    EXPECT_EQ(far_holds.with({{"outcome", "held"}}).value(), 1u);
}

// ADR 0038: a fan whose pass this process checked a moment ago and whose seat is known taken gets the 409
// without another queue check; a pass is never trusted for a seat that is not known taken.
TEST_F(BookingDbTest, ARefusalFromMemoryTrustsAPassCheckedWithinTheBoundAndNothingElse) {
    ServiceOptions options;
    options.taken_memory = 60s;
    int checks = 0;
    bool pass_used = false;
    QueueCheck counting = [&](std::string, std::int64_t, std::string token) -> asio::awaitable<std::string> {
        ++checks;
        if (pass_used) throw core::Problem::gone("queue-token-used", "the queue pass was used");
        co_return token;
    };
    core::MetricsRegistry metrics;
    Service service(*store_, *redis_, counting, metrics, options);
    const auto s = make_schedule(2);
    (void)run(service.hold(new_uuid(), new_uuid(), request(s, {s.seats[0]})));
    EXPECT_EQ(checks, 1);
    const auto fan = new_uuid();
    const auto fan_pass = new_uuid();
    const auto attempt = [&](std::string pass, std::int64_t seat) {
        return problem_of([&] { (void)run(service.hold(fan, pass, request(s, {seat}))); });
    };
    auto p = attempt(fan_pass, s.seats[0]);  // the pass is new here: checked, then refused from memory
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(checks, 2);
    p = attempt(fan_pass, s.seats[0]);  // checked a moment ago: refused without the check
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(checks, 2);
    p = attempt(new_uuid(), s.seats[0]);  // another pass of the same fan is checked
    ASSERT_TRUE(p);
    EXPECT_EQ(checks, 3);
    // The pass is used up meanwhile: a seat known taken is still a 409 within the bound (the staleness ADR
    // 0038 states), but a free seat is never held on a remembered pass.
    pass_used = true;
    p = attempt(fan_pass, s.seats[0]);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    p = attempt(fan_pass, s.seats[1]);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "queue-token-used");
    EXPECT_EQ(live_rows(s, s.seats[1]), 0);
    EXPECT_EQ(metrics.counter("booking_holds_total", "").with({{"outcome", "seat-taken-memory"}}).value(),
              4u);
}

// ADR 0042: the route asks refused_from_memory() first; what it returns is exactly what hold() throws,
// counted the same, and it answers nothing that hold() would not refuse from memory.
TEST_F(BookingDbTest, RefusedFromMemoryIsWhatHoldThrowsAndNothingMore) {
    ServiceOptions options;
    options.taken_memory = 60s;
    core::MetricsRegistry metrics;
    Service service(*store_, *redis_, stub_queue_check(), metrics, options);
    auto& refused = metrics.counter("booking_holds_total", "").with({{"outcome", "seat-taken-memory"}});
    const auto s = make_schedule(2);
    (void)run(service.hold(new_uuid(), new_uuid(), request(s, {s.seats[0]})));
    const auto fan = new_uuid();
    const auto pass = new_uuid();
    // A pass not checked yet: left to hold(), which checks it and then refuses from memory.
    EXPECT_FALSE(service.refused_from_memory(fan, pass, request(s, {s.seats[1], s.seats[0]})));
    EXPECT_EQ(refused.value(), 0u);
    const auto thrown = problem_of([&] {
        (void)run(service.hold(fan, pass, request(s, {s.seats[1], s.seats[0]})));
    });
    ASSERT_TRUE(thrown);
    EXPECT_EQ(refused.value(), 1u);

    const auto returned = service.refused_from_memory(fan, pass, request(s, {s.seats[1], s.seats[0]}));
    ASSERT_TRUE(returned);
    EXPECT_EQ(refused.value(), 2u);
    EXPECT_EQ(returned->status(), 409);
    EXPECT_EQ(returned->type(), "seat-taken");
    EXPECT_EQ(returned->title(), thrown->title());
    EXPECT_EQ(returned->detail(), thrown->detail());
    EXPECT_EQ(returned->extensions(), thrown->extensions());
    EXPECT_EQ(returned->headers(), thrown->headers());
    EXPECT_EQ(boost::json::serialize(returned->to_json("/api/v1/reservations")),
              boost::json::serialize(thrown->to_json("/api/v1/reservations")));

    // Nothing else: a free seat, another pass, best available, and a sale closed early go on to hold().
    EXPECT_FALSE(service.refused_from_memory(fan, pass, request(s, {s.seats[1]})));
    EXPECT_FALSE(service.refused_from_memory(fan, new_uuid(), request(s, {s.seats[0]})));
    EXPECT_FALSE(service.refused_from_memory(new_uuid(), pass, request(s, {s.seats[0]})));
    HoldRequest best;
    best.schedule_id = s.id;
    best.zone_id = 1;  // any zone: best available is never refused from memory
    best.count = 1;
    EXPECT_FALSE(service.refused_from_memory(fan, pass, best));
    service.set_sale_controls([](std::int64_t) {
        SaleControl closed;
        closed.sales_closed = true;
        return closed;
    });
    EXPECT_FALSE(service.refused_from_memory(fan, pass, request(s, {s.seats[0]})));
    const auto closed = problem_of([&] { (void)run(service.hold(fan, pass, request(s, {s.seats[0]}))); });
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->type(), "sales-closed");
    EXPECT_EQ(refused.value(), 2u);
}

// ADR 0046: TakenMemory's clock, moved by hand (the Redis markers and locks keep real time).
std::atomic<std::int64_t> fake_ms{0};
TakenMemory::Clock::time_point fake_now() {
    return TakenMemory::Clock::time_point{std::chrono::hours(1)} + std::chrono::milliseconds(fake_ms.load());
}

/// The options of the ADR 0046 tests: the clock set back to 0, a 1 s memory on it.
ServiceOptions on_the_fake_clock() {
    fake_ms = 0;
    ServiceOptions options;
    options.taken_memory = 1000ms;  // on the fake clock; the markers keep Redis's
    options.now = fake_now;
    return options;
}

// ADR 0046: a seat that stays taken is refused from memory past the bound, because one attempt after half the
// bound asks the database again (over the Redis `taken` marker the last answer left) while the others are
// still refused from memory; no refusal comes from Redis.
TEST_F(BookingDbTest, AHotSeatIsRefusedFromMemoryPastTheBoundOneRefreshAtATime) {
    ServiceOptions options = on_the_fake_clock();
    options.taken_ttl = 60s;  // the markers standing however slowly this test runs
    core::MetricsRegistry near_metrics;
    core::MetricsRegistry far_metrics;
    Service near(*store_, *redis_, stub_queue_check(), near_metrics, options);
    Service far(*store_, *redis_, stub_queue_check(), far_metrics, options);
    auto& holds = far_metrics.counter("booking_holds_total", "");
    auto& memory = holds.with({{"outcome", "seat-taken-memory"}});
    auto& db = holds.with({{"outcome", "seat-taken-db"}});
    auto& lock = holds.with({{"outcome", "seat-taken-lock"}});
    const auto s = make_schedule(1);
    const auto seat = request(s, {s.seats[0]});
    (void)run(near.hold(new_uuid(), new_uuid(), seat));
    const auto fan = new_uuid();
    const auto pass = new_uuid();
    const auto attempt = [&] { return problem_of([&] { (void)run(far.hold(fan, pass, seat)); }); };
    // t = 0: `far` learns from the database (which leaves the `taken` marker), then refuses from memory.
    ASSERT_TRUE(attempt());
    EXPECT_EQ(db.value(), 1u);
    const auto marker = seat_lock_key(s.id, s.seats[0]);
    ASSERT_EQ(run(redis_->get(marker)).value_or(""), "taken");
    ASSERT_TRUE(far.refused_from_memory(fan, pass, seat));
    EXPECT_EQ(memory.value(), 1u);
    // t = 600 ms: a refresh is due. The route leaves it to hold(), which claims it and asks the database.
    fake_ms = 600;
    EXPECT_FALSE(far.refused_from_memory(fan, pass, seat));
    auto p = attempt();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    EXPECT_EQ(db.value(), 2u) << "the refresh went to the database over the marker";
    EXPECT_EQ(lock.value(), 0u);
    // Everyone else, and the refreshing fan again, is refused from memory.
    ASSERT_TRUE(far.refused_from_memory(fan, pass, seat));
    p = problem_of([&] { (void)run(far.hold(new_uuid(), new_uuid(), seat)); });
    ASSERT_TRUE(p);
    EXPECT_EQ(memory.value(), 3u);
    // t = 1,050 ms: past the first sighting's bound, still refused from memory (the refresh's sighting).
    fake_ms = 1050;
    ASSERT_TRUE(far.refused_from_memory(fan, pass, seat));
    EXPECT_EQ(memory.value(), 4u);
    EXPECT_EQ(db.value(), 2u);
    EXPECT_EQ(lock.value(), 0u);
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
    EXPECT_EQ(run(redis_->get(marker)).value_or(""), "taken") << "the refresh's answer left a marker again";
    std::vector<std::string> keys{marker};
    (void)run(redis_->del(keys));
}

// ADR 0046: memory never grants, and a seat released elsewhere is refused from memory for at most the bound
// after it was last seen taken: here the first attempt after half the bound asks the database and is held.
TEST_F(BookingDbTest, ASeatReleasedElsewhereIsHeldByTheFirstRefreshWithinTheBound) {
    const ServiceOptions options = on_the_fake_clock();
    core::MetricsRegistry near_metrics;
    core::MetricsRegistry far_metrics;
    Service near(*store_, *redis_, stub_queue_check(), near_metrics, options);
    Service far(*store_, *redis_, stub_queue_check(), far_metrics, options);
    auto& holds = far_metrics.counter("booking_holds_total", "");
    const auto s = make_schedule(1);
    const auto seat = request(s, {s.seats[0]});
    const auto owner = new_uuid();
    const auto r = run(near.hold(owner, new_uuid(), seat));
    const auto fan = new_uuid();
    const auto pass = new_uuid();
    ASSERT_TRUE(problem_of([&] { (void)run(far.hold(fan, pass, seat)); }));  // t = 0: the database
    run(near.release(owner, r.id));
    // Within half the bound: still refused from memory (the staleness ADR 0015 states), nothing held.
    fake_ms = 499;
    const auto stale = problem_of([&] { (void)run(far.hold(fan, pass, seat)); });
    ASSERT_TRUE(stale);
    EXPECT_EQ(stale->type(), "seat-taken");
    EXPECT_EQ(holds.with({{"outcome", "seat-taken-memory"}}).value(), 1u);
    EXPECT_EQ(live_rows(s, s.seats[0]), 0);
    // From half the bound: one attempt asks the database, which grants the free seat.
    fake_ms = 500;
    EXPECT_FALSE(far.refused_from_memory(fan, pass, seat));
    EXPECT_EQ(run(far.hold(fan, pass, seat)).state, "HELD");
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
    EXPECT_EQ(holds.with({{"outcome", "held"}}).value(), 1u);
}

// ADR 0046: with no attempt at all after half the bound, a released seat is holdable at the bound.
TEST_F(BookingDbTest, ASeatReleasedElsewhereIsHeldAtTheBoundWithoutARefresh) {
    const ServiceOptions options = on_the_fake_clock();
    core::MetricsRegistry near_metrics;
    core::MetricsRegistry far_metrics;
    Service near(*store_, *redis_, stub_queue_check(), near_metrics, options);
    Service far(*store_, *redis_, stub_queue_check(), far_metrics, options);
    const auto s = make_schedule(1);
    const auto seat = request(s, {s.seats[0]});
    const auto owner = new_uuid();
    const auto r = run(near.hold(owner, new_uuid(), seat));
    ASSERT_TRUE(problem_of([&] { (void)run(far.hold(new_uuid(), new_uuid(), seat)); }));
    run(near.release(owner, r.id));
    // Another fan at the bound (its pass is new: checked, then not refused from memory): held.
    fake_ms = 1000;
    const auto fan = new_uuid();
    EXPECT_EQ(run(far.hold(fan, new_uuid(), seat)).state, "HELD");
    EXPECT_EQ(live_rows(s, s.seats[0]), 1);
}

TEST_F(BookingDbTest, ReleasingThroughTheSameProcessForgetsTheSeatAtOnce) {
    ServiceOptions options;
    options.taken_memory = 5000ms;
    core::MetricsRegistry metrics;
    Service service(*store_, *redis_, stub_queue_check(), metrics, options);
    const auto s = make_schedule(1);
    const auto owner = new_uuid();
    const auto r = run(service.hold(owner, new_uuid(), request(s, {s.seats[0]})));
    const auto p =
        problem_of([&] { (void)run(service.hold(new_uuid(), new_uuid(), request(s, {s.seats[0]}))); });
    ASSERT_TRUE(p);
    EXPECT_EQ(metrics.counter("booking_holds_total", "").with({{"outcome", "seat-taken-memory"}}).value(),
              1u);
    run(service.release(owner, r.id));
    EXPECT_EQ(run(service.hold(new_uuid(), new_uuid(), request(s, {s.seats[0]}))).state, "HELD");
}

}  // namespace
}  // namespace marquee::booking::testing
