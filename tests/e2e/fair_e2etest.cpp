// End to end, ADR 0026: a fair start (PRE_QUEUE before the opening, one shuffle at it, FIFO after it) and
// proof of work at the waiting room's door, through the real binary with a real JWT.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "local_services.hpp"
#include "marquee_process.hpp"
#include "services/queue/pow.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kSecret = "fair-e2e queue secret, 16+ bytes";

std::string secret_file() {
    static const std::string path = [] {
        std::string p = "/tmp/" + unique_name("marquee-fair-secret");
        std::ofstream(p) << kSecret << "\n";
        return p;
    }();
    return path;
}

std::map<std::string, std::string> with_json(std::map<std::string, std::string> headers) {
    headers["Content-Type"] = "application/json";
    return headers;
}

std::string join_path(std::int64_t schedule) {
    return "/api/v1/schedules/" + std::to_string(schedule) + "/queue";
}

class FairStartEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // One ACTIVE token at a time and a fast tick; a scan set of its own, so no other test's scheduler
        // admits these fans; proof of work off (the fair start alone).
        process_ =
            new MarqueeProcess({"--service=auth,queue"},
                               {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
                                {"MARQUEE_QUEUE_SCHEDULES_KEY", "queue:schedules:" + unique_name("fair-e2e")},
                                {"MARQUEE_QUEUE_MAX_ACTIVE", "1"},
                                {"MARQUEE_QUEUE_ADMIT_PER_SECOND", "100"},
                                {"MARQUEE_QUEUE_TICK_MS", "50"},
                                {"MARQUEE_QUEUE_SECRET_FILE", secret_file()}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }
    static MarqueeProcess* process_;
};
MarqueeProcess* FairStartEndToEnd::process_ = nullptr;

TEST_F(FairStartEndToEnd, PreQueueThenOneShuffleThenFifo) {
    // A schedule whose booking opens in three seconds.
    const std::int64_t schedule = make_seats(1).schedule;
    sql("UPDATE catalog.schedules SET booking_opens_at = now() + interval '3 seconds' WHERE id = $1",
        db::params(schedule));
    std::vector<std::map<std::string, std::string>> early;
    std::set<std::string> tokens;
    for (int i = 0; i < 4; ++i) {
        early.push_back(new_fan(port(), "fair-fan"));
        const auto joined = http_request(port(), "POST", join_path(schedule), {}, early.back());
        ASSERT_EQ(joined.status, 201) << joined.body;
        const json::object body = joined.json();
        EXPECT_EQ(body.at("state").as_string(), "PRE_QUEUE");
        EXPECT_TRUE(body.contains("opensAt"));
        EXPECT_FALSE(body.contains("position")) << "no place before the opening";
        tokens.insert(std::string(body.at("token").as_string()));
    }
    const auto again = http_request(port(), "POST", join_path(schedule), {}, early[0]);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.json().at("state").as_string(), "PRE_QUEUE");
    const auto me =
        http_request(port(), "GET", "/api/v1/queue/me?scheduleId=" + std::to_string(schedule), {}, early[1]);
    ASSERT_EQ(me.status, 200);
    EXPECT_EQ(me.json().at("state").as_string(), "PRE_QUEUE");
    EXPECT_TRUE(me.json().contains("opensAt"));

    // Wait (bounded) for the opening's shuffle and the first admission after it: with at most one ACTIVE
    // token, the room then stands still, so every place below can be read exactly.
    const std::string me_path = "/api/v1/queue/me?scheduleId=" + std::to_string(schedule);
    bool admitted = false;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!admitted && std::chrono::steady_clock::now() < deadline) {
        for (const auto& fan : early) {
            if (http_request(port(), "GET", me_path, {}, fan).json().at("state").as_string() == "ACTIVE") {
                admitted = true;
            }
        }
        if (!admitted) std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(admitted) << "the opening shuffled the pre-queue and admission went on";

    // A fan who comes after the opening queues behind every pre-queued fan.
    const auto late = new_fan(port(), "fair-late");
    const auto joined_late = http_request(port(), "POST", join_path(schedule), {}, late);
    ASSERT_EQ(joined_late.status, 201) << joined_late.body;
    EXPECT_EQ(joined_late.json().at("state").as_string(), "WAITING");

    // Every pre-queued fan has exactly one place: one ACTIVE (the maximum is 1), the others WAITING at 1..3.
    int active = 0;
    std::set<std::int64_t> places;
    for (const auto& fan : early) {
        const json::object body = http_request(port(), "GET", me_path, {}, fan).json();
        EXPECT_TRUE(tokens.count(std::string(body.at("token").as_string())) == 1) << "the same token";
        if (body.at("state").as_string() == "ACTIVE") {
            ++active;
        } else {
            EXPECT_EQ(body.at("state").as_string(), "WAITING");
            places.insert(body.at("position").as_int64());
        }
    }
    EXPECT_EQ(active, 1);
    EXPECT_EQ(places, (std::set<std::int64_t>{1, 2, 3}));
    const auto late_now = http_request(port(), "GET", me_path, {}, late);
    EXPECT_EQ(late_now.json().at("position").as_int64(), 4) << "FIFO behind the shuffled pre-queue";

    // PostgreSQL recorded one shuffle, with the seed's hash.
    const auto shuffle =
        sql("SELECT seed_sha256, fans FROM queue.shuffles WHERE schedule_id = $1", db::params(schedule));
    ASSERT_EQ(shuffle.rows(), 1);
    EXPECT_EQ(shuffle.get<std::int64_t>(0, "fans"), 4);
    EXPECT_EQ(shuffle.get<std::string>(0, "seed_sha256").size(), 64u);
}

class ProofOfWorkEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        process_ =
            new MarqueeProcess({"--service=auth,queue"},
                               {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
                                {"MARQUEE_QUEUE_SCHEDULES_KEY", "queue:schedules:" + unique_name("pow-e2e")},
                                {"MARQUEE_QUEUE_POW_DIFFICULTY", "10"},
                                {"MARQUEE_QUEUE_TICK_MS", "50"},
                                {"MARQUEE_QUEUE_SECRET_FILE", secret_file()}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    static json::object challenge(std::int64_t schedule, const std::map<std::string, std::string>& fan) {
        const auto reply = http_request(port(), "POST", join_path(schedule) + "/challenge", {}, fan);
        EXPECT_EQ(reply.status, 200) << reply.body;
        return reply.json();
    }
    static HttpReply join(std::int64_t schedule, const std::map<std::string, std::string>& fan,
                          const std::string& challenge, const std::string& nonce) {
        const std::string body = json::serialize(json::object{{"challenge", challenge}, {"nonce", nonce}});
        return http_request(port(), "POST", join_path(schedule), body, with_json(fan));
    }
    static std::string type_of(const HttpReply& reply) {
        return std::string(reply.json().at("type").as_string());
    }

    static MarqueeProcess* process_;
};
MarqueeProcess* ProofOfWorkEndToEnd::process_ = nullptr;

TEST_F(ProofOfWorkEndToEnd, JoinNeedsTheFansOwnSolvedChallenge) {
    const std::int64_t schedule = make_seats(1).schedule;
    const auto fan = new_fan(port(), "pow-fan");
    const json::object c = challenge(schedule, fan);
    EXPECT_EQ(c.at("difficulty").as_int64(), 10);
    EXPECT_EQ(c.at("algorithm").as_string(), "sha256");
    EXPECT_TRUE(c.contains("expiresAt"));
    const std::string text(c.at("challenge").as_string());

    const auto bare = http_request(port(), "POST", join_path(schedule), {}, fan);
    EXPECT_EQ(bare.status, 403);
    EXPECT_EQ(type_of(bare), "https://marquee.dev/problems/pow-required");
    EXPECT_EQ(bare.json().at("difficulty").as_int64(), 10);

    const std::string nonce = queue::pow_solve(text, 10);
    std::uint64_t wrong = std::stoull(nonce) + 1;
    while (queue::pow_solves(text, std::to_string(wrong), 10)) ++wrong;
    const auto bad = join(schedule, fan, text, std::to_string(wrong));
    EXPECT_EQ(bad.status, 403);
    EXPECT_EQ(type_of(bad), "https://marquee.dev/problems/pow-invalid");

    // Another fan cannot use this fan's solved challenge.
    const auto other = new_fan(port(), "pow-thief");
    const auto stolen = join(schedule, other, text, nonce);
    EXPECT_EQ(stolen.status, 403);
    EXPECT_EQ(type_of(stolen), "https://marquee.dev/problems/pow-invalid");

    const auto ok = join(schedule, fan, text, nonce);
    ASSERT_EQ(ok.status, 201) << ok.body;
    EXPECT_EQ(ok.json().at("state").as_string(), "WAITING");
    // The same answer again is the same place (joining is idempotent per fan and schedule), and so is a join
    // without one: a fan who holds a live token gets it back without new work.
    const auto again = join(schedule, fan, text, nonce);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.json().at("token"), ok.json().at("token"));
    const auto plain = http_request(port(), "POST", join_path(schedule), {}, fan);
    EXPECT_EQ(plain.status, 200);
    EXPECT_EQ(plain.json().at("token"), ok.json().at("token"));
}

TEST_F(ProofOfWorkEndToEnd, AnExpiredChallengeIsGone) {
    const std::int64_t schedule = make_seats(1).schedule;
    const auto fan = new_fan(port(), "pow-late");
    // A challenge the server signed (same secret) that expired a minute ago.
    const queue::ProofOfWork signer(kSecret, 10, std::chrono::seconds(60));
    const std::int64_t two_minutes_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
                                             (std::chrono::system_clock::now() - 2min).time_since_epoch())
                                             .count();
    const queue::PowChallenge old = signer.issue(user_id_of(port(), fan), schedule, 10, two_minutes_ago);
    const auto expired = join(schedule, fan, old.challenge, queue::pow_solve(old.challenge, 10));
    EXPECT_EQ(expired.status, 410);
    EXPECT_EQ(type_of(expired), "https://marquee.dev/problems/pow-expired");
}

TEST_F(ProofOfWorkEndToEnd, AChallengeForAScheduleThatDoesNotExistIsNotFound) {
    const auto fan = new_fan(port(), "pow-nowhere");
    const auto reply = http_request(port(), "POST", join_path(9'000'000'000'000) + "/challenge", {}, fan);
    EXPECT_EQ(reply.status, 404);
}

}  // namespace
}  // namespace marquee::test
