#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/store.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

/// The operators' controls against the real tables (ADR 0027): the row and its audit in one transaction, a
/// second process's copy following by version, the hold extension, and the admission scheduler obeying them.
class QueueControlsDbTest : public testing::QueueDbTest {
  protected:
    void SetUp() override {
        QueueDbTest::SetUp();
        std::vector<std::string> services{"catalog", "booking"};
        run(db::migrate(db_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
    }

    ScheduleControls change(Controls& controls, std::int64_t schedule, const char* body,
                            const std::string& actor = "00000000-0000-4000-8000-000000000001") {
        return run(
            controls.change(schedule, actor, parse_controls_patch(boost::json::parse(body).as_object())));
    }

    std::int64_t audit_rows(std::int64_t schedule) {
        return run(db_.query("SELECT count(*)::bigint AS n FROM queue.control_audit WHERE schedule_id = $1",
                             db::params(schedule)))
            .get<std::int64_t>(0, "n");
    }

    /// A HELD reservation of the schedule expiring `seconds` from now (negative: already overdue).
    std::string hold(std::int64_t schedule, int seconds) {
        return run(db_.query(
                       "INSERT INTO booking.reservations (user_id, schedule_id, queue_token_id, seat_count, "
                       "total_price, expires_at, created_at) VALUES ($1::uuid, $2, $3::uuid, 1, 1000, "
                       "now() + make_interval(secs => $4), now() - interval '1 hour') RETURNING id::text AS "
                       "id",
                       db::params(unique_user(), schedule, unique_user(), seconds)))
            .get<std::string>(0, "id");
    }

    /// Seconds from now to the reservation's expiry.
    double left(const std::string& reservation) {
        return run(db_.query(
                       "SELECT extract(epoch FROM expires_at - now())::float8 AS s FROM booking.reservations "
                       "WHERE id = $1::uuid",
                       db::params(reservation)))
            .get<double>(0, "s");
    }

    std::vector<std::string> join(WaitingRoom& room, std::int64_t schedule, int n) {
        std::vector<std::string> users;
        for (int i = 0; i < n; ++i) {
            users.push_back(unique_user());
            run(room.join(users.back(), schedule));
        }
        return users;
    }

    int count_in(WaitingRoom& room, std::int64_t schedule, const std::vector<std::string>& users,
                 TokenState state) {
        int n = 0;
        for (const auto& user : users) {
            const auto status = run(room.find_status(user, schedule));
            if (status && status->state == state) ++n;
        }
        return n;
    }
};

TEST_F(QueueControlsDbTest, AChangeIsOneRowAndOneAuditRowPerChangedField) {
    Controls controls(db_, nullptr);
    const auto schedule = unique_schedule();
    EXPECT_EQ(run(controls.read(schedule)), ScheduleControls{});

    const ScheduleControls after =
        change(controls, schedule, R"({"paused": true, "maxActive": 5, "salesClosed": false})");
    EXPECT_TRUE(after.paused);
    EXPECT_EQ(after.max_active, 5);
    EXPECT_EQ(run(controls.read(schedule)), after);
    EXPECT_EQ(controls.get(schedule), after) << "the changing process's copy follows at once";
    EXPECT_EQ(audit_rows(schedule), 2) << "salesClosed did not change";

    const std::vector<ControlAudit> rows = run(controls.audit(schedule, 10));
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].field, "paused");
    EXPECT_EQ(rows[1].before, boost::json::value(false));
    EXPECT_EQ(rows[1].after, boost::json::value(true));
    EXPECT_EQ(rows[1].actor, "00000000-0000-4000-8000-000000000001");
    EXPECT_EQ(rows[0].field, "maxActive");
    EXPECT_TRUE(rows[0].before.is_null());
    EXPECT_EQ(rows[0].after, boost::json::value(5));
    EXPECT_FALSE(rows[0].at.empty());

    change(controls, schedule, R"({"paused": true})");
    EXPECT_EQ(audit_rows(schedule), 2) << "a patch that changes nothing writes no audit row";
    change(controls, schedule, R"({"maxActive": null})");
    EXPECT_EQ(run(controls.read(schedule)).max_active, std::nullopt);
    EXPECT_EQ(audit_rows(schedule), 3);
}

