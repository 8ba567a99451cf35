// Invariant 1 under load: 1,000 clients race to hold the same seat through the service (Redis lock, then the
// database's partial unique index), on several threads, against the real local PostgreSQL and Redis.
#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "services/booking/test_fixture.hpp"

namespace marquee::booking::testing {
namespace {

class SeatHolds : public BookingDbTest {
  protected:
    SeatHolds() : BookingDbTest(4, 16) {}
};

/// One racer: 1 when it held the seat, 0 when refused with 409 seat-taken; anything else fails the test.
asio::awaitable<int> race(Service& service, std::string user, std::string token, HoldRequest request) {
    try {
        const auto reservation = co_await service.hold(user, token, request);
        co_return reservation.state == "HELD" ? 1 : 100;
    } catch (const core::Problem& p) {
        if (p.status() == 409 && p.type() == "seat-taken") co_return 0;
        throw;
    }
}

TEST_F(SeatHolds, OneWinnerPerSeatUnder1000Racers) {
    const auto s = make_schedule(2);
    const auto seat = s.seats[0];
    constexpr int kRacers = 1000;
    std::vector<std::string> users;
    users.reserve(kRacers);
    for (int i = 0; i < kRacers; ++i) users.push_back(new_uuid());

    std::vector<std::future<int>> racers;
    racers.reserve(kRacers);
    for (int i = 0; i < kRacers; ++i) {
        HoldRequest r{s.id, {seat}};
        racers.push_back(asio::co_spawn(
            ioc_, race(*service_, users[static_cast<std::size_t>(i)], users[static_cast<std::size_t>(i)], r),
            asio::use_future));
    }
    int held = 0;
    int refused = 0;
    for (auto& f : racers) {
        const int outcome = f.get();
        if (outcome == 1) ++held;
        if (outcome == 0) ++refused;
    }
    EXPECT_EQ(held, 1);
    EXPECT_EQ(refused, kRacers - 1);
    EXPECT_EQ(live_rows(s, seat), 1);
    EXPECT_EQ(
        sql("SELECT count(*)::bigint FROM booking.reservation_seats WHERE schedule_id = $1 AND seat_id = $2",
            db::params(s.id, seat))
            .get<std::int64_t>(0, 0),
        1);
    EXPECT_EQ(
        sql("SELECT count(*)::bigint FROM booking.reservation_seats WHERE schedule_id = $1 AND seat_id = $2 "
            "AND state = 'HELD'",
            db::params(s.id, seat))
            .get<std::int64_t>(0, 0),
        1);
    EXPECT_EQ(live_rows(s, s.seats[1]), 0);
}

}  // namespace
}  // namespace marquee::booking::testing
