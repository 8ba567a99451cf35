// ADR 0022: a waiting room that Redis lost (all of it, or the last writes) comes back from
// queue.queue_tokens. Redis "losing" a schedule is simulated by deleting every key of its hash slot
// (`queue:{S}:*`) and its entry in the scan set: what a restarted Redis without persistence, or a FLUSHALL,
// leaves of it.

#include <memory>
#include <vector>

#include "core/problem.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "redis/reply.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/gate.hpp"
#include "services/queue/recovery.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/store.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_schedule;
using testing::unique_user;

class QueueRecoveryDbTest : public testing::QueueDbTest {
  protected:
    /// A room as the queue service makes it: with its own Recovery (one per process).
    std::shared_ptr<WaitingRoom> room_with_recovery(const Settings& settings, redis::Client& redis) {
        auto room = std::make_shared<WaitingRoom>(redis, settings);
        room->set_recovery(std::make_shared<Recovery>(redis, db_, settings));
        return room;
    }

    /// Every Redis key of the schedule, and its place in the scan set: gone, as after a restart without
    /// persistence.
    void lose(std::int64_t schedule, const Settings& settings) {
        const std::string pattern = key_prefix(schedule) + "*";
        std::string cursor = "0";
        do {
            std::vector<std::string> scan{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
            const redis::Reply reply = run(redis_.command(std::move(scan))).or_throw();
            cursor = reply.elements().at(0).as_string();
            std::vector<std::string> keys;
            for (const auto& key : reply.elements().at(1).elements()) keys.push_back(key.as_string());
            if (!keys.empty()) run(redis_.del(std::move(keys)));
        } while (cursor != "0");
        std::vector<std::string> zrem{"ZREM", settings.schedules_key, std::to_string(schedule)};
        run(redis_.command(std::move(zrem))).or_throw();
    }

    std::int64_t keys_of(std::int64_t schedule) {
        std::vector<std::string> scan{"SCAN", "0", "MATCH", key_prefix(schedule) + "*", "COUNT", "100000"};
        const redis::Reply reply = run(redis_.command(std::move(scan))).or_throw();
        return static_cast<std::int64_t>(reply.elements().at(1).elements().size());
    }
};

struct Fan {
    std::string user;
    std::string token;
};

TEST_F(QueueRecoveryDbTest, LostRoomComesBackWithPlacesTurnsAndEndsKept) {
    const Settings settings = test_settings(/*max_active=*/2);
    auto room = room_with_recovery(settings, redis_);
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(room, store, nullptr);
    Gate gate(*room);
    const auto schedule = unique_schedule();
    std::vector<Fan> fans;
    for (int i = 0; i < 5; ++i) {
        Fan fan{unique_user(), ""};
        fan.token = run(room->join(fan.user, schedule)).status.token;
        fans.push_back(fan);
    }
    run(scheduler.tick());  // fans 0 and 1 ACTIVE, 2..4 WAITING, all audited
    ASSERT_TRUE(run(room->release(schedule, fans[1].token)));
    run(scheduler.tick());  // fan 1 USED, fan 2 ACTIVE; fans 3 and 4 WAITING at 1 and 2
    ASSERT_EQ(state_in_db(fans[1].token), "USED");
    ASSERT_EQ(state_in_db(fans[2].token), "ACTIVE");
    const std::int64_t rebuilds_before = room->recovery()->rebuilds();

    lose(schedule, settings);
    ASSERT_EQ(keys_of(schedule), 0);

    // The first call finds the marker gone and rebuilds; the waiting fans keep their order.
    const auto third = run(room->find_status(fans[3].user, schedule));
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->token, fans[3].token);
    EXPECT_EQ(third->state, TokenState::Waiting);
    EXPECT_EQ(third->position, 1);
    const auto fourth = run(room->find_status(fans[4].user, schedule));
    ASSERT_TRUE(fourth.has_value());
    EXPECT_EQ(fourth->state, TokenState::Waiting);
    EXPECT_EQ(fourth->position, 2);
    EXPECT_EQ(room->recovery()->rebuilds(), rebuilds_before + 1);

