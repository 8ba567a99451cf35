#include <boost/asio/detached.hpp>

#include "core/problem.hpp"
#include "dbtest_fixture.hpp"

namespace marquee::catalog::testing {
namespace {

namespace json = boost::json;

/// A laid-out schedule of 2 + 3 rows of 4 seats (VIP indexes 0..7, R 8..19).
struct LaidOut {
    Concert concert;
    Schedule schedule;
};

class CatalogServiceDbTest : public CatalogDbTest {
  protected:
    LaidOut laid_out() {
        LaidOut made{make_concert(), {}};
        made.schedule = make_schedule(made.concert.id);
        run(service_->create_layout(made.schedule.id, layout(2, 3, 4)));
        return made;
    }
};

asio::awaitable<void> read_seat_map(Service& service, std::int64_t schedule_id, std::string& etag) {
    const std::shared_ptr<const SeatMap> map = co_await service.seat_map(schedule_id);
    etag = map->etag;
}

TEST_F(CatalogServiceDbTest, ConcertIsReadFromTheDatabaseOnceThenFromRedis) {
    const Concert concert = make_concert();
    const std::uint64_t before = service_->store().queries();
    const std::uint64_t misses = counter("cache_misses_total", "concert");
    const std::uint64_t hits = counter("cache_hits_total", "concert");
    const std::string first = run(service_->concert(concert.id));
    const std::string second = run(service_->concert(concert.id));
    EXPECT_EQ(first, second);
    EXPECT_EQ(json::parse(first).at("title").as_string(), concert.title);
    EXPECT_EQ(service_->store().queries() - before, 1u);
    EXPECT_EQ(counter("cache_misses_total", "concert") - misses, 1u);
    EXPECT_EQ(counter("cache_hits_total", "concert") - hits, 1u);
    EXPECT_NE(metrics_.render().find(R"(cache_hits_total{cache="concert"})"), std::string::npos);
}

TEST_F(CatalogServiceDbTest, UnknownConcertIs404AndIsNotCached) {
    for (int i = 0; i < 2; ++i) {
        try {
            run(service_->concert(INT64_MAX - 1));
            ADD_FAILURE();
        } catch (const core::Problem& problem) {
            EXPECT_EQ(problem.status(), 404);
        }
    }
    EXPECT_FALSE(run(redis_.get(Service::concert_key(INT64_MAX - 1))));
}

TEST_F(CatalogServiceDbTest, ConcurrentMissesOnAColdSeatMapCostOneLoad) {
    const LaidOut made = laid_out();
    // A fresh Service: a cold in-process cache; and a cold Redis key.
    service_ = std::make_unique<Service>(db_, redis_, metrics_);
    run(redis_.del({Service::seat_map_key(made.schedule.id)}));
    const std::uint64_t before = service_->store().queries();
    std::vector<std::string> etags(50);
    for (auto& etag : etags) {
        asio::co_spawn(io_, read_seat_map(*service_, made.schedule.id, etag), asio::detached);
    }
    io_.restart();
    io_.run();
    EXPECT_EQ(service_->store().queries() - before, 2u);  // one load = the zones and the seats statements
    for (const auto& etag : etags) EXPECT_EQ(etag, etags.front());
    EXPECT_FALSE(etags.front().empty());
}

TEST_F(CatalogServiceDbTest, AnotherProcessGetsTheSeatMapFromRedisWithTheSameETag) {
    const LaidOut made = laid_out();
    const std::string etag = run(service_->seat_map(made.schedule.id))->etag;
    Service other(db_, redis_, metrics_);
    const std::uint64_t before = other.store().queries();
    const auto map = run(other.seat_map(made.schedule.id));
    EXPECT_EQ(other.store().queries(), before);
    EXPECT_EQ(map->etag, etag);
    EXPECT_EQ(map->seats.size(), 20u);
    EXPECT_EQ(other.seat_map_in_memory(made.schedule.id), map);
}

TEST_F(CatalogServiceDbTest, CreatingAScheduleInvalidatesTheConcertsScheduleList) {
    const Concert concert = make_concert();
    make_schedule(concert.id, 20);
    EXPECT_EQ(run(service_->schedules(concert.id)).size(), 1u);
    EXPECT_TRUE(run(redis_.get(Service::schedules_key(concert.id))));
    make_schedule(concert.id, 21);
    EXPECT_EQ(run(service_->schedules(concert.id)).size(), 2u);
}

TEST_F(CatalogServiceDbTest, CreatingALayoutInvalidatesTheScheduleListAndTheSeatMap) {
    const Concert concert = make_concert();
    const Schedule schedule = make_schedule(concert.id);
    EXPECT_EQ(run(service_->schedules(concert.id)).at(0).at("seatCount").as_int64(), 0);
    EXPECT_TRUE(run(service_->seat_map(schedule.id))->seats.empty());
    run(service_->create_layout(schedule.id, layout(1, 1, 10)));
    EXPECT_EQ(run(service_->schedules(concert.id)).at(0).at("seatCount").as_int64(), 20);
    EXPECT_EQ(run(service_->seat_map(schedule.id))->seats.size(), 20u);
}

// The staleness bound (docs/decisions/0007): availability is never cached in the process or by HTTP caches
// (Cache-Control: no-cache), so once mark() has returned every read shows the change. The bound for a sold
// seat is therefore the delay between booking's commit and mark(): the event consumer's lag.
TEST_F(CatalogServiceDbTest, ASoldSeatShowsTakenOnTheVeryNextRead) {
    const LaidOut made = laid_out();
    const AvailabilityView before = run(service_->availability(made.schedule.id));
    EXPECT_EQ(before.seat_count, 20);
    EXPECT_EQ(before.taken, std::string(3, '\0'));
    const std::int64_t version = run(service_->bitset().mark(made.schedule.id, {0, 9}, SeatState::Sold));
    EXPECT_GT(version, before.version);
    const AvailabilityView after = run(service_->availability(made.schedule.id));
    EXPECT_EQ(after.version, version);
    EXPECT_TRUE(bit_at(after.taken, 0));
    EXPECT_TRUE(bit_at(after.taken, 9));
    EXPECT_FALSE(bit_at(after.taken, 1));

    const SeatPage page = run(service_->seats(made.schedule.id, std::nullopt, std::nullopt, 20));
    ASSERT_EQ(page.items.size(), 20u);
    EXPECT_EQ(page.items[0].second, SeatState::Sold);
    EXPECT_EQ(page.items[1].second, SeatState::Available);
    EXPECT_EQ(page.items[9].second, SeatState::Sold);

    const json::array schedules = run(service_->schedules(made.concert.id));
    const json::object& s = schedules.at(0).as_object();
    EXPECT_EQ(s.at("availableSeats").as_int64(), 18);
    EXPECT_EQ(s.at("zones").at(0).at("availableSeats").as_int64(), 7);   // VIP 0..7
    EXPECT_EQ(s.at("zones").at(1).at("availableSeats").as_int64(), 11);  // R 8..19
}

TEST_F(CatalogServiceDbTest, MarkIsIdempotentAndHeldDiffersFromSold) {
    const LaidOut made = laid_out();
    const std::int64_t held = run(service_->bitset().mark(made.schedule.id, {3}, SeatState::Held));
    EXPECT_EQ(run(service_->bitset().mark(made.schedule.id, {3}, SeatState::Held)), held);  // a redelivery
    SeatPage page = run(service_->seats(made.schedule.id, std::nullopt, std::nullopt, 5));
    EXPECT_EQ(page.items[3].second, SeatState::Held);
    const std::int64_t released = run(service_->bitset().mark(made.schedule.id, {3}, SeatState::Available));
    EXPECT_EQ(released, held + 1);
    page = run(service_->seats(made.schedule.id, std::nullopt, std::nullopt, 5));
    EXPECT_EQ(page.items[3].second, SeatState::Available);
    EXPECT_FALSE(bit_at(run(service_->availability(made.schedule.id)).taken, 3));
}

// A Redis flush (or a new schedule) must never show a sold or held seat as free: the first read merges in
// booking's live seats (booking.seat_states), keeping what events already wrote.
TEST_F(CatalogServiceDbTest, AColdViewIsRebuiltFromBookingsLiveSeatsOnce) {
    const LaidOut made = laid_out();
    // Seat index 1 HELD, 4 SOLD, 6 HELD but overdue (free), written as booking writes them.
    const auto book = [&](std::int32_t index, const std::string& state, const std::string& expires_in) {
        const std::string seat_state = state == "CONFIRMED" ? "SOLD" : "HELD";
        run(db_.query(
            "WITH r AS (INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, state, "
            "seat_count,"
            " total_price, created_at, expires_at, payment_id, confirmed_at) SELECT gen_random_uuid(), $1,"
            " gen_random_uuid(), $2, 1, 90000, now() - interval '10 minutes', now() + $3::interval,"
            " CASE WHEN $2 = 'CONFIRMED' THEN gen_random_uuid() END, CASE WHEN $2 = 'CONFIRMED' THEN now() "
            "END"
            " RETURNING id) INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, "
            "zone_id,"
            " price, state) SELECT r.id, s.id, $1, s.zone_id, 90000, $4 FROM r, catalog.seats s"
            " WHERE s.schedule_id = $1 AND s.seat_index = $5",
            db::params(made.schedule.id, state, expires_in, seat_state, index)));
    };
    book(1, "HELD", "5 minutes");
    book(4, "CONFIRMED", "5 minutes");
    book(6, "HELD", "-5 minutes");
    run(service_->bitset().reset(made.schedule.id));  // what a Redis flush leaves
    // An event that arrives before any read writes into the cold keys; the rebuild keeps it.
    run(service_->bitset().mark(made.schedule.id, {7}, SeatState::Held));

    run(service_->seat_map(made.schedule.id));  // loaded now, so the count below is the rebuild's alone
    const std::uint64_t before = service_->store().queries();
    const SeatPage page = run(service_->seats(made.schedule.id, std::nullopt, std::nullopt, 8));
    EXPECT_EQ(service_->store().queries() - before, 1u);  // one booking.seat_states query
    ASSERT_EQ(page.items.size(), 8u);
    EXPECT_EQ(page.items[0].second, SeatState::Available);
    EXPECT_EQ(page.items[1].second, SeatState::Held);
    EXPECT_EQ(page.items[4].second, SeatState::Sold);
    EXPECT_EQ(page.items[6].second, SeatState::Available);
    EXPECT_EQ(page.items[7].second, SeatState::Held);

    const AvailabilityView view = run(service_->availability(made.schedule.id));
    EXPECT_EQ(service_->store().queries() - before, 1u);  // built: later reads are Redis only
    EXPECT_TRUE(bit_at(view.taken, 1));
    EXPECT_TRUE(bit_at(view.taken, 4));
    EXPECT_FALSE(bit_at(view.taken, 6));
    // Events still apply after the rebuild.
    run(service_->bitset().mark(made.schedule.id, {1}, SeatState::Available));
    EXPECT_FALSE(bit_at(run(service_->availability(made.schedule.id)).taken, 1));
}

TEST_F(CatalogServiceDbTest, SeatsPageByIndexAndFilterByZone) {
    const LaidOut made = laid_out();
    SeatPage page = run(service_->seats(made.schedule.id, std::string("R"), std::nullopt, 5));
    ASSERT_EQ(page.items.size(), 5u);
    EXPECT_EQ(page.map->seats[page.items[0].first].index, 8);
    ASSERT_TRUE(page.next_after);
    EXPECT_EQ(*page.next_after, 12);
    page = run(service_->seats(made.schedule.id, std::string("R"), page.next_after, 100));
    EXPECT_EQ(page.items.size(), 7u);
    EXPECT_FALSE(page.next_after);
    try {
        run(service_->seats(made.schedule.id, std::string("GOLD"), std::nullopt, 5));
        ADD_FAILURE();
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 400);
        EXPECT_EQ(problem.extensions().at("field").as_string(), "zone");
    }
}

TEST_F(CatalogServiceDbTest, UnknownScheduleIs404ForMapAvailabilityAndSeats) {
    for (int i = 0; i < 3; ++i) {
        try {
            if (i == 0) run(service_->seat_map(INT64_MAX));
            if (i == 1) run(service_->availability(INT64_MAX));
            if (i == 2) run(service_->seats(INT64_MAX, std::nullopt, std::nullopt, 5));
            ADD_FAILURE() << i;
        } catch (const core::Problem& problem) {
            EXPECT_EQ(problem.status(), 404);
        }
    }
}

}  // namespace
}  // namespace marquee::catalog::testing
