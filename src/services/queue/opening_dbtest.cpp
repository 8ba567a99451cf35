// ADR 0026, a fair start against the real scripts and PostgreSQL: fans who join before the opening are
// PRE_QUEUE, the opening shuffles them once (exactly one of several openers wins), each gets exactly one
// place, the order is uncorrelated with arrival and recomputable from (secret, schedule) and the rows, fans
// who come after the opening queue FIFO behind them, and the pre-queue survives Redis losing it.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/pool.hpp"
#include "redis/reply.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/gate.hpp"
#include "services/queue/opening.hpp"
#include "services/queue/recovery.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/scripts.hpp"
#include "services/queue/shuffle.hpp"
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

constexpr const char* kSecret = "the fair start's test secret";

std::int64_t in_an_hour() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               (std::chrono::system_clock::now() + 1h).time_since_epoch())
        .count();
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
    // Ranks of distinct values.
    auto ranks = [](const std::vector<double>& v) {
        std::vector<std::size_t> index(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) index[i] = i;
        std::sort(index.begin(), index.end(), [&](std::size_t x, std::size_t y) { return v[x] < v[y]; });
        std::vector<double> rank(v.size());
        for (std::size_t r = 0; r < index.size(); ++r) rank[index[r]] = static_cast<double>(r);
        return rank;
    };
    const auto ra = ranks(a);
    const auto rb = ranks(b);
    const double n = static_cast<double>(a.size());
    double d2 = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
    return 1 - 6 * d2 / (n * (n * n - 1));
}

class QueueOpeningDbTest : public testing::QueueDbTest {
  protected:
    void SetUp() override {
        QueueDbTest::SetUp();
        store_ = std::make_shared<Store>(db_);
    }

    std::vector<Joined> join_all(WaitingRoom& room, std::int64_t schedule,
                                 const std::vector<std::string>& users, std::int64_t opens_at) {
        return run([&]() -> asio::awaitable<std::vector<Joined>> {
            std::vector<Joined> joined;
            joined.reserve(users.size());
            for (const auto& user : users) {
                joined.push_back(co_await room.join(user, schedule, opens_at));
            }
            co_return joined;
        }());
    }
    std::vector<std::string> users(int n) {
        std::vector<std::string> out;
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) out.push_back(unique_user());
        return out;
    }
    std::vector<TokenStatus> statuses(WaitingRoom& room, std::int64_t schedule,
                                      const std::vector<std::string>& u) {
        return run([&]() -> asio::awaitable<std::vector<TokenStatus>> {
            std::vector<TokenStatus> out;
            out.reserve(u.size());
            for (const auto& user : u) {
                out.push_back((co_await room.find_status(user, schedule)).value());
            }
            co_return out;
        }());
    }

    std::shared_ptr<Store> store_;
};

