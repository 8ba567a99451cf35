#include <chrono>
#include <thread>

#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/store.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

/// Automatic admission (ADR 0016) against the real scripts: the bound the scheduler applies moves, and only
/// within floor and ceiling; an operator's fixed numbers win.
class QueueAdmissionDbTest : public testing::QueueDbTest {
  protected:
    static Settings automatic() {
        Settings s = test_settings();
        s.auto_max_active = true;
        s.admission.floor = 2;
        s.admission.ceiling = 6;
        s.admission.start = 3;
        s.admission.interval = 1ms;
        return s;
    }

    std::vector<std::string> join(WaitingRoom& room, std::int64_t schedule, int n) {
        std::vector<std::string> users;
        for (int i = 0; i < n; ++i) {
            users.push_back(unique_user());
            run(room.join(users.back(), schedule));
        }
        return users;
    }

    /// Every ACTIVE fan passes one gate check (a hold) and pays (release): purchases the controller measures.
    int purchase_all(WaitingRoom& room, std::int64_t schedule, const std::vector<std::string>& users) {
        int done = 0;
        for (const auto& user : users) {
            const auto status = run(room.find_status(user, schedule));
            if (!status || status->state != TokenState::Active) continue;
            EXPECT_EQ(run(room.check(user, schedule, status->token)).outcome, GateOutcome::Active);
            if (run(room.release(schedule, status->token))) ++done;
        }
        return done;
    }

    std::string field(std::int64_t schedule, const std::string& name) {
        const redis::Reply r =
            run(redis_.command("HGET", "queue:{" + std::to_string(schedule) + "}:admission", name))
                .or_throw();
        return r.is_nil() ? std::string() : r.as_string();
    }
};

TEST_F(QueueAdmissionDbTest, TheAutomaticBoundGrowsAndShrinksWithinFloorAndCeiling) {
    auto room = std::make_shared<WaitingRoom>(redis_, automatic());
    auto store = std::make_shared<Store>(db_);
    std::uint64_t shed = 0;
    Scheduler scheduler(room, store, nullptr, [&shed] { return shed; });
    const auto schedule = unique_schedule();
    const auto users = join(*room, schedule, 200);

    TickReport report = run(scheduler.tick());
    EXPECT_EQ(report.admitted, 3) << "before any step the start bound applies";
    EXPECT_EQ(report.steps, 1);
    EXPECT_EQ(field(schedule, "bound"), "3.000");

    std::int64_t highest = 0;
    for (int i = 0; i < 12; ++i) {
        purchase_all(*room, schedule, users);
        std::this_thread::sleep_for(3ms);  // past the 1 ms interval on the Redis clock
        report = run(scheduler.tick());
        EXPECT_LE(report.active, 6) << "never more ACTIVE than the ceiling";
        EXPECT_LE(report.bound, 6);
        EXPECT_GE(report.bound, 2);
        highest = std::max(highest, report.bound);
    }
    EXPECT_EQ(highest, 6) << "fans waiting and fast purchases: the bound grows to the ceiling";
    EXPECT_GT(std::stoll(field(schedule, "used")), 20) << "the release script counts every purchase";

    // Pressure (pool sheds) from now on: the bound falls, but not below the floor.
    std::int64_t lowest = highest;
    for (int i = 0; i < 8; ++i) {
        shed += 5;
        purchase_all(*room, schedule, users);
        std::this_thread::sleep_for(3ms);
        report = run(scheduler.tick());
        EXPECT_GE(report.bound, 2) << "never below the floor";
        EXPECT_LE(report.active, 6);
        lowest = std::min(lowest, report.bound);
    }
    EXPECT_EQ(lowest, 2);
    EXPECT_EQ(field(schedule, "probing"), "0") << "congestion ends the slow start";
}

