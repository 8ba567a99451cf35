// Every marquee-load scenario, briefly and with few users, against a real `marquee` (MarqueeProcess): the
// tool must keep working as the API moves. Asserts progress and the invariants, never timings.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "load/process.hpp"
#include "load/scenario.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;

class LoadSmoke : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // Admission fast enough that a few seconds suffice; logins from one address are not rate-limited.
        server_ = new MarqueeProcess({"--service=all"}, {{"MARQUEE_QUEUE_ADMIT_PER_SECOND", "1000"},
                                                         {"MARQUEE_QUEUE_MAX_ACTIVE", "100000"},
                                                         {"MARQUEE_QUEUE_TICK_MS", "100"}});
        admin_ = unique_name("load-admin") + "@load.test";
        sql("INSERT INTO auth.users (email, password_hash, display_name, role) VALUES ($1, $2, 'Load admin', "
            "'admin')",
            db::params(admin_, std::string(load::kLoadUserHash)));
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }

    /// Runs marquee-load with `args` plus the target, database and admin; returns its JSON report.
    json::object run(const std::string& scenario, std::vector<std::string> args) {
        const auto path =
            (std::filesystem::temp_directory_path() / (unique_name("load-" + scenario) + ".json")).string();
        std::vector<std::string> argv{
            MARQUEE_LOAD_BINARY,
            "--scenario=" + scenario,
            "--target=http://127.0.0.1:" + std::to_string(server_->port()),
            "--database-url=" + database_url(),
            "--check-invariants=" + std::string(MARQUEE_SOURCE_DIR) + "/scripts/check-invariants",
            "--admin-email=" + admin_,
            "--admin-password=" + std::string(load::kLoadUserPassword),
            "--run-id=" + unique_name("smoke"),
            "--ramp-ms=200",
            "--json=" + path};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto [status, output] = load::run_command(argv);
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        std::filesystem::remove(path);
        EXPECT_EQ(status, 0) << output;
        boost::system::error_code ec;
        auto report = json::parse(text.str(), ec);
        if (ec || !report.is_object()) {
            ADD_FAILURE() << "no JSON report; output:\n" << output;
            return {};
        }
        return report.as_object();
    }

    static MarqueeProcess* server_;
    static std::string admin_;
};

MarqueeProcess* LoadSmoke::server_ = nullptr;
std::string LoadSmoke::admin_;

std::uint64_t count_of(const json::object& report, const char* endpoint, const char* status) {
    const auto* endpoints = report.if_contains("endpoints");
    if (endpoints == nullptr || !endpoints->as_object().contains(endpoint)) return 0;
    const auto& statuses = endpoints->as_object().at(endpoint).as_object().at("statuses").as_object();
    return statuses.contains(status) ? statuses.at(status).to_number<std::uint64_t>() : 0;
}

TEST_F(LoadSmoke, BrowseAnswersAvailabilityAndRevalidatesWith304) {
    const auto report = run("browse", {"--users=8", "--duration=2", "--seats=200"});
    EXPECT_TRUE(report.contains("ok") && report.at("ok").as_bool());
    EXPECT_GT(count_of(report, "availability", "200"), 0u);
    EXPECT_GT(count_of(report, "availability 304", "304"), 0u);
    EXPECT_GT(count_of(report, "seat-map 304", "304"), 0u);
}

TEST_F(LoadSmoke, BrowseAtAFixedRateStaysWithinItsCount) {
    const auto report =
        run("browse", {"--users=4", "--duration=5", "--rate=200", "--requests=150", "--seats=100"});
    EXPECT_TRUE(report.contains("ok") && report.at("ok").as_bool());
    const auto& outcome = report.at("outcome").as_object();
    EXPECT_EQ(outcome.at("responses_200").to_number<std::uint64_t>() +
                  outcome.at("responses_304").to_number<std::uint64_t>(),
              150u);
}