TEST_F(QueueControlsDbTest, AnotherProcessSeesTheChangeAtItsNextRefresh) {
    Controls admin(db_, nullptr);
    Controls replica(db_, nullptr);
    const auto schedule = unique_schedule();
    run(replica.refresh());
    EXPECT_FALSE(replica.get(schedule).sales_closed);
    change(admin, schedule, R"({"salesClosed": true, "holdExtensionSeconds": 60})");
    EXPECT_GE(run(replica.refresh()), 1u);
    EXPECT_TRUE(replica.get(schedule).sales_closed);
    EXPECT_EQ(replica.get(schedule).hold_extension_seconds, 60);
    change(admin, schedule, R"({"salesClosed": false, "holdExtensionSeconds": 0})");
    run(replica.refresh());
    EXPECT_EQ(replica.get(schedule), ScheduleControls{}) << "back at the defaults";
}

TEST_F(QueueControlsDbTest, ALongerExtensionMovesTheLiveHoldsOnly) {
    Controls controls(db_, nullptr);
    const auto schedule = unique_schedule();
    const auto other = unique_schedule();
    const std::string live = hold(schedule, 300);
    const std::string overdue = hold(schedule, -5);
    const std::string elsewhere = hold(other, 300);

    change(controls, schedule, R"({"holdExtensionSeconds": 120})");
    EXPECT_NEAR(left(live), 420, 30);
    EXPECT_LT(left(overdue), 0) << "an overdue hold is not revived";
    EXPECT_NEAR(left(elsewhere), 300, 30) << "another schedule's holds stay";

    change(controls, schedule, R"({"holdExtensionSeconds": 60})");
    EXPECT_NEAR(left(live), 420, 30) << "a shorter extension does not shorten a live hold";
    change(controls, schedule, R"({"holdExtensionSeconds": 90})");
    EXPECT_NEAR(left(live), 450, 30) << "only the added seconds";
}

TEST_F(QueueControlsDbTest, PausedAdmitsNobodyAndTheOperatorsBoundWins) {
    auto room = std::make_shared<WaitingRoom>(redis_, test_settings());
    auto store = std::make_shared<Store>(db_);
    auto controls = std::make_shared<Controls>(db_, nullptr);
    Scheduler scheduler(room, store, nullptr);
    scheduler.set_controls(controls);
    const auto schedule = unique_schedule();
    const auto users = join(*room, schedule, 5);

    change(*controls, schedule, R"({"paused": true})");
    TickReport report = run(scheduler.tick());
    EXPECT_EQ(report.admitted, 0);
    EXPECT_EQ(count_in(*room, schedule, users, TokenState::Waiting), 5) << "paused keeps every fan WAITING";

    change(*controls, schedule, R"({"paused": false, "maxActive": 2})");
    report = run(scheduler.tick());
    EXPECT_EQ(report.admitted, 2);
    EXPECT_EQ(count_in(*room, schedule, users, TokenState::Active), 2);

    change(*controls, schedule, R"({"maxActive": null})");
    report = run(scheduler.tick());
    EXPECT_EQ(report.admitted, 3) << "back to the configured bound";
}

TEST_F(QueueControlsDbTest, AHoldExtensionAlsoLengthensTheQueueTokensIdleTtl) {
    auto room = std::make_shared<WaitingRoom>(redis_, test_settings());  // ACTIVE idle TTL 10 min
    auto store = std::make_shared<Store>(db_);
    auto controls = std::make_shared<Controls>(db_, nullptr);
    room->set_controls(controls);
    Scheduler scheduler(room, store, nullptr);
    const auto schedule = unique_schedule();
    const std::string user = join(*room, schedule, 1).front();
    run(scheduler.tick());
    const auto status = run(room->find_status(user, schedule));
    ASSERT_TRUE(status && status->state == TokenState::Active);

    const GateCheck before = run(room->check(user, schedule, status->token));
    change(*controls, schedule, R"({"holdExtensionSeconds": 600})");
    const GateCheck after = run(room->check(user, schedule, status->token));
    ASSERT_EQ(after.outcome, GateOutcome::Active);
    EXPECT_NEAR(static_cast<double>(after.expires_at - before.expires_at), 600'000, 5'000)
        << "the token lives the extension longer, so it outlives the longer hold";
}

}  // namespace
}  // namespace marquee::queue
