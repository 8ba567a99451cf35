// The sold-out signal against real PostgreSQL and Redis (ADR 0018).
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "http/router.hpp"
#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/routes.hpp"
#include "services/queue/sold_out.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_user;

class PlainUser final : public http::Authenticator {
  public:
    http::Principal authenticate(std::string_view bearer_token) const override {
        return http::Principal{std::string(bearer_token), {}};
    }
};

class SoldOutDbTest : public testing::RedisTest {
  protected:
    void SetUp() override {
        core::init_logging(core::LogLevel::Error);
        std::vector<std::string> services{"catalog", "booking", "queue"};
        run(db::migrate(pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
        routes_.set_sold_out(sold_out_);
        routes_.add_to(router_);
    }

    db::Result sql(std::string statement, db::Params params = {}) {
        return run(pool_.query(std::move(statement), std::move(params)));
    }

    /// A schedule with zone VIP (1 seat) and zone R (2 seats); the seat ids by index.
    std::pair<std::int64_t, std::vector<std::int64_t>> make_schedule() {
        auto r = sql(
            "WITH c AS (INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1, 'A', 'V') RETURNING "
            "id), "
            "s AS (INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, "
            "booking_closes_at, "
            "seat_count) SELECT id, now() + interval '30 days', now() - interval '1 day', now() + interval "
            "'29 days', 3 FROM c RETURNING id), z AS (INSERT INTO catalog.zones (schedule_id, name, price, "
            "color) SELECT s.id, v.name, 1000, '#0000aa' FROM s, (VALUES ('VIP'), ('R')) v(name) RETURNING "
            "id, "
            "schedule_id, name) INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, "
            "number, "
            "x, y) SELECT z.schedule_id, z.id, g.i, z.name, g.i + 1, g.i, 0 FROM z JOIN (VALUES ('VIP', 0), "
            "('R', 1), ('R', 2)) g(zone, i) ON g.zone = z.name RETURNING schedule_id, id, seat_index",
            db::params(test::unique_name("sold-out")));
        std::vector<std::int64_t> seats(3);
        std::int64_t schedule = 0;
        for (int i = 0; i < r.rows(); ++i) {
            schedule = r.get<std::int64_t>(i, "schedule_id");
            seats[static_cast<std::size_t>(r.get<std::int64_t>(i, "seat_index"))] =
                r.get<std::int64_t>(i, "id");
        }
        return {schedule, seats};
    }

    /// booking.hold of one seat: its outcome, and the reservation id when HELD.
    std::pair<std::string, std::string> hold(std::int64_t schedule, std::int64_t seat) {
        auto r =
            sql("SELECT outcome, reservation_id::text AS id FROM booking.hold(gen_random_uuid(), $1, "
                "gen_random_uuid(), ARRAY[$2]::bigint[], 300, NULL) LIMIT 1",
                db::params(schedule, seat));
        return {r.get<std::string>(0, "outcome"), r.get<std::optional<std::string>>(0, "id").value_or("")};
    }

    void sell(std::int64_t schedule, std::int64_t seat) {
        const auto [outcome, id] = hold(schedule, seat);
        ASSERT_EQ(outcome, "HELD");
        EXPECT_EQ(sql("SELECT booking.confirm($1::uuid, gen_random_uuid()) AS r", db::params(id))
                      .get<std::string>(0, "r"),
                  "CONFIRMED");
    }

    std::pair<int, boost::json::object> call(const std::string& method, const std::string& target,
                                             const std::string& user) {
        http::Fields headers{{"Authorization", "Bearer " + user}};
        http::Context ctx(method, target, std::move(headers), {}, "rid");
        ctx.set_authenticator(&authenticator_);
        const auto match = router_.match(method, ctx.path());
        ctx.set_route(match.pattern, match.params);
        try {
            const http::Response response = run((*match.handler)(ctx));
            return {static_cast<int>(response.status), boost::json::parse(response.body).as_object()};
        } catch (const core::Problem& problem) {
            return {problem.status(), problem.to_json()};
        }
    }

    db::Pool pool_{io_.get_executor(),
                   db::PoolOptions{test::database_url(), 2, 10s, "queue-sold-out-dbtest"}};
    std::shared_ptr<WaitingRoom> room_ =
        std::make_shared<WaitingRoom>(redis_, test_settings(/*max_active=*/1));
    std::shared_ptr<SoldOut> sold_out_ = std::make_shared<SoldOut>(redis_, pool_, room_, 50ms, nullptr);
    Routes routes_{room_};
    http::Router router_;
    PlainUser authenticator_;
};

TEST_F(SoldOutDbTest, AfterTheLastSeatSellsWaitingFansAreToldAndNewJoinsGetTheProblem) {
    const auto [schedule, seats] = make_schedule();
    const std::string join = "/api/v1/schedules/" + std::to_string(schedule) + "/queue";
    const std::string me = "/api/v1/queue/me?scheduleId=" + std::to_string(schedule);
    const auto waiting = unique_user();
    ASSERT_EQ(call("POST", join, waiting).first, 201);

    // Not sold out yet: the check says so and the fan keeps waiting.
    sell(schedule, seats[0]);  // zone VIP is gone
    EXPECT_FALSE(run(sold_out_->check(schedule)).sold_out);
    auto [status, body] = call("GET", me, waiting);
    ASSERT_EQ(status, 200);
    EXPECT_FALSE(body.at("soldOut").as_bool());
    EXPECT_EQ(body.at("soldOutZones").as_array().at(0).as_string(), "VIP");
    EXPECT_EQ(body.at("state").as_string(), "WAITING");

    sell(schedule, seats[1]);
    const auto [held, reservation] = hold(schedule, seats[2]);  // the last seat HELD: not sold out yet
    ASSERT_EQ(held, "HELD");
    const auto imminent = run(sold_out_->check(schedule));
    EXPECT_FALSE(imminent.sold_out);
    EXPECT_TRUE(imminent.imminent);
    std::tie(status, body) = call("GET", me, waiting);
    EXPECT_LE(body.at("pollAfterMs").as_int64(), kMinPollMs);
    EXPECT_EQ(call("POST", join, unique_user()).first, 201);  // joins still open

    // The last seat sells: the next pass tells everyone.
    EXPECT_EQ(sql("SELECT booking.confirm($1::uuid, gen_random_uuid()) AS r", db::params(reservation))
                  .get<std::string>(0, "r"),
              "CONFIRMED");
    const auto view = run(sold_out_->check(schedule));
    EXPECT_TRUE(view.sold_out);
    EXPECT_GT(view.at_ms, 0);
    std::tie(status, body) = call("GET", me, waiting);
    ASSERT_EQ(status, 200);
    EXPECT_TRUE(body.at("soldOut").as_bool());

    const auto [join_status, problem] = call("POST", join, unique_user());
    EXPECT_EQ(join_status, 410);
    EXPECT_EQ(problem.at("type").as_string(), "https://marquee.dev/problems/sold-out");

    // A pass ends the WAITING (and ACTIVE) tokens: nobody holds a place for nothing.
    run(sold_out_->tick());
    std::tie(status, body) = call("GET", me, waiting);
    EXPECT_EQ(body.at("state").as_string(), "EXPIRED");
    EXPECT_TRUE(body.at("soldOut").as_bool());

    // A hold is still judged by the database: the sold seat is refused there, whatever Redis says.
    EXPECT_NE(hold(schedule, seats[2]).first, "HELD");
}

TEST_F(SoldOutDbTest, ACancellationAfterTheSellOutOpensTheWaitingRoomAgain) {
    const auto [schedule, seats] = make_schedule();
    const std::string join = "/api/v1/schedules/" + std::to_string(schedule) + "/queue";
    for (const auto seat : seats) sell(schedule, seat);
    ASSERT_TRUE(run(sold_out_->check(schedule)).sold_out);
    EXPECT_EQ(call("POST", join, unique_user()).first, 410);
    auto other = std::make_shared<SoldOut>(redis_, pool_, room_, 50ms, nullptr);  // a second process
    EXPECT_TRUE(run(other->sold_out(schedule)));

    // A fan cancels (ADR 0028): booking's door releases the SOLD seat.
    EXPECT_EQ(
        sql("SELECT c.outcome FROM booking.reservation_seats s "
            "JOIN booking.reservations r ON r.id = s.reservation_id, "
            "LATERAL booking.cancel(r.id, r.user_id, now()) c WHERE s.seat_id = $1 AND s.state = 'SOLD'",
            db::params(seats[0]))
            .get<std::string>(0, "outcome"),
        "CANCELLED");

    // Once the period has passed, the next fan who asks has the database checked again, and gets in.
    std::this_thread::sleep_for(60ms);
    const auto [status, body] = call("POST", join, unique_user());
    EXPECT_EQ(status, 201) << boost::json::serialize(body);
    EXPECT_FALSE(body.at("soldOut").as_bool());
    EXPECT_FALSE(sold_out_->known(schedule)->sold_out);

    // The second process remembered the sell-out; it forgets it from the newer check in Redis.
    EXPECT_FALSE(run(other->sold_out(schedule)));
}

TEST_F(SoldOutDbTest, AnotherProcessLearnsItFromRedis) {
    const auto [schedule, seats] = make_schedule();
    for (const auto seat : seats) sell(schedule, seat);
    EXPECT_TRUE(run(sold_out_->check(schedule)).sold_out);
    // A second process (its own SoldOut, nothing in memory) refuses the join after one Redis read.
    auto other = std::make_shared<SoldOut>(redis_, pool_, room_, 50ms, nullptr);
    EXPECT_FALSE(other->known(schedule).has_value());
    EXPECT_TRUE(run(other->sold_out(schedule)));
    EXPECT_TRUE(other->known(schedule)->sold_out);
}

// ADR 0039: a fan answered from memory while the sale goes on is still told the sale is over, by the poll
// after the check, and then EXPIRED once the pass ends the waiting tokens.
TEST_F(SoldOutDbTest, AFanAnsweredFromMemoryIsToldSoldOut) {
    const auto [schedule, seats] = make_schedule();
    const std::string join = "/api/v1/schedules/" + std::to_string(schedule) + "/queue";
    const std::string me = "/api/v1/queue/me?scheduleId=" + std::to_string(schedule);
    const auto waiting = unique_user();
    ASSERT_EQ(call("POST", join, waiting).first, 201);
    EXPECT_FALSE(run(sold_out_->check(schedule)).sold_out);
    run(room_->refresh_memory());
    const auto steady = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    ASSERT_TRUE(room_->memory().answer(schedule, waiting, steady, 0)) << "memory answers this fan";
    auto [status, body] = call("GET", me, waiting);
    ASSERT_EQ(status, 200);
    EXPECT_EQ(body.at("state").as_string(), "WAITING");
    EXPECT_EQ(body.at("position").as_int64(), 1);
    EXPECT_FALSE(body.at("soldOut").as_bool());

    for (const auto seat : seats) sell(schedule, seat);
    ASSERT_TRUE(run(sold_out_->check(schedule)).sold_out);
    std::tie(status, body) = call("GET", me, waiting);
    ASSERT_EQ(status, 200);
    EXPECT_TRUE(body.at("soldOut").as_bool());
    run(sold_out_->tick());
    std::tie(status, body) = call("GET", me, waiting);
    EXPECT_EQ(body.at("state").as_string(), "EXPIRED");
    EXPECT_TRUE(body.at("soldOut").as_bool());
}

}  // namespace
}  // namespace marquee::queue