    // The ACTIVE fans keep their turn: they can still hold (the gate) and finish a purchase (release).
    EXPECT_EQ(run(gate.require_active(fans[0].user, schedule, fans[0].token)), fans[0].token);
    EXPECT_EQ(run(gate.require_active(fans[2].user, schedule, fans[2].token)), fans[2].token);
    const auto active = run(room->find_status(fans[0].user, schedule));
    ASSERT_TRUE(active.has_value());
    EXPECT_EQ(active->state, TokenState::Active);
    EXPECT_GT(active->expires_at, 0);

    // The USED token stays ended: 410 at the gate, USED in a status read.
    const core::Problem used = refusal(gate, fans[1].user, schedule, fans[1].token);
    EXPECT_EQ(used.status(), 410);
    EXPECT_EQ(used.type(), "queue-token-expired");
    const auto used_status = run(room->find_status(fans[1].user, schedule));
    ASSERT_TRUE(used_status.has_value());
    EXPECT_EQ(used_status->state, TokenState::Used);

    // A newcomer queues behind the restored fans, and the scheduler serves the rebuilt room again.
    const Joined late = run(room->join(unique_user(), schedule));
    EXPECT_TRUE(late.created);
    EXPECT_EQ(late.status.position, 3);
    ASSERT_TRUE(run(room->release(schedule, fans[0].token)));
    const TickReport report = run(scheduler.tick());
    EXPECT_EQ(report.admitted, 1);
    const auto admitted = run(room->find_status(fans[3].user, schedule));
    ASSERT_TRUE(admitted.has_value());
    EXPECT_EQ(admitted->state, TokenState::Active) << "the head of the restored line was admitted";
    EXPECT_EQ(room->recovery()->rebuilds(), rebuilds_before + 1) << "one rebuild for the one loss";
}

TEST_F(QueueRecoveryDbTest, TwoRoomsRacingRebuildOnce) {
    const Settings settings = test_settings(/*max_active=*/1);
    redis::Client other_redis{io_.get_executor(),
                              redis::ClientOptions{test::redis_url(), 8, std::chrono::seconds(5)}};
    auto first = room_with_recovery(settings, redis_);
    auto second = room_with_recovery(settings, other_redis);  // another replica: own client, own recovery
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(first, store, nullptr);
    const auto schedule = unique_schedule();
    std::vector<Fan> fans;
    for (int i = 0; i < 8; ++i) {
        Fan fan{unique_user(), ""};
        fan.token = run(first->join(fan.user, schedule)).status.token;
        fans.push_back(fan);
    }
    run(scheduler.tick());  // fan 0 ACTIVE, 1..7 WAITING
    const std::int64_t before = first->recovery()->rebuilds() + second->recovery()->rebuilds();
    lose(schedule, settings);

    // Every fan's status, half through each room, all at once.
    std::vector<std::optional<TokenStatus>> seen(fans.size());
    int failed = 0;
    for (std::size_t i = 0; i < fans.size(); ++i) {
        auto room = i % 2 == 0 ? first : second;
        asio::co_spawn(
            io_,
            [room, &seen, i, user = fans[i].user, schedule]() -> asio::awaitable<void> {
                seen[i] = co_await room->find_status(user, schedule);
            },
            [&failed](const std::exception_ptr& e) {
                if (e) ++failed;
            });
    }
    test::run_threads(io_, 1);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(first->recovery()->rebuilds() + second->recovery()->rebuilds(), before + 1);
    ASSERT_TRUE(seen[0].has_value());
    EXPECT_EQ(seen[0]->state, TokenState::Active);
    for (std::size_t i = 1; i < fans.size(); ++i) {
        ASSERT_TRUE(seen[i].has_value()) << i;
        EXPECT_EQ(seen[i]->token, fans[i].token);
        EXPECT_EQ(seen[i]->position, static_cast<std::int64_t>(i)) << "arrival order kept";
    }
    // Restoring again (a late rebuilder) changes nothing: every token is already there.
    std::vector<TokenRow> rows;
    for (const auto& fan : fans) {
        auto row = run(first->recovery()->find_token(fan.token));
        ASSERT_TRUE(row.has_value());
        rows.push_back(*row);
    }
    EXPECT_EQ(run(first->recovery()->restore(schedule, rows)), 0);
}

