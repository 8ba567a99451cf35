// Idempotent holds under contention (issue 16; ADR 0032): 20 requests of one fan with one Idempotency-Key at
// once, through the service against the real local PostgreSQL and Redis, make exactly one reservation. Every
// 201 answers that reservation; a seat hold's others can only be 409 `seat-taken`, refused by the Redis seat
// lock the first request still holds (never a second hold, never `ticket-limit-reached`).
#include <future>
#include <set>
#include <string>
#include <vector>

#include "services/booking/test_fixture.hpp"

namespace marquee::booking::testing {
namespace {

class IdempotentHoldRaces : public BookingDbTest {
  protected:
    IdempotentHoldRaces() : BookingDbTest(4, 16) {}

    std::int64_t reservations_of(const std::string& user) {
        return sql("SELECT count(*)::bigint FROM booking.reservations WHERE user_id = $1::uuid",
                   db::params(user))
            .get<std::int64_t>(0, 0);
    }
};

/// One request: the reservation id it was answered, or "409" for a `seat-taken`; anything else fails.
asio::awaitable<std::string> attempt(Service& service, std::string user, HoldRequest request) {
    try {
        const auto reservation = co_await service.hold(user, user, request, std::string("one-key"));
        co_return reservation.id;
    } catch (const core::Problem& p) {
        if (p.status() == 409 && p.type() == "seat-taken") co_return "409";
        ADD_FAILURE() << p.status() << " " << p.type() << ": " << p.detail();
    }
    co_return "failed";
}

TEST_F(IdempotentHoldRaces, TwentyParallelRequestsWithOneKeyMakeExactlyOneReservation) {
    const auto s = make_schedule(8);
    const auto zone = sql("SELECT zone_id FROM catalog.seats WHERE id = $1", db::params(s.seats[0]))
                          .get<std::int64_t>(0, 0);
    for (const bool best : {false, true}) {
        const auto fan = new_uuid();
        const HoldRequest r = best ? HoldRequest{s.id, {}, zone, 2} : request(s, {s.seats[0], s.seats[1]});
        std::vector<std::future<std::string>> racers;
        racers.reserve(20);
        for (int i = 0; i < 20; ++i) {
            racers.push_back(asio::co_spawn(ioc_, attempt(*service_, fan, r), asio::use_future));
        }
        std::set<std::string> ids;
        int refused = 0;
        for (auto& f : racers) {
            const auto id = f.get();
            if (id == "409") {
                ++refused;
            } else {
                ids.insert(id);
            }
        }
        EXPECT_EQ(ids.size(), 1U) << (best ? "best available" : "seat hold");
        EXPECT_EQ(ids.count("failed"), 0U);
        EXPECT_EQ(reservations_of(fan), 1);
        // Best available takes no seat lock: every request is answered the one reservation.
        if (best) {
            EXPECT_EQ(refused, 0);
        }
        // The key answers it after the race too.
        EXPECT_EQ(run(service_->hold(fan, fan, r, std::string("one-key"))).id, *ids.begin());
    }
}

}  // namespace
}  // namespace marquee::booking::testing
