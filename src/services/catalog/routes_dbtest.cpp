// Route-level tests of the admin endpoints: the real router, routes, service, PostgreSQL and Redis, with a
// fake Authenticator standing in for auth's JWT verification (tokens "admin" and "fan").
#include <boost/json/serialize.hpp>

#include "core/problem.hpp"
#include "dbtest_fixture.hpp"
#include "services/catalog/routes.hpp"

namespace marquee::catalog::testing {
namespace {

namespace json = boost::json;

class FakeAuthenticator final : public http::Authenticator {
  public:
    http::Principal authenticate(std::string_view token) const override {
        if (token == "admin") return http::Principal{"00000000-0000-0000-0000-000000000001", {"admin"}};
        if (token == "fan") return http::Principal{"00000000-0000-0000-0000-000000000002", {}};
        throw core::Problem::unauthorized("bad token", "invalid_token");
    }
};

/// Records events; on the first one marks a seat (as booking's event would), and ends the stream after two.
class RecordingStream final : public http::EventStream {
  public:
    RecordingStream(AvailabilityBitset& bitset, std::int64_t schedule_id)
        : bitset_(bitset), schedule_(schedule_id) {}
    asio::awaitable<bool> send(std::string event, std::string data, std::string id) override {
        events.push_back({std::move(event), std::move(data), std::move(id)});
        if (events.size() == 1) {
            std::vector<std::int32_t> seats{1};
            co_await bitset_.mark(schedule_, std::move(seats), SeatState::Held);
        }
        co_return events.size() < 2;
    }
    asio::awaitable<bool> heartbeat() override { co_return true; }
    bool open() const override { return events.size() < 2; }

    struct Event {
        std::string event, data, id;
    };
    std::vector<Event> events;

  private:
    AvailabilityBitset& bitset_;
    std::int64_t schedule_;
};

struct Reply {
    unsigned status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string field;  ///< the problem's `field`, for 400s
    std::string type;
    std::string header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) return v;
        }
        return {};
    }
    json::value json() const { return boost::json::parse(body); }
};

class CatalogRoutesDbTest : public CatalogDbTest {
  protected:
    CatalogRoutesDbTest() : routes_(*make_fast_service()) { routes_.add_to(router_); }

    /// Event streams poll every 10 ms here, so the stream test takes milliseconds.
    Service* make_fast_service() {
        CatalogSettings settings;
        settings.availability_poll = std::chrono::milliseconds(10);
        service_ = std::make_unique<Service>(db_, redis_, metrics_, settings);
        return service_.get();
    }

    Reply call(const std::string& method, const std::string& target, const std::string& body = {},
               const std::string& token = "admin", http::Fields extra = {}) {
        http::Fields headers = std::move(extra);
        if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        http::Context ctx(method, target, headers, body, "test-request");
        ctx.set_authenticator(&authenticator_);
        const auto match = router_.match(method, ctx.path());
        EXPECT_EQ(match.outcome, http::Router::Match::Outcome::Found) << target;
        ctx.set_route(match.pattern, match.params);
        Reply reply;
        try {
            http::Response response = run((*match.handler)(ctx));
            last_stream_ = std::move(response.stream);
            reply.status = response.status;
            reply.body = std::move(response.body);
            reply.headers = std::move(response.headers);
        } catch (const core::Problem& problem) {
            reply.status = static_cast<unsigned>(problem.status());
            reply.type = problem.type();
            if (const auto* field = problem.extensions().if_contains("field")) {
                reply.field = field->as_string();
            }
        }
        return reply;
    }

    static std::string schedule_body() {
        return R"({"startsAt":"2027-06-01T19:00:00+09:00","bookingOpensAt":"2027-05-01T10:00:00+09:00",)"
               R"("bookingClosesAt":"2027-06-01T18:00:00+09:00"})";
    }
    static std::string layout_body(int rows) {
        return R"({"zones":[{"name":"VIP","price":165000,"color":"#c0392b","rows":)" + std::to_string(rows) +
               R"(,"seatsPerRow":100},{"name":"R","price":132000,"color":"#2980b9","rows":)" +
               std::to_string(rows) + R"(,"seatsPerRow":100}]})";
    }

    http::StreamProducer last_stream_;
    FakeAuthenticator authenticator_;
    http::Router router_;
    Routes routes_;
};

