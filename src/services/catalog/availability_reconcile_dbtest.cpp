// The reconcile against the real PostgreSQL (booking.seat_states) and Redis.
#include "dbtest_fixture.hpp"
#include "services/catalog/availability_reconcile.hpp"

namespace marquee::catalog::testing {
namespace {

class AvailabilityReconcileDbTest : public CatalogDbTest {
  protected:
    /// A laid-out schedule of 2 x 4 seats whose view is built (read once).
    Schedule laid_out() {
        Schedule schedule = make_schedule(make_concert().id);
        run(service_->create_layout(schedule.id, layout(1, 1, 4)));
        run(service_->availability(schedule.id));
        return schedule;
    }

    /// A live HELD seat written as booking writes it, with no event sent (a lost event).
    void hold_without_event(std::int64_t schedule_id, std::int32_t index) {
        run(
            db_.query("WITH r AS (INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, "
                      "state, seat_count,"
                      " total_price, created_at, expires_at) SELECT gen_random_uuid(), $1, "
                      "gen_random_uuid(), 'HELD', 1,"
                      " 90000, now(), now() + interval '5 minutes' RETURNING id)"
                      " INSERT INTO booking.reservation_seats (reservation_id, seat_id, schedule_id, "
                      "zone_id, price, state)"
                      " SELECT r.id, s.id, $1, s.zone_id, 90000, 'HELD' FROM r, catalog.seats s"
                      " WHERE s.schedule_id = $1 AND s.seat_index = $2",
                      db::params(schedule_id, index)));
    }

    AvailabilityReconciler reconciler(std::string lease_key, std::string owner = "test-replica") {
        ReconcileSettings settings;
        settings.lease_key = std::move(lease_key);
        settings.schedules_per_pass = 5;
        return AvailabilityReconciler(service_->store(), service_->bitset(), redis_, metrics_, settings,
                                      std::move(owner));
    }

    std::uint64_t fixes() {
        return metrics_.counter("availability_reconcile_fixes_total", "").with({}).value();
    }
};

// Drift both ways (a bit set that booking calls free, a live hold whose event never came) is repaired from
// booking.seat_states() on the second pass that sees it, counted, and shows in the next availability read.
TEST_F(AvailabilityReconcileDbTest, DriftIsRepairedOnTheSecondPassThatSeesItAndCounted) {
    const Schedule schedule = laid_out();
    run(service_->bitset().mark(schedule.id, {3}, SeatState::Sold));  // no booking row: drift
    hold_without_event(schedule.id, 5);
    AvailabilityReconciler reconcile = reconciler(test::unique_name("catalog:reconcile:lease"));
    const std::uint64_t before = fixes();

    const auto first = run(reconcile.reconcile_schedule(schedule.id));
    EXPECT_EQ(first.schedules, 1u);
    EXPECT_EQ(first.suspects, 2u);
    EXPECT_EQ(first.fixed, 0u);  // perhaps events on their way: not yet
    EXPECT_TRUE(bit_at(run(service_->availability(schedule.id)).taken, 3));

    const auto second = run(reconcile.reconcile_schedule(schedule.id));
    EXPECT_EQ(second.fixed, 2u);
    EXPECT_EQ(fixes() - before, 2u);
    const AvailabilityView view = run(service_->availability(schedule.id));  // this process: at once
    EXPECT_FALSE(bit_at(view.taken, 3));
    EXPECT_TRUE(bit_at(view.taken, 5));
    const SeatPage page = run(service_->seats(schedule.id, std::nullopt, std::nullopt, 8));
    EXPECT_EQ(page.items[3].second, SeatState::Available);
    EXPECT_EQ(page.items[5].second, SeatState::Held);

    const auto third = run(reconcile.reconcile_schedule(schedule.id));
    EXPECT_EQ(third.suspects + third.fixed, 0u);  // converged
}

// A difference that an event resolves before the next pass (the event was merely late) is never "repaired".
TEST_F(AvailabilityReconcileDbTest, ALateEventIsNotRepairedOrCounted) {
    const Schedule schedule = laid_out();
    hold_without_event(schedule.id, 2);
    AvailabilityReconciler reconcile = reconciler(test::unique_name("catalog:reconcile:lease"));
    const std::uint64_t before = fixes();
    EXPECT_EQ(run(reconcile.reconcile_schedule(schedule.id)).suspects, 1u);
    run(service_->bitset().mark(schedule.id, {2}, SeatState::Held));  // the event arrives
    const auto next = run(reconcile.reconcile_schedule(schedule.id));
    EXPECT_EQ(next.fixed + next.suspects, 0u);
    EXPECT_EQ(fixes(), before);
}

// One replica at a time: the lease holder walks, another replica does nothing until the lease is free.
TEST_F(AvailabilityReconcileDbTest, OnlyTheLeaseHolderWalks) {
    laid_out();
    const std::string lease = test::unique_name("catalog:reconcile:lease");
    AvailabilityReconciler first = reconciler(lease, "replica-a");
    AvailabilityReconciler second = reconciler(lease, "replica-b");
    // The walk is counted in catalog statements, not in a.schedules: the schedules it reaches first are
    // whatever other tests left in the shared database, and their views may not be built.
    const std::uint64_t before_leader = service_->store().queries();
    const auto a = run(first.pass_once());
    EXPECT_TRUE(a.leader);
    EXPECT_GT(service_->store().queries(), before_leader);  // it walked
    EXPECT_LE(a.schedules, 5u);                             // bounded: schedules_per_pass
    const std::uint64_t before_follower = service_->store().queries();
    EXPECT_FALSE(run(second.pass_once()).leader);
    EXPECT_EQ(service_->store().queries(), before_follower);  // it did not
    EXPECT_TRUE(run(first.pass_once()).leader);               // renewed by its holder
    std::vector<std::string> keys{lease};
    run(redis_.del(keys));  // the holder died and its lease ran out
    EXPECT_TRUE(run(second.pass_once()).leader);
}

}  // namespace
}  // namespace marquee::catalog::testing