TEST_F(LoadSmoke, HotSeatsHaveExactlyOneWinnerEach) {
    const auto report = run("hot-seats", {"--users=20", "--duration=2", "--seats=50", "--hot-seats=5"});
    EXPECT_TRUE(report.contains("ok") && report.at("ok").as_bool());
    const auto& outcome = report.at("outcome").as_object();
    EXPECT_EQ(outcome.at("mode").as_string(), "closed-loop");
    EXPECT_TRUE(outcome.at("exactly_one_winner_per_seat").as_bool());
    EXPECT_EQ(outcome.at("holds_won").to_number<std::uint64_t>(), 5u);
    EXPECT_GT(outcome.at("rejected_409").to_number<std::uint64_t>(), 0u);
    EXPECT_TRUE(report.at("invariants").as_object().at("ok").as_bool())
        << json::serialize(report.at("invariants"));
}

TEST_F(LoadSmoke, HotSeatsAtAFixedRateKeepOneWinnerEach) {
    // 100 attempts/s for 3 s spread over 10 clients, measured from their due times: the mode is named, the
    // attempts stay within the schedule (at most rate x duration) and the race still has one winner a seat.
    const auto report =
        run("hot-seats", {"--users=10", "--duration=3", "--rate=100", "--seats=20", "--hot-seats=3"});
    EXPECT_TRUE(report.contains("ok") && report.at("ok").as_bool());
    const auto& outcome = report.at("outcome").as_object();
    EXPECT_EQ(outcome.at("mode").as_string(), "fixed-rate");
    EXPECT_EQ(outcome.at("fixed_rate").to_number<double>(), 100.0);
    EXPECT_EQ(outcome.at("ready_users").to_number<std::uint64_t>(), 10u);
    const auto claimed = outcome.at("attempts_sent").to_number<std::uint64_t>();
    EXPECT_GT(claimed, 0u);
    EXPECT_LE(claimed, 300u);
    EXPECT_EQ(count_of(report, "hold", "201") + count_of(report, "hold", "409"), claimed);
    EXPECT_TRUE(outcome.at("exactly_one_winner_per_seat").as_bool());
    EXPECT_EQ(outcome.at("holds_won").to_number<std::uint64_t>(), 3u);
    EXPECT_GT(outcome.at("rejected_409").to_number<std::uint64_t>(), 0u);
    EXPECT_TRUE(report.at("invariants").as_object().at("ok").as_bool())
        << json::serialize(report.at("invariants"));
}

TEST_F(LoadSmoke, FlashSaleSellsEverySeatOnceAndBalancesTheBooks) {
    // More users than seats: some find it sold out, every seat is paid for exactly once.
    const auto report = run("flash-sale", {"--users=30", "--duration=60", "--seats=24"});
    EXPECT_TRUE(report.contains("ok") && report.at("ok").as_bool());
    const auto& outcome = report.at("outcome").as_object();
    EXPECT_EQ(outcome.at("paid").to_number<std::uint64_t>(), 24u);
    EXPECT_TRUE(outcome.at("all_seats_sold").as_bool());
    const auto& invariants = report.at("invariants").as_object();
    EXPECT_TRUE(invariants.at("ok").as_bool()) << json::serialize(invariants);
    EXPECT_TRUE(invariants.at("sold_seats_match_payments").as_bool());
}

TEST_F(LoadSmoke, EventsReachTheAvailabilityBitsetForEveryHold) {
    const auto report = run("events", {"--users=4", "--duration=2", "--seats=300"});
    EXPECT_TRUE(report.contains("ok") && report.at("ok").as_bool());
    const auto& outcome = report.at("outcome").as_object();
    EXPECT_GT(outcome.at("holds").to_number<std::uint64_t>(), 0u);
    EXPECT_EQ(outcome.at("events_seen").to_number<std::uint64_t>(),
              outcome.at("holds").to_number<std::uint64_t>());
    EXPECT_TRUE(report.at("invariants").as_object().at("ok").as_bool())
        << json::serialize(report.at("invariants"));
}

}  // namespace
}  // namespace marquee::test