TEST_F(CatalogRoutesDbTest, ScheduleStatesItsCancellationPolicyDefaultOrGiven) {
    const Reply concert = call("POST", "/api/v1/admin/concerts",
                               R"({"title":"Policy test","artist":"IU","venue":"Olympic Hall"})");
    ASSERT_EQ(concert.status, 201u) << concert.body;
    const std::string path =
        "/api/v1/admin/concerts/" + std::to_string(concert.json().at("id").as_int64()) + "/schedules";
    // Default: free until D-10, 10 % until D-3 (the deadline), as instants before startsAt.
    const Reply plain = call("POST", path, schedule_body());
    ASSERT_EQ(plain.status, 201u) << plain.body;
    const auto policy = plain.json().at("cancellationPolicy").as_object();
    EXPECT_EQ(policy.at("deadline").as_string(), "2027-05-29T10:00:00.000Z");
    EXPECT_EQ(policy.at("fees").at(0).at("until").as_string(), "2027-05-22T10:00:00.000Z");
    EXPECT_EQ(policy.at("fees").at(0).at("percent").as_int64(), 0);
    EXPECT_EQ(policy.at("fees").at(1).at("percent").as_int64(), 10);

    std::string body = schedule_body();
    body.pop_back();
    body += R"(,"cancellationPolicy":{"fees":[{"daysBefore":7,"percent":5},{"daysBefore":1,"percent":30}]}})";
    const Reply given = call("POST", path, body);
    ASSERT_EQ(given.status, 201u) << given.body;
    const auto custom = given.json().at("cancellationPolicy").as_object();
    EXPECT_EQ(custom.at("deadline").as_string(), "2027-05-31T10:00:00.000Z");
    EXPECT_EQ(custom.at("fees").at(0).at("percent").as_int64(), 5);
    const auto stored =
        run(db_.query("SELECT array_to_string(cancel_days_before, ',') AS d, "
                      "array_to_string(cancel_fee_percents, ',') AS p "
                      "FROM catalog.schedules WHERE id = $1",
                      db::params(given.json().at("id").as_int64())));
    EXPECT_EQ(stored.get<std::string>(0, "d"), "7,1");
    EXPECT_EQ(stored.get<std::string>(0, "p"), "5,30");
}

TEST_F(CatalogRoutesDbTest, AdminCreatesAConcertAScheduleAndATenThousandSeatMap) {
    const Reply concert = call("POST", "/api/v1/admin/concerts",
                               R"({"title":"Route test","artist":"IU","venue":"Olympic Hall"})");
    ASSERT_EQ(concert.status, 201u) << concert.body;
    const std::int64_t concert_id = concert.json().at("id").as_int64();
    EXPECT_EQ(concert.header("Location"), "/api/v1/concerts/" + std::to_string(concert_id));

    const Reply schedule =
        call("POST", "/api/v1/admin/concerts/" + std::to_string(concert_id) + "/schedules", schedule_body());
    ASSERT_EQ(schedule.status, 201u) << schedule.body;
    const std::int64_t schedule_id = schedule.json().at("id").as_int64();
    EXPECT_EQ(schedule.json().at("startsAt").as_string(), "2027-06-01T10:00:00.000Z");
    EXPECT_EQ(schedule.json().at("ticketLimit").as_int64(), 4);  // the default (migrations/catalog/0006)

    const auto started = std::chrono::steady_clock::now();
    const Reply map =
        call("POST", "/api/v1/admin/schedules/" + std::to_string(schedule_id) + "/seat-map", layout_body(50));
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(map.status, 201u) << map.body;
    std::cout << "POST seat-map with 10,000 seats took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    EXPECT_EQ(map.json().at("seatCount").as_int64(), 10'000);
    EXPECT_EQ(map.json().at("zones").at(1).at("price").as_int64(), 132000);
    EXPECT_FALSE(map.header("ETag").empty());

    const Reply again =
        call("POST", "/api/v1/admin/schedules/" + std::to_string(schedule_id) + "/seat-map", layout_body(1));
    EXPECT_EQ(again.status, 409u);
    EXPECT_EQ(again.type, "layout-exists");

    // The public read sees the new layout at once (the caches were invalidated).
    const Reply read = call("GET", "/api/v1/schedules/" + std::to_string(schedule_id) + "/seat-map", {}, "");
    ASSERT_EQ(read.status, 200u);
    EXPECT_EQ(read.header("ETag"), map.header("ETag"));
    EXPECT_EQ(read.header("Cache-Control"), "public, max-age=300");
    const Reply revalidated = call("GET", "/api/v1/schedules/" + std::to_string(schedule_id) + "/seat-map",
                                   {}, "", {{"If-None-Match", map.header("ETag")}});
    EXPECT_EQ(revalidated.status, 304u);
    EXPECT_TRUE(revalidated.body.empty());
}

