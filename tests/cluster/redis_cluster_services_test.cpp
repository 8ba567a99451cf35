// The queue, booking and catalog Redis paths against a real Redis Cluster (tests/cluster/run; ADR 0020).
#include <algorithm>
#include <thread>

#include "cluster_support.hpp"
#include "core/problem.hpp"
#include "local_services.hpp"
#include "redis/cluster_map.hpp"
#include "services/booking/rules.hpp"
#include "services/catalog/availability.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::cluster_test {
namespace {

TEST_F(RedisClusterTest, WaitingRoomJoinsAdmitsChecksAndReleasesOnOneSlot) {
    queue::Settings settings;
    settings.admit_per_second = 1000;
    settings.tick = 1000ms;
    settings.max_active = 2;
    settings.schedules_key = test::unique_name("queue:cluster-schedules");
    queue::WaitingRoom room(redis_, settings);
    const std::int64_t schedule = fresh_schedule();
    run([&]() -> asio::awaitable<void> {
        const queue::Joined first = co_await room.join("user-a", schedule);
        const queue::Joined second = co_await room.join("user-b", schedule);
        const queue::Joined third = co_await room.join("user-c", schedule);
        EXPECT_TRUE(first.created);
        EXPECT_EQ(third.status.position, 3);
        const queue::Joined again = co_await room.join("user-a", schedule);
        EXPECT_FALSE(again.created);
        const queue::AdmitStep step = co_await room.admit(schedule);
        EXPECT_EQ(step.admitted, 2);
        EXPECT_EQ(step.waiting, 1);
        const queue::GateCheck gate = co_await room.check("user-a", schedule, first.status.token);
        EXPECT_EQ(gate.outcome, queue::GateOutcome::Active);
        const queue::GateCheck waiting = co_await room.check("user-c", schedule, third.status.token);
        EXPECT_EQ(waiting.outcome, queue::GateOutcome::Waiting);
        EXPECT_TRUE(co_await room.release(schedule, second.status.token));
        const std::vector<std::int64_t> schedules = co_await room.schedules();
        EXPECT_NE(std::find(schedules.begin(), schedules.end(), schedule), schedules.end());
    }());
    EXPECT_EQ(redis_.stats().moved, 0u);
}

TEST_F(RedisClusterTest, SeatLocksAndAvailabilityShareTheSchedulesSlot) {
    const std::int64_t schedule = fresh_schedule();
    EXPECT_EQ(redis::key_slot(booking::seat_lock_key(schedule, 1)),
              redis::key_slot(queue::key_prefix(schedule)));
    EXPECT_EQ(redis::key_slot(catalog::AvailabilityBitset::taken_key(schedule)),
              redis::key_slot(booking::seat_lock_key(schedule, 99)));
    catalog::AvailabilityBitset availability(redis_);
    run([&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await redis_.try_set(booking::seat_lock_key(schedule, 1), "hold-1", 60s));
        EXPECT_FALSE(co_await redis_.try_set(booking::seat_lock_key(schedule, 1), "hold-2", 60s));
        std::vector<std::int32_t> seats{0, 5};
        const std::int64_t version = co_await availability.mark(schedule, seats, catalog::SeatState::Held);
        EXPECT_EQ(version, 1);
        const catalog::Availability read = co_await availability.read(schedule);
        EXPECT_EQ(read.version, 1);
        EXPECT_FALSE(read.taken.empty());
        if (!read.taken.empty()) {
            EXPECT_EQ(static_cast<unsigned char>(read.taken[0]) & 0x84u, 0x84u);  // seats 0 and 5
        }
        co_await availability.reset(schedule);
    }());
}

}  // namespace
}  // namespace marquee::cluster_test