TEST_F(QueueAdmissionDbTest, ThePoolCapStopsTheSlowStartAndTravelsInTheSharedState) {
    // ADR 0045. Start 3, ceiling 6: without a cap the slow start doubles 3 -> 6. Replica A's pool measured
    // 20 ms between hand-overs: cap = 80 ms (the default budget) / 20 ms = 4 fans. Replica B's pool has
    // measured nothing, and B takes every step after the first: the interval A stored in Redis caps B's
    // doubling.
    Settings settings = automatic();
    settings.admission.interval = 1ms;
    auto room_a = std::make_shared<WaitingRoom>(redis_, settings);
    auto room_b = std::make_shared<WaitingRoom>(redis_, settings);
    auto store = std::make_shared<Store>(db_);
    Scheduler a(room_a, store, nullptr, {}, [] { return 20.0; });
    Scheduler b(room_b, store, nullptr, {}, [] { return 0.0; });
    const auto schedule = unique_schedule();
    const auto users = join(*room_a, schedule, 200);

    EXPECT_EQ(run(a.tick()).steps, 1);
    EXPECT_EQ(field(schedule, "bound"), "3.000");
    EXPECT_EQ(field(schedule, "hand"), "20.000") << "A's measurement is in the shared state";

    std::int64_t highest = 0;
    bool capped = false;
    for (int i = 0; i < 4 && !capped; ++i) {
        purchase_all(*room_b, schedule, users);
        std::this_thread::sleep_for(3ms);
        const TickReport report = run(b.tick());
        EXPECT_LE(report.bound, 4) << "the slow start never passes the pool's cap";
        highest = std::max(highest, report.bound);
        capped = field(schedule, "probing") == "0";
    }
    EXPECT_TRUE(capped) << "reaching the cap ends the slow start";
    EXPECT_EQ(field(schedule, "bound"), "4.000");
    EXPECT_EQ(field(schedule, "hand"), "20.000") << "B, without a measurement, kept A's";
    EXPECT_LE(highest, 4);

    // After the slow start, growth is additive and reaches the ceiling: the cap bounds the slow start only.
    for (int i = 0; i < 12; ++i) {
        purchase_all(*room_b, schedule, users);
        std::this_thread::sleep_for(3ms);
        highest = std::max(highest, run(b.tick()).bound);
    }
    EXPECT_EQ(highest, 6);
}

TEST_F(QueueAdmissionDbTest, TwoSchedulersAgreeOnOneBoundAndOneStepPerInterval) {
    Settings settings = automatic();
    settings.admission.interval = 60s;
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    auto other_room = std::make_shared<WaitingRoom>(redis_, settings);
    auto store = std::make_shared<Store>(db_);
    Scheduler a(room, store, nullptr);
    Scheduler b(other_room, store, nullptr);
    const auto schedule = unique_schedule();
    join(*room, schedule, 20);
    EXPECT_EQ(run(a.tick()).steps, 1);
    const TickReport second = run(b.tick());
    EXPECT_EQ(second.steps, 0) << "the step of this interval is taken";
    EXPECT_EQ(second.bound, 3);
    EXPECT_EQ(second.active, 3) << "both admit under the one stored bound";
}

TEST_F(QueueAdmissionDbTest, FixedSettingsOverrideTheController) {
    Settings settings = automatic();
    settings.auto_max_active = false;
    settings.max_active = 2;
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(room, store, nullptr);
    const auto schedule = unique_schedule();
    const auto users = join(*room, schedule, 50);
    for (int i = 0; i < 8; ++i) {
        purchase_all(*room, schedule, users);
        std::this_thread::sleep_for(3ms);
        const TickReport report = run(scheduler.tick());
        EXPECT_EQ(report.bound, 2);
        EXPECT_LE(report.active, 2);
        EXPECT_EQ(report.steps, 0) << "no controller with both numbers fixed";
    }
    EXPECT_EQ(field(schedule, "bound"), "") << "no controller state was stored";
    EXPECT_NE(field(schedule, "used"), "") << "purchases are still counted";
}

TEST_F(QueueAdmissionDbTest, AFixedBoundWithAnAutomaticRateKeepsTheBound) {
    Settings settings = automatic();
    settings.auto_max_active = false;
    settings.auto_admit_rate = true;
    settings.max_active = 4;
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(room, store, nullptr);
    const auto schedule = unique_schedule();
    const auto users = join(*room, schedule, 60);
    for (int i = 0; i < 8; ++i) {
        purchase_all(*room, schedule, users);
        std::this_thread::sleep_for(3ms);
        const TickReport report = run(scheduler.tick());
        EXPECT_EQ(report.bound, 4);
        EXPECT_LE(report.active, 4);
        EXPECT_GT(report.rate, 0);
    }
    EXPECT_NE(field(schedule, "rate"), "") << "the rate is the controller's";
}

}  // namespace
}  // namespace marquee::queue