TEST_F(CatalogRoutesDbTest, AdminRoutesNeedATokenAndTheAdminRole) {
    for (const std::string target : {"/api/v1/admin/concerts", "/api/v1/admin/concerts/1/schedules",
                                     "/api/v1/admin/schedules/1/seat-map"}) {
        EXPECT_EQ(call("POST", target, "{}", "").status, 401u) << target;
        EXPECT_EQ(call("POST", target, "{}", "nonsense").status, 401u) << target;
        EXPECT_EQ(call("POST", target, "{}", "fan").status, 403u) << target;
    }
}

TEST_F(CatalogRoutesDbTest, ValidationErrorsNameTheField) {
    EXPECT_EQ(call("POST", "/api/v1/admin/concerts", R"({"title":"","artist":"A","venue":"V"})").field,
              "title");
    const Concert concert = make_concert();
    const std::string schedules = "/api/v1/admin/concerts/" + std::to_string(concert.id) + "/schedules";
    EXPECT_EQ(call("POST", schedules, R"({"startsAt":"tomorrow"})").field, "startsAt");
    const Schedule schedule = make_schedule(concert.id);
    const std::string seat_map = "/api/v1/admin/schedules/" + std::to_string(schedule.id) + "/seat-map";
    EXPECT_EQ(call("POST", seat_map,
                   R"({"zones":[{"name":"VIP","price":-5,"color":"#000000","rows":1,"seatsPerRow":1}]})")
                  .field,
              "zones[0].price");
    EXPECT_EQ(call("POST", seat_map,
                   R"({"zones":[{"name":"VIP","price":5,"color":"#000000","rows":1000,"seatsPerRow":101}]})")
                  .field,
              "zones[0].rows");
    EXPECT_EQ(call("POST", "/api/v1/admin/concerts/abc/schedules", schedule_body()).field, "id");
}

TEST_F(CatalogRoutesDbTest, UnknownParentsAre404) {
    EXPECT_EQ(
        call("POST", "/api/v1/admin/concerts/" + std::to_string(INT64_MAX) + "/schedules", schedule_body())
            .status,
        404u);
    EXPECT_EQ(
        call("POST", "/api/v1/admin/schedules/" + std::to_string(INT64_MAX) + "/seat-map", layout_body(1))
            .status,
        404u);
}

TEST_F(CatalogRoutesDbTest, AvailabilityRevalidatesByVersion) {
    const Concert concert = make_concert();
    const Schedule schedule = make_schedule(concert.id);
    run(service_->create_layout(schedule.id, layout(1, 1, 8)));
    const std::string target = "/api/v1/schedules/" + std::to_string(schedule.id) + "/availability";
    const Reply first = call("GET", target, {}, "");
    ASSERT_EQ(first.status, 200u);
    EXPECT_EQ(first.header("Cache-Control"), "no-cache");
    EXPECT_EQ(first.json().at("taken").as_string(), "AAA=");  // 16 seats, none taken
    EXPECT_EQ(call("GET", target, {}, "", {{"If-None-Match", first.header("ETag")}}).status, 304u);
    run(service_->bitset().mark(schedule.id, {0}, SeatState::Held));
    const Reply changed = call("GET", target, {}, "", {{"If-None-Match", first.header("ETag")}});
    ASSERT_EQ(changed.status, 200u);
    EXPECT_NE(changed.header("ETag"), first.header("ETag"));
    EXPECT_EQ(changed.json().at("taken").as_string(), "gAA=");
}

TEST_F(CatalogRoutesDbTest, AvailabilityEventsPushEachNewVersion) {
    const Concert concert = make_concert();
    const Schedule schedule = make_schedule(concert.id);
    run(service_->create_layout(schedule.id, layout(1, 1, 4)));
    const std::string target = "/api/v1/schedules/" + std::to_string(schedule.id) + "/availability/events";
    const Reply reply = call("GET", target, {}, "");
    ASSERT_EQ(reply.status, 200u);
    ASSERT_TRUE(last_stream_);
    RecordingStream stream(service_->bitset(), schedule.id);
    run(last_stream_(stream));
    ASSERT_EQ(stream.events.size(), 2u);
    EXPECT_EQ(stream.events[0].event, "availability");
    EXPECT_EQ(json::parse(stream.events[0].data).at("taken").as_string(), "AA==");
    EXPECT_EQ(json::parse(stream.events[1].data).at("taken").as_string(), "QA==");  // seat 1 held
    EXPECT_NE(stream.events[0].id, stream.events[1].id);
    EXPECT_EQ(
        call("GET", "/api/v1/schedules/" + std::to_string(INT64_MAX) + "/availability/events", {}, "").status,
        404u);
}

}  // namespace
}  // namespace marquee::catalog::testing