TEST_F(QueueRecoveryDbTest, TokenMissingFromARedisBehindIsPutBack) {
    const Settings settings = test_settings(/*max_active=*/1);
    auto room = room_with_recovery(settings, redis_);
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(room, store, nullptr);
    Gate gate(*room);
    const auto schedule = unique_schedule();
    const Fan active{unique_user(), ""};
    const Fan waiting{unique_user(), ""};
    const std::string active_token = run(room->join(active.user, schedule)).status.token;
    const std::string waiting_token = run(room->join(waiting.user, schedule)).status.token;
    run(scheduler.tick());
    // A promoted replica that missed these tokens' last writes: the schedule's marker is there, they are not.
    const std::string prefix = key_prefix(schedule);
    std::vector<std::string> gone{prefix + "token:" + active_token, prefix + "token:" + waiting_token,
                                  prefix + "user:" + active.user, prefix + "user:" + waiting.user};
    run(redis_.del(std::move(gone)));
    std::vector<std::string> zrem_active{"ZREM", prefix + "active", active_token};
    run(redis_.command(std::move(zrem_active))).or_throw();
    std::vector<std::string> zrem_waiting{"ZREM", prefix + "waiting", waiting_token};
    run(redis_.command(std::move(zrem_waiting))).or_throw();
    const std::int64_t rebuilds = room->recovery()->rebuilds();

    EXPECT_EQ(run(gate.require_active(active.user, schedule, active_token)), active_token);
    const auto status = run(room->find_status(waiting.user, schedule));
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->token, waiting_token);
    EXPECT_EQ(status->state, TokenState::Waiting);
    EXPECT_EQ(status->position, 1);
    EXPECT_EQ(room->recovery()->rebuilds(), rebuilds) << "one token each, not a schedule rebuild";
    // Someone else presenting the token is still refused, and so is a token PostgreSQL never saw.
    EXPECT_EQ(refusal(gate, unique_user(), schedule, active_token).type(), "queue-token-invalid");
    EXPECT_EQ(refusal(gate, active.user, schedule, new_token_id()).type(), "queue-token-invalid");
    // A user id that is no uuid never reaches PostgreSQL's uuid cast (no SQL error, just no token).
    EXPECT_FALSE(run(room->find_status("not-a-uuid", schedule)).has_value());
}

TEST_F(QueueRecoveryDbTest, ActiveRowLongPastItsExpiryComesBackEnded) {
    const Settings settings = test_settings();
    auto room = room_with_recovery(settings, redis_);
    Store store(db_);
    Gate gate(*room);
    const auto schedule = unique_schedule();
    run(room->admit(schedule));  // the schedule's first touch: an (empty) rebuild sets its marker
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    // PostgreSQL says ACTIVE, but its expiry passed an hour ago: a lost EXPIRED event, not a live turn.
    const std::string stale = new_token_id();
    const std::string user = unique_user();
    std::vector<AuditRecord> records{
        {stale, user, schedule, TokenState::Active, 1, now - 7'200'000, now - 4'200'000, now - 3'600'000, 0}};
    run(store.record(records));
    const core::Problem problem = refusal(gate, user, schedule, stale);
    EXPECT_EQ(problem.status(), 410);
    EXPECT_EQ(problem.type(), "queue-token-expired");
    // ... and the audit moves the row to EXPIRED.
    auto scheduler = std::make_shared<Scheduler>(room, std::make_shared<Store>(db_), nullptr);
    std::vector<std::string> zadd{"ZADD", settings.schedules_key, "1", std::to_string(schedule)};
    run(redis_.command(std::move(zadd))).or_throw();
    run(scheduler->tick());
    EXPECT_EQ(state_in_db(stale), "EXPIRED");
}

TEST_F(QueueRecoveryDbTest, ASlideOfAStepIsAuditedSoARebuildKnowsTheTurn) {
    const Settings settings = test_settings();  // active TTL 10 min: the audit step is 75 s
    Settings short_ttl = settings;
    short_ttl.active_ttl = 1min;
    auto room = room_with_recovery(settings, redis_);
    auto admit_short = room_with_recovery(short_ttl, redis_);
    auto store = std::make_shared<Store>(db_);
    Scheduler scheduler(admit_short, store, nullptr);
    Gate gate(*room);
    const auto schedule = unique_schedule();
    const std::string user = unique_user();
    const std::string token = run(room->join(user, schedule)).status.token;
    run(scheduler.tick());                            // ACTIVE for 1 min, audited
    run(gate.require_active(user, schedule, token));  // slides to now + 10 min: 9 min past the audited expiry
    run(scheduler.tick());
    const db::Result r =
        run(db_.query("SELECT expires_at > now() + interval '9 minutes' AS slid FROM queue.queue_tokens "
                      "WHERE id = $1::uuid",
                      db::params(token)));
    ASSERT_EQ(r.rows(), 1);
    EXPECT_TRUE(r.get<bool>(0, "slid"));
}