TEST_F(QueueOpeningDbTest, PreQueuedFansAreShuffledOnceAndEachGetsExactlyOnePlace) {
    const Settings settings = test_settings();
    WaitingRoom room(redis_, settings);
    const auto schedule = unique_schedule();
    const auto early = users(1000);
    const auto joined = join_all(room, schedule, early, in_an_hour());
    for (std::size_t i = 0; i < joined.size(); ++i) {
        ASSERT_TRUE(joined[i].created);
        ASSERT_EQ(joined[i].status.state, TokenState::PreQueue);
        EXPECT_EQ(joined[i].status.position, 0) << "no place before the opening";
    }
    // Joining again while pre-queued is the same token; status reads PRE_QUEUE; the gate refuses it.
    const auto again = join_all(room, schedule, {early[0]}, in_an_hour());
    EXPECT_FALSE(again[0].created);
    EXPECT_EQ(again[0].status.token, joined[0].status.token);
    EXPECT_EQ(statuses(room, schedule, {early[1]})[0].state, TokenState::PreQueue);
    Gate gate(room);
    EXPECT_EQ(refusal(gate, early[0], schedule, joined[0].status.token).type(), "queue-not-admitted");

    // Nobody is admitted while the pre-queue waits, not even a fan who came after the opening.
    const auto first_late = users(1);
    join_all(room, schedule, first_late, 0);
    AdmitStep step = run(room.admit(schedule));
    EXPECT_EQ(step.admitted, 0);
    EXPECT_EQ(step.pre_queued, 1000);

    Opener opener(redis_, db_, store_, kSecret);
    const OpeningReport report = run(opener.open(schedule));
    EXPECT_TRUE(report.shuffled);
    EXPECT_EQ(report.pre_queued, 1000);
    EXPECT_EQ(report.moved, 1000);
    EXPECT_EQ(report.seed_sha256, seed_hash(shuffle_seed(kSecret, schedule)));

    // A second opening (another replica, the next tick) changes nothing.
    const OpeningReport second = run(Opener(redis_, db_, store_, "another replica's secret").open(schedule));
    EXPECT_FALSE(second.shuffled);
    EXPECT_EQ(second.moved, 0);

    // More fans after the opening: FIFO, behind every pre-queued fan.
    const auto late = users(50);
    join_all(room, schedule, late, 0);

    const auto pre = statuses(room, schedule, early);
    std::set<std::int64_t> places;
    std::vector<double> arrival_order;
    std::vector<double> place_order;
    for (std::size_t i = 0; i < pre.size(); ++i) {
        EXPECT_EQ(pre[i].state, TokenState::Waiting);
        EXPECT_EQ(pre[i].token, joined[i].status.token);
        places.insert(pre[i].position);
        arrival_order.push_back(static_cast<double>(i));
        place_order.push_back(static_cast<double>(pre[i].position));
    }
    EXPECT_EQ(places.size(), 1000u) << "each pre-queued fan has exactly one place";
    EXPECT_EQ(*places.begin(), 1);
    EXPECT_EQ(*places.rbegin(), 1000);
    // Bound as in the unit test (4.5 sd for n = 1,000 is 0.14); a correlated order breaks it.
    EXPECT_LT(std::abs(spearman(arrival_order, place_order)), 0.15);

    const auto after = statuses(room, schedule, first_late);
    EXPECT_EQ(after[0].position, 1001) << "the fan who came after the opening, before the shuffle, is next";
    const auto later = statuses(room, schedule, late);
    for (std::size_t i = 0; i < later.size(); ++i) {
        EXPECT_EQ(later[i].position, static_cast<std::int64_t>(1002 + i)) << "FIFO after the opening";
    }

    // Admission now runs, in place order: the first admitted is the fan with place 1.
    step = run(room.admit(schedule));
    EXPECT_EQ(step.pre_queued, 0);
    EXPECT_GT(step.admitted, 0);
    const auto first_place =
        std::find_if(pre.begin(), pre.end(), [](const TokenStatus& s) { return s.position == 1; });
    ASSERT_NE(first_place, pre.end());
    EXPECT_EQ(statuses(room, schedule, {early[static_cast<std::size_t>(first_place - pre.begin())]})[0].state,
              TokenState::Active);

    // PostgreSQL holds the shuffle: the row, and every token's place and arrival. An auditor with the secret
    // recomputes the places from the arrivals.
    const db::Result shuffle = run(db_.query(
        "SELECT seed_sha256, fans FROM queue.shuffles WHERE schedule_id = $1", db::params(schedule)));
    ASSERT_EQ(shuffle.rows(), 1);
    EXPECT_EQ(shuffle.get<std::string>(0, "seed_sha256"), report.seed_sha256);
    EXPECT_EQ(shuffle.get<std::int64_t>(0, "fans"), 1000);
    const db::Result rows =
        run(db_.query("SELECT id::text AS id, position, arrival FROM queue.queue_tokens "
                      "WHERE schedule_id = $1 AND arrival IS NOT NULL ORDER BY arrival",
                      db::params(schedule)));
    ASSERT_EQ(rows.rows(), 1000);
    std::vector<std::int64_t> arrivals;
    arrivals.reserve(static_cast<std::size_t>(rows.rows()));
    for (int r = 0; r < rows.rows(); ++r) arrivals.push_back(rows.get<std::int64_t>(r, "arrival"));
    const std::vector<std::int64_t> recomputed = shuffled_places(shuffle_seed(kSecret, schedule), arrivals);
    std::map<std::string, std::int64_t> redis_place;
    for (std::size_t i = 0; i < pre.size(); ++i) redis_place[pre[i].token] = pre[i].position;
    for (int r = 0; r < rows.rows(); ++r) {
        EXPECT_EQ(rows.get<std::int64_t>(r, "position"), recomputed[static_cast<std::size_t>(r)]);
        EXPECT_EQ(redis_place[rows.get<std::string>(r, "id")], recomputed[static_cast<std::size_t>(r)]);
    }
}

