// Idempotent holds (issue 16; ADR 0032) against the real PostgreSQL and Redis: a hold sent again with its
// Idempotency-Key answers the reservation the first made, as it is now, and never holds a second time; the
// key with another request is 422. The service answers a replay before its fast refusals; booking.hold and
// booking.hold_best decide the same by themselves under the fan's lock (the store's calls below skip the
// service).
#include <future>
#include <set>

#include "services/booking/rules.hpp"
#include "services/booking/test_fixture.hpp"

namespace marquee::booking::testing {
namespace {

class IdempotentHoldDbTest : public BookingDbTest {
  protected:
    IdempotentHoldDbTest() : BookingDbTest(4, 16) {}

    Reservation keyed(const std::string& user, const HoldRequest& r, const std::string& key) {
        return run(service_->hold(user, new_uuid(), r, key));
    }

    /// booking.hold through the store only (no service lookup, no Redis): the database decides.
    NewHold new_hold(const std::string& user, const HoldRequest& r, const std::string& key) {
        NewHold h;
        h.user_id = user;
        h.schedule_id = r.schedule_id;
        h.queue_token_id = new_uuid();
        h.seat_ids = r.seat_ids;
        h.zone_id = r.zone_id;
        h.count = r.count;
        h.ttl = kDefaultHoldTtl;
        h.idempotency_key = key;
        h.request_hash = hold_request_hash(r);
        return h;
    }

    std::int64_t reservations_of(const std::string& user) {
        return sql("SELECT count(*)::bigint FROM booking.reservations WHERE user_id = $1::uuid",
                   db::params(user))
            .get<std::int64_t>(0, 0);
    }