TEST_F(QueueRecoveryDbTest, WhileAnotherProcessRebuildsAFanGets503WithRetryAfterNeverA403) {
    const Settings settings = test_settings();
    RecoveryOptions options;
    options.wait = 100ms;
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    room->set_recovery(std::make_shared<Recovery>(redis_, db_, settings, options));
    Gate gate(*room);
    const auto schedule = unique_schedule();
    const std::string user = unique_user();
    const std::string token = run(room->join(user, schedule)).status.token;
    lose(schedule, settings);
    // Another process holds the rebuild's lease (and is slow): the marker stays absent.
    run(redis_.try_set(key_prefix(schedule) + "rebuild", "someone-else", 60s));
    const core::Problem during = refusal(gate, user, schedule, token);
    EXPECT_EQ(during.status(), 503);
    EXPECT_EQ(during.type(), "dependency-unavailable");
    ASSERT_TRUE(during.retry_after().has_value());
    EXPECT_EQ(during.retry_after()->count(), 1);
    // The other process gave up (its lease went): the next call rebuilds, and the fan, whose join never
    // reached PostgreSQL here (no scheduler ran), is unknown: that is the audit lag's window (ADR 0022).
    std::vector<std::string> lease{key_prefix(schedule) + "rebuild"};
    run(redis_.del(std::move(lease)));
    EXPECT_EQ(refusal(gate, user, schedule, token).type(), "queue-token-invalid");
    EXPECT_FALSE(run(room->find_status(user, schedule)).has_value());
}

TEST_F(QueueRecoveryDbTest, ALargeRoomComesBackInOrder) {
    const Settings settings = test_settings();
    auto room = room_with_recovery(settings, redis_);
    const auto schedule = unique_schedule();
    // 10,000 WAITING fans and 500 ACTIVE ones that PostgreSQL knows and Redis does not (the rebuild logs its
    // time: docs/reliability.md quotes it).
    run(db_.query(
        "INSERT INTO queue.queue_tokens (id, user_id, schedule_id, state, position, issued_at, "
        "admitted_at, expires_at) "
        "SELECT gen_random_uuid(), gen_random_uuid(), $1, CASE WHEN g <= 500 THEN 'ACTIVE' ELSE "
        "'WAITING' END, g, now(), CASE WHEN g <= 500 THEN now() END, CASE WHEN g <= 500 THEN now() + "
        "interval '5 minutes' END FROM generate_series(1, 10500) g",
        db::params(schedule)));
    const db::Result r = run(db_.query(
        "SELECT user_id::text AS user_id, id::text AS id FROM queue.queue_tokens WHERE schedule_id = $1 "
        "AND position IN (501, 7500, 10500) ORDER BY position",
        db::params(schedule)));
    ASSERT_EQ(r.rows(), 3);
    const auto head = run(room->find_status(r.get<std::string>(0, "user_id"), schedule));
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->position, 1);
    const auto middle = run(room->find_status(r.get<std::string>(1, "user_id"), schedule));
    ASSERT_TRUE(middle.has_value());
    EXPECT_EQ(middle->token, r.get<std::string>(1, "id"));
    EXPECT_EQ(middle->position, 7000);
    const auto tail = run(room->find_status(r.get<std::string>(2, "user_id"), schedule));
    ASSERT_TRUE(tail.has_value());
    EXPECT_EQ(tail->position, 10000);
    std::vector<std::string> zcard{"ZCARD", key_prefix(schedule) + "active"};
    EXPECT_EQ(run(redis_.command(std::move(zcard))).or_throw().as_integer(), 500);
    EXPECT_EQ(room->recovery()->rebuilds(), 1);
}

}  // namespace
}  // namespace marquee::queue