// ADR 0033: while an opening moves the pre-queue (lowest place first), admission takes the places moved so
// far and nobody else: not a place still pre-queued, not a fan who came after the opening.
TEST_F(QueueOpeningDbTest, AdmissionStartsWithTheMovedPlacesAndNeverPassesThePreQueue) {
    const Settings settings = test_settings();
    WaitingRoom room(redis_, settings);
    const auto schedule = unique_schedule();
    const auto early = users(100);
    const auto joined = join_all(room, schedule, early, in_an_hour());
    const auto late = users(1);
    const auto late_joined = join_all(room, schedule, late, 0);
    ASSERT_EQ(late_joined[0].status.state, TokenState::Waiting);

    // The places the opening gives (its shuffle), lowest first.
    const std::string prefix = key_prefix(schedule);
    const redis::Reply listed = run(redis_.eval(scripts::pre_list(), {prefix + "pre"}, {prefix})).or_throw();
    std::vector<std::string> ids;
    std::vector<std::int64_t> arrivals;
    for (std::size_t i = 0; i + 3 < listed.elements().size(); i += 4) {
        ids.push_back(listed.elements()[i].as_string());
        arrivals.push_back(std::stoll(listed.elements()[i + 1].as_string()));
    }
    ASSERT_EQ(ids.size(), 100u);
    const std::vector<std::int64_t> places = shuffled_places(shuffle_seed(kSecret, schedule), arrivals);
    std::vector<std::pair<std::int64_t, std::string>> by_place;
    for (std::size_t i = 0; i < ids.size(); ++i) by_place.emplace_back(places[i], ids[i]);
    std::sort(by_place.begin(), by_place.end());
    std::map<std::string, std::int64_t> place_of;
    for (const auto& [place, id] : by_place) place_of[id] = place;

    const auto move = [&](std::size_t from, std::size_t to) {
        std::vector<std::string> args{prefix, "0", std::to_string(by_place[to - 1].first)};
        for (std::size_t i = from; i < to; ++i) {
            args.push_back(by_place[i].second);
            args.push_back(std::to_string(by_place[i].first));
        }
        return run(redis_.eval(scripts::open_pre(),
                               {prefix + "pre", prefix + "waiting", prefix + "seen", prefix + "audit"},
                               std::move(args)))
            .or_throw();
    };
    EXPECT_EQ(move(0, 10).elements().at(1).as_integer(), 90) << "ninety still pre-queued";
    AdmitStep step = run(room.admit(schedule));
    EXPECT_EQ(step.admitted, 10) << "the ten moved places, though the burst allows 1,000";
    EXPECT_EQ(step.pre_queued, 90);
    const auto now = statuses(room, schedule, early);
    for (std::size_t i = 0; i < now.size(); ++i) {
        const std::int64_t place = place_of[joined[i].status.token];
        EXPECT_EQ(now[i].state, place <= 10 ? TokenState::Active : TokenState::PreQueue) << "place " << place;
    }
    EXPECT_EQ(statuses(room, schedule, late)[0].state, TokenState::Waiting)
        << "the fan who came after the opening waits behind the whole pre-queue";

    // The rest moves: the pre-queue is empty, its mark is gone, and admission runs in place order.
    EXPECT_EQ(move(10, 100).elements().at(1).as_integer(), 0);
    EXPECT_EQ(run(redis_.command({"EXISTS", prefix + "opened"})).or_throw().as_integer(), 0);
    const auto waiting = statuses(room, schedule, late);
    EXPECT_EQ(waiting[0].position, 91) << "behind the ninety moved places";
    step = run(room.admit(schedule));
    EXPECT_EQ(step.admitted, 91);
    EXPECT_EQ(step.pre_queued, 0);
}

TEST_F(QueueOpeningDbTest, OfTwoOpenersAtOnceExactlyOneShufflesAndBothAgree) {
    const Settings settings = test_settings();
    WaitingRoom room(redis_, settings);
    const auto schedule = unique_schedule();
    const auto early = users(300);
    join_all(room, schedule, early, in_an_hour());
    Opener a(redis_, db_, store_, kSecret);
    Opener b(redis_, db_, store_, "a different secret, same schedule");
    std::vector<OpeningReport> reports;
    run([&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto one = asio::co_spawn(executor, a.open(schedule), asio::use_awaitable);
        auto two = asio::co_spawn(executor, b.open(schedule), asio::use_awaitable);
        reports.push_back(co_await std::move(one));
        reports.push_back(co_await std::move(two));
    }());
    EXPECT_EQ(int{reports[0].shuffled} + int{reports[1].shuffled}, 1) << "exactly one shuffle";
    EXPECT_EQ(reports[0].moved + reports[1].moved, 300) << "each token moved once";
    // Redis places are PostgreSQL's, whichever opener moved them.
    const auto pre = statuses(room, schedule, early);
    std::set<std::int64_t> places;
    for (const auto& s : pre) {
        const db::Result r = run(
            db_.query("SELECT position FROM queue.queue_tokens WHERE id = $1::uuid", db::params(s.token)));
        ASSERT_EQ(r.rows(), 1);
        EXPECT_EQ(s.position, r.get<std::int64_t>(0, "position"));
        places.insert(s.position);
    }
    EXPECT_EQ(places.size(), 300u);
}

