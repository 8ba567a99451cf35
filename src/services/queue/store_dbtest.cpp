#include <boost/asio/co_spawn.hpp>

#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/store.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

using QueueStoreDbTest = testing::QueueDbTest;

TEST_F(QueueStoreDbTest, UpsertOnlyMovesForward) {
    Store store(db_);
    const auto id = new_token_id();
    const auto user = unique_user();
    const auto schedule = unique_schedule();
    std::vector<AuditRecord> expired{{id, user, schedule, TokenState::Expired, 1, 1000, 2000, 3000, 4000}};
    std::vector<AuditRecord> waiting{{id, user, schedule, TokenState::Waiting, 1, 1000, 0, 0, 0}};
    run(store.record(expired));
    run(store.record(waiting));  // late and stale: ignored
    EXPECT_EQ(state_in_db(id), "EXPIRED");
    const db::Result r =
        run(db_.query("SELECT admitted_at IS NOT NULL AS admitted, ended_at IS NOT NULL AS ended, position "
                      "FROM queue.queue_tokens WHERE id = $1::uuid",
                      db::params(id)));
    ASSERT_EQ(r.rows(), 1);
    EXPECT_TRUE(r.get<bool>(0, "admitted"));
    EXPECT_TRUE(r.get<bool>(0, "ended"));
    EXPECT_EQ(r.get<std::int64_t>(0, "position"), 1);
}

TEST_F(QueueStoreDbTest, SchedulerAdmitsAndRecordsTheAuditInPostgres) {
    auto room = std::make_shared<WaitingRoom>(redis_, test_settings(/*max_active=*/2));
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(room, store, nullptr);
    const auto schedule = unique_schedule();
    std::vector<Joined> joined;
    joined.reserve(3);
    for (int i = 0; i < 3; ++i) joined.push_back(run(room->join(unique_user(), schedule)));

    const TickReport report = run(scheduler.tick());
    EXPECT_EQ(report.schedules, 1);
    EXPECT_EQ(report.admitted, 2);
    EXPECT_EQ(report.audited, 5) << "three joins, two admissions";
    EXPECT_EQ(state_in_db(joined[0].status.token), "ACTIVE");
    EXPECT_EQ(state_in_db(joined[1].status.token), "ACTIVE");
    EXPECT_EQ(state_in_db(joined[2].status.token), "WAITING");

    ASSERT_TRUE(run(room->release(schedule, joined[0].status.token)));
    run(scheduler.tick());
    EXPECT_EQ(state_in_db(joined[0].status.token), "USED");
    EXPECT_EQ(state_in_db(joined[2].status.token), "ACTIVE") << "the freed slot went to the next in line";
}

// ADR 0036: a burst of joins that all miss the opening's memory sends one query, not one each.
TEST_F(QueueStoreDbTest, ConcurrentMissesOfTheOpeningShareOneQuery) {
    std::vector<std::string> catalog{"catalog"};
    run(db::migrate(db_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), catalog));
    Store store(db_);
    const auto schedule = unique_schedule();  // no such schedule in catalog: the answer is "none"
    constexpr int kJoins = 20;
    int answered = 0;
    int none = 0;
    for (int i = 0; i < kJoins; ++i) {
        asio::co_spawn(
            io_,
            [&]() -> asio::awaitable<void> {
                const auto opens = co_await store.schedule_opens_at(schedule);
                ++answered;
                if (!opens) ++none;
            },
            [](const std::exception_ptr& e) {
                if (e) std::rethrow_exception(e);
            });
    }
    io_.restart();
    while (answered < kJoins && io_.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    EXPECT_EQ(answered, kJoins);
    EXPECT_EQ(none, kJoins);
    EXPECT_EQ(store.opening_queries(), 1u) << "the misses waited for the query in flight";
    // The next miss (nothing was remembered: there is no such schedule) asks again.
    EXPECT_FALSE(run(store.schedule_opens_at(schedule)).has_value());
    EXPECT_EQ(store.opening_queries(), 2u);
}

}  // namespace
}  // namespace marquee::queue