    std::int64_t zone_of(const TestSchedule& s) {
        return sql("SELECT zone_id FROM catalog.seats WHERE id = $1", db::params(s.seats[0]))
            .get<std::int64_t>(0, 0);
    }
};

TEST_F(IdempotentHoldDbTest, TheSameKeyAndRequestAnswerTheSameReservationAndHoldNothingMore) {
    const auto s = make_schedule(6);
    const auto fan = new_uuid();
    const auto first = keyed(fan, request(s, {s.seats[0], s.seats[1]}), "retry-1");
    EXPECT_FALSE(first.replayed);
    const auto again = keyed(fan, request(s, {s.seats[1], s.seats[0]}), "retry-1");  // same seats, any order
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.state, "HELD");
    EXPECT_EQ(again.total_price, first.total_price);
    EXPECT_EQ(again.expires_at, first.expires_at);
    ASSERT_EQ(again.seats.size(), 2U);
    EXPECT_EQ(again.seats[0].seat_id, s.seats[0]);
    EXPECT_EQ(again.seats[0].state, "HELD");
    EXPECT_EQ(reservations_of(fan), 1);
    EXPECT_EQ(outbox_count(first.id, "reservation.held"), 1);
    auto& holds = metrics_.counter("booking_holds_total", "");
    EXPECT_EQ(holds.with({{"outcome", "held"}}).value(), 1);
    EXPECT_EQ(holds.with({{"outcome", "replayed"}}).value(), 1);
    // Another key of the same fan is another hold: 409 for the fan's own seats, as without keys.
    const auto p = problem_of([&] { (void)keyed(fan, request(s, {s.seats[0]}), "retry-2"); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
    // The same key string of another fan is that fan's own key.
    EXPECT_EQ(keyed(new_uuid(), request(s, {s.seats[2]}), "retry-1").replayed, false);
}

TEST_F(IdempotentHoldDbTest, TheKeyWithAnotherRequestIs422AndHoldsNothing) {
    const auto s = make_schedule(6);
    const auto other = make_schedule(2);
    const auto fan = new_uuid();
    (void)keyed(fan, request(s, {s.seats[0]}), "k");
    for (const auto& r : {request(s, {s.seats[1]}), request(s, {s.seats[0], s.seats[1]}),
                          request(other, {other.seats[0]}), HoldRequest{s.id, {}, zone_of(s), 1}}) {
        const auto p = problem_of([&] { (void)keyed(fan, r, "k"); });
        ASSERT_TRUE(p);
        EXPECT_EQ(p->status(), 422);
        EXPECT_EQ(p->type(), "idempotency-key-reused");
        // The database says the same without the service's lookup.
        const auto q = problem_of([&] {
            if (r.best_available()) {
                (void)run(store_->hold_best(new_hold(fan, r, "k")));
            } else {
                (void)run(store_->hold(new_hold(fan, r, "k")));
            }
        });
        ASSERT_TRUE(q);
        EXPECT_EQ(q->status(), 422);
        EXPECT_EQ(q->type(), "idempotency-key-reused");
    }
    EXPECT_EQ(reservations_of(fan), 1);
    EXPECT_EQ(live_rows(s, s.seats[1]), 0);
}

TEST_F(IdempotentHoldDbTest, TheDatabaseReplaysWithoutTheServicesLookup) {
    const auto s = make_schedule(6);
    const auto fan = new_uuid();
    const auto r = request(s, {s.seats[3]});
    const auto first = run(store_->hold(new_hold(fan, r, "db-1")));
    ASSERT_TRUE(first.reservation);
    EXPECT_FALSE(first.reservation->replayed);
    const auto again = run(store_->hold(new_hold(fan, r, "db-1")));
    ASSERT_TRUE(again.reservation);
    EXPECT_TRUE(again.reservation->replayed);
    EXPECT_EQ(again.reservation->id, first.reservation->id);
    EXPECT_TRUE(again.taken.empty());

    const HoldRequest best{s.id, {}, zone_of(s), 2};
    const auto b1 = run(store_->hold_best(new_hold(fan, best, "db-2")));
    const auto b2 = run(store_->hold_best(new_hold(fan, best, "db-2")));
    EXPECT_FALSE(b1.replayed);
    EXPECT_TRUE(b2.replayed);
    EXPECT_EQ(b2.id, b1.id);
    ASSERT_EQ(b2.seats.size(), 2U);
    EXPECT_EQ(b2.seats[0].seat_id, b1.seats[0].seat_id);
    EXPECT_EQ(b2.seats[1].seat_id, b1.seats[1].seat_id);
    EXPECT_EQ(reservations_of(fan), 2);
}

TEST_F(IdempotentHoldDbTest, BestAvailableWithAKeyReplaysTheSeatsItChose) {
    const auto s = make_schedule(8);
    const auto fan = new_uuid();
    const HoldRequest best{s.id, {}, zone_of(s), 3};
    const auto first = keyed(fan, best, "best-1");
    const auto again = keyed(fan, best, "best-1");
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.seats.size(), 3U);
    EXPECT_EQ(reservations_of(fan), 1);
}

// The replay of a hold that has since expired answers it EXPIRED (its seats RELEASED), never a new hold, by
// the service and by the database alike; and so does a replay of a confirmed one.
TEST_F(IdempotentHoldDbTest, AnExpiredHoldIsReplayedAsExpired) {
    const auto s = make_schedule(4);
    const auto fan = new_uuid();
    const auto r = request(s, {s.seats[0]});
    const auto first = keyed(fan, r, "late");
    make_overdue(first.id);
    const auto again = keyed(fan, r, "late");
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.state, "EXPIRED");
    ASSERT_EQ(again.seats.size(), 1U);
    EXPECT_EQ(again.seats[0].state, "RELEASED");
    const auto db = run(store_->hold(new_hold(fan, r, "late")));
    ASSERT_TRUE(db.reservation);
    EXPECT_EQ(db.reservation->id, first.id);
    EXPECT_EQ(db.reservation->state, "EXPIRED");
    EXPECT_EQ(reservations_of(fan), 1);
    // Nothing was held again: the seat is free for others.
    EXPECT_EQ(hold(new_uuid(), s, {s.seats[0]}).state, "HELD");
}

// The fast refusals (TakenMemory, the Redis seat locks) would call the fan's own seats taken: the replay is
// answered before them.
TEST_F(IdempotentHoldDbTest, AReplayIsNotRefusedFromMemory) {
    const auto s = make_schedule(4);
    ServiceOptions options;
    options.taken_memory = std::chrono::milliseconds(60000);
    Service remembering(*store_, *redis_, stub_queue_check(), metrics_, options);
    const auto fan = new_uuid();
    const auto r = request(s, {s.seats[1]});
    const auto first = run(remembering.hold(fan, new_uuid(), r, std::string("mem")));
    const auto again = run(remembering.hold(fan, new_uuid(), r, std::string("mem")));
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.id, first.id);
    // Without the key the same request is refused from memory, as before.
    const auto p = problem_of([&] { (void)run(remembering.hold(fan, new_uuid(), r)); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "seat-taken");
}

// The queue check refuses a fan whose pass was used (the purchase ended it): the retry of the hold that began
// the purchase is still answered with its reservation, and without the key the same request is refused.
TEST_F(IdempotentHoldDbTest, AReplayIsAnsweredAfterTheQueuePassWasUsed) {
    const auto s = make_schedule(4);
    bool used = false;
    QueueCheck check = [&used](std::string, std::int64_t, std::string token) -> asio::awaitable<std::string> {
        if (used) throw core::Problem::gone("queue-token-used", "the queue pass was used");
        co_return token;
    };
    Service service(*store_, *redis_, check, metrics_, ServiceOptions{});
    const auto fan = new_uuid();
    const auto r = request(s, {s.seats[2]});
    const auto first = run(service.hold(fan, new_uuid(), r, std::string("pass")));
    used = true;
    const auto again = run(service.hold(fan, new_uuid(), r, std::string("pass")));
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.id, first.id);
    const auto reused = problem_of(
        [&] { (void)run(service.hold(fan, new_uuid(), request(s, {s.seats[3]}), std::string("pass"))); });
    ASSERT_TRUE(reused);
    EXPECT_EQ(reused->type(), "idempotency-key-reused");
    const auto p = problem_of([&] { (void)run(service.hold(fan, new_uuid(), r)); });
    ASSERT_TRUE(p);
    EXPECT_EQ(p->type(), "queue-token-used");
    EXPECT_EQ(reservations_of(fan), 1);
}