TEST_F(QueueOpeningDbTest, APreQueueSurvivesRedisLosingIt) {
    const Settings settings = test_settings();
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    room->set_recovery(std::make_shared<Recovery>(redis_, db_, settings));
    const auto schedule = unique_schedule();
    const auto early = users(20);
    const auto joined = join_all(*room, schedule, early, in_an_hour());
    // The audit writer copies the PRE_QUEUE rows to PostgreSQL (a scheduler pass without an opener).
    Scheduler scheduler(room, store_, nullptr);
    run(scheduler.tick());
    EXPECT_EQ(state_in_db(joined[0].status.token), "PRE_QUEUE");

    // Redis loses the schedule: every key of its slot (the whole SCAN, page by page: the test Redis is
    // shared).
    std::string cursor = "0";
    std::size_t deleted = 0;
    do {
        std::vector<std::string> scan{"SCAN", cursor, "MATCH", key_prefix(schedule) + "*", "COUNT", "1000"};
        const redis::Reply keys = run(redis_.command(std::move(scan))).or_throw();
        cursor = keys.elements().at(0).as_string();
        std::vector<std::string> doomed;
        for (const auto& key : keys.elements().at(1).elements()) doomed.push_back(key.as_string());
        deleted += doomed.size();
        if (!doomed.empty()) run(redis_.del(std::move(doomed)));
    } while (cursor != "0");
    ASSERT_GT(deleted, 0u);

    // The next read rebuilds it: still PRE_QUEUE, the same token, and the opening shuffles all of them.
    const auto back = statuses(*room, schedule, early);
    for (std::size_t i = 0; i < back.size(); ++i) {
        EXPECT_EQ(back[i].state, TokenState::PreQueue);
        EXPECT_EQ(back[i].token, joined[i].status.token);
    }
    const OpeningReport report = run(Opener(redis_, db_, store_, kSecret).open(schedule));
    EXPECT_EQ(report.pre_queued, 20);
    EXPECT_EQ(report.moved, 20);
    std::set<std::int64_t> places;
    for (const auto& s : statuses(*room, schedule, early)) places.insert(s.position);
    EXPECT_EQ(places.size(), 20u);
    EXPECT_EQ(*places.rbegin(), 20);
}

// A pre-queue is opened only at its schedule's opening as the catalog says it; a schedule the catalog does
// not know (another database's schedule in a shared Redis, or one removed) is never opened: its fans stay
// pre-queued.
TEST_F(QueueOpeningDbTest, OnlyASchedulesOwnOpeningOpensItsPreQueue) {
    const Settings settings = test_settings();
    WaitingRoom room(redis_, settings);
    Opener opener(redis_, db_, store_, kSecret);
    const std::int64_t far_future = in_an_hour() + 24LL * 3600 * 1000;

    const auto unknown = unique_schedule();  // no catalog row
    const auto unknown_fans = users(3);
    join_all(room, unknown, unknown_fans, in_an_hour());
    EXPECT_FALSE(run(opener.open_if_due(unknown, far_future)));
    for (const auto& s : statuses(room, unknown, unknown_fans)) EXPECT_EQ(s.state, TokenState::PreQueue);

    const auto later = catalog_schedule(/*opened_minutes_ago=*/-60);  // opens in an hour
    const auto later_fans = users(3);
    join_all(room, later, later_fans, in_an_hour());
    EXPECT_FALSE(run(opener.open_if_due(later, in_an_hour() - 60'000)));
    for (const auto& s : statuses(room, later, later_fans)) EXPECT_EQ(s.state, TokenState::PreQueue);

    const auto opened = catalog_schedule(/*opened_minutes_ago=*/1);
    const auto opened_fans = users(3);
    join_all(room, opened, opened_fans, in_an_hour());
    EXPECT_TRUE(run(opener.open_if_due(opened, in_an_hour() - 3'600'000)));
    for (const auto& s : statuses(room, opened, opened_fans)) {
        EXPECT_EQ(s.state, TokenState::Waiting);
        EXPECT_GE(s.position, 1);
    }
}

}  // namespace
}  // namespace marquee::queue