// Two requests with one key at once: the fan's lock serializes them inside the database, so the second finds
// the first's reservation. Through the store (no Redis lock in the way), eight at once, one hold.
TEST_F(IdempotentHoldDbTest, ConcurrentRequestsWithOneKeyHoldOnce) {
    for (const bool best : {false, true}) {
        const auto s = make_schedule(8);
        const auto fan = new_uuid();
        const HoldRequest r =
            best ? HoldRequest{s.id, {}, zone_of(s), 2} : request(s, {s.seats[0], s.seats[1]});
        std::vector<std::future<std::string>> racers;
        for (int i = 0; i < 8; ++i) {
            const NewHold h = new_hold(fan, r, "same");
            racers.push_back(asio::co_spawn(
                ioc_,
                [this, h, best]() -> asio::awaitable<std::string> {
                    if (best) {
                        co_return (co_await store_->hold_best(h)).id;
                    }
                    auto outcome = co_await store_->hold(h);
                    co_return outcome.reservation ? outcome.reservation->id : std::string("taken");
                },
                asio::use_future));
        }
        std::set<std::string> ids;
        for (auto& f : racers) ids.insert(f.get());
        EXPECT_EQ(ids.size(), 1U) << (best ? "best available" : "seat hold");
        EXPECT_EQ(ids.count("taken"), 0U);
        EXPECT_EQ(reservations_of(fan), 1);
    }
}

}  // namespace
}  // namespace marquee::booking::testing
