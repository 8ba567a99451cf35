// PostgreSQL failover under payments (issue 16, docs/decisions/0021-postgres-failover.md): the real `marquee`
// binary on the cluster's multi-host URL (Patroni: a primary and a synchronous standby), a card payment per
// fan running on several threads, and the primary killed with kill -9 (Patroni and postmaster) in the
// middle. Checks: every payment the API answered APPROVED is APPROVED on the promoted primary; the same
// process serves payments again without a restart; nothing is charged twice (the gateway's books equal the
// approved card payments, one per reservation).
//
// Brings `scripts/cluster up --only postgres` itself (and stops it after if it was down); needs
// `./scripts/dev services` for Redis (pg-sim runs in-process). ctest label `cluster`, skipped in CI unless
// MARQUEE_CI_EXTRA names `cluster`: one run takes two minutes (a failover, a rejoin, recovery) on more
// processes than CI's budget allows; see docs/reliability.md.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "cluster_env.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"
#include "pg_sim/local_server.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::map<std::string, std::string>;

constexpr std::int64_t kPrice = 90'000;
constexpr int kFans = 96;
constexpr int kThreads = 4;

struct Outcome {
    unsigned status = 0;
    std::string state;  ///< APPROVED, PENDING, FAILED... ("" when the answer was no payment)
    std::string id;
    int unavailable = 0;        ///< 503s seen (and retried with the same key) before the final answer
    double first_error_at = 0;  ///< wall-clock seconds (the drill's clock) of the first 503, 0 if none
    double last_error_at = 0;
    double answered_at = 0;  ///< of the final answer
};

double wall_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class PgFailoverCluster : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (skipped_in_ci()) return;
        cluster_ = new ClusterComponents({"postgres"}, {"MARQUEE_DATABASE_URL"});
        use_cluster_settings({"MARQUEE_DATABASE_URL"});
        gateway_ = new pg_sim::LocalServer(11);
        ::setenv("MARQUEE_PAYMENT_GATEWAY_URL", gateway_->url().c_str(), 1);  // this test's own books
        const auto [status, output] = run_marquee({"--migrate-only"}, 120s);
        ASSERT_EQ(status, 0) << output;
        process_ = new MarqueeProcess({"--service=auth,queue,booking,wallet,payment"},
                                      {{"MARQUEE_PAYMENT_GATEWAY_URL", gateway_->url()},
                                       {"MARQUEE_PAYMENT_GATEWAY_TIMEOUT_MS", "5000"},
                                       {"MARQUEE_QUEUE_ADMIT_PER_SECOND", "1000"},
                                       {"MARQUEE_QUEUE_TICK_MS", "50"},
                                       {"MARQUEE_RECOVERY_AGE_S", "5"}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
        delete gateway_;
        gateway_ = nullptr;
        delete cluster_;
        cluster_ = nullptr;
    }
    void SetUp() override {
        if (skipped_in_ci()) {
            GTEST_SKIP() << "not in CI unless MARQUEE_CI_EXTRA names cluster (a failover takes minutes)";
        }
        ASSERT_NE(process_, nullptr) << "the suite's set-up failed";
    }

    static std::uint16_t port() { return process_->port(); }

    /// Pays with a card under one Idempotency-Key, as a client does: a 503 is retried with the same key after
    /// a short pause until a definite answer or `bound`.
    static Outcome pay(const AdmittedFan& fan, const std::string& reservation, std::chrono::seconds bound) {
        Outcome outcome;
        Headers headers = fan.headers;
        headers["Content-Type"] = "application/json";
        headers["Idempotency-Key"] = unique_name("failover-pay");
        const std::string body =
            json::serialize(json::object{{"reservationId", reservation}, {"method", "CARD"}});
        const auto deadline = Clock::now() + bound;
        for (;;) {
            HttpReply reply;
            try {
                reply = http_request(port(), "POST", "/api/v1/payments", body, headers);
            } catch (const std::exception&) {
                reply.status = 0;  // the request itself failed: the same as an unknown outcome
            }
            outcome.status = reply.status;
            outcome.answered_at = wall_now();
            if ((reply.status == 503 || reply.status == 0) && Clock::now() < deadline) {
                ++outcome.unavailable;
                outcome.last_error_at = wall_now();
                if (outcome.first_error_at == 0) outcome.first_error_at = outcome.last_error_at;
                std::this_thread::sleep_for(250ms);
                continue;
            }
            if (reply.status == 201 || reply.status == 202 || reply.status == 200) {
                const auto doc = reply.json();
                if (doc.contains("state")) outcome.state = std::string(doc.at("state").as_string());
                if (doc.contains("id")) outcome.id = std::string(doc.at("id").as_string());
            }
            return outcome;
        }
    }

    /// `count` fans, each admitted to a schedule of its own and holding its one seat.
    static void prepare(int count, std::vector<AdmittedFan>& fans, std::vector<std::string>& reservations,
                        std::string_view prefix) {
        for (int i = 0; i < count; ++i) {
            fans.push_back(admitted_fan(port(), 1, kPrice, {}, prefix));
            reservations.push_back(hold_seats(port(), fans.back(), {0}));
            ASSERT_FALSE(reservations.back().empty());
            users_.push_back(fans.back().user_id);
        }
    }

    /// Every fan pays on kThreads client threads, a second apart per thread; once 2 * kThreads payments were
    /// answered, `action` runs (the failure) while the others go on. Returns the outcomes; `action`'s result
    /// (the component's JSON report) goes to `report`.
    template <class Action>
    static std::vector<Outcome> pay_across(const std::vector<AdmittedFan>& fans,
                                           const std::vector<std::string>& reservations, Action action,
                                           std::string& report) {
        std::vector<Outcome> outcomes(fans.size());
        std::atomic<std::size_t> next{0};
        std::atomic<int> answered{0};
        std::vector<std::thread> payers;
        payers.reserve(kThreads);
        for (int t = 0; t < kThreads; ++t) {
            payers.emplace_back([&] {
                for (std::size_t i = next++; i < fans.size(); i = next++) {
                    outcomes[i] = pay(fans[i], reservations[i], 120s);
                    ++answered;
                    std::this_thread::sleep_for(1s);  // spread the payments across the failure
                }
            });
        }
        while (answered < kThreads * 2) std::this_thread::sleep_for(20ms);
        const int answered_before = answered;
        report = action();
        for (auto& payer : payers) payer.join();
        EXPECT_LT(answered_before, static_cast<int>(fans.size())) << "nothing ran across the failure";
        return outcomes;
    }

    /// Every APPROVED answer is APPROVED in the database the URL reaches now (the read-write node); returns
    /// how many there were.
    static int expect_approved_are_there(const std::vector<Outcome>& outcomes) {
        int approved = 0, unavailable_answers = 0, retried = 0;
        std::map<std::string, int> answers;
        for (const auto& outcome : outcomes) {
            ++answers[std::to_string(outcome.status) + " " + outcome.state];
            retried += outcome.unavailable > 0 ? 1 : 0;
            unavailable_answers += outcome.unavailable;
            if (outcome.state != "APPROVED") continue;
            ++approved;
            const auto row =
                sql("SELECT state FROM payment.payments WHERE id = $1::uuid", db::params(outcome.id));
            EXPECT_EQ(row.rows(), 1) << "payment " << outcome.id << " answered APPROVED is missing";
            if (row.rows() == 1) {
                EXPECT_EQ(row.get<std::string>(0, 0), "APPROVED") << outcome.id;
            }
        }
        std::cout << "[ failover ] " << approved << " of " << outcomes.size() << " answered APPROVED, "
                  << retried << " payments saw " << unavailable_answers
                  << " 503s and were retried with their key\n";
        for (const auto& [answer, n] : answers) {
            std::cout << "[ failover ] final answer " << answer << ": " << n << "\n";
        }
        return approved;
    }

    /// The same process, never restarted, takes a payment again, and says it is ready.
    static void expect_a_new_payment_goes_through() {
        const auto late = admitted_fan(port(), 1, kPrice, {}, "failover-late");
        users_.push_back(late.user_id);
        const auto late_reservation = hold_seats(port(), late, {0});
        const Outcome after = pay(late, late_reservation, 30s);
        EXPECT_EQ(after.status, 201u);
        EXPECT_EQ(after.state, "APPROVED");
        EXPECT_EQ(http_request(port(), "GET", "/readyz").status, 200u);
    }

    /// Recovery settles what the failure left PENDING (rows older than 5 s here); then no reservation has two
    /// APPROVED payments, and what the gateway kept (approved minus refunded) is exactly the card amounts
    /// Marquee approved, for every fan of this suite (they share its gateway).
    static void expect_no_money_lost_or_doubled() {
        std::string list;
        for (const auto& user : users_) list += (list.empty() ? "" : ",") + user;
        const std::string mine = " user_id::text = ANY (string_to_array($1, ','))";
        const std::string pending_sql =
            "SELECT count(*)::bigint FROM payment.payments WHERE state = 'PENDING' AND" + mine;
        const auto settle_by = Clock::now() + 90s;
        while (sql(pending_sql, db::params(list)).get<std::int64_t>(0, 0) > 0 && Clock::now() < settle_by) {
            std::this_thread::sleep_for(500ms);
        }
        EXPECT_EQ(sql(pending_sql, db::params(list)).get<std::int64_t>(0, 0), 0) << "payments left PENDING";
        // Where the payments ended. One whose PENDING row committed only after its caller was told 503 (its
        // COMMIT waited for the standby) is replayed as 202 PENDING; recovery then finds no charge under its
        // key and fails it (nothing charged), and the fan may pay the hold again.
        const auto states =
            sql("SELECT state || coalesce(' ' || failure_code, '') AS s, count(*)::bigint AS n "
                "FROM payment.payments WHERE" +
                    mine + " GROUP BY 1 ORDER BY 1",
                db::params(list));
        for (int row = 0; row < states.rows(); ++row) {
            std::cout << "[ failover ] payments now " << states.get<std::string>(row, "s") << ": "
                      << states.get<std::int64_t>(row, "n") << "\n";
        }
        const auto doubled =
            sql("SELECT count(*)::bigint FROM (SELECT reservation_id FROM payment.payments WHERE "
                "state = 'APPROVED' AND" +
                    mine + " GROUP BY reservation_id HAVING count(*) > 1) d",
                db::params(list));
        EXPECT_EQ(doubled.get<std::int64_t>(0, 0), 0);
        const auto card =
            sql("SELECT coalesce(sum(card_amount), 0)::bigint FROM payment.payments WHERE state = "
                "'APPROVED' AND" +
                    mine,
                db::params(list));
        const auto books = gateway_->gateway().stats();
        EXPECT_EQ(books.approved_amount - books.cancelled_amount, card.get<std::int64_t>(0, 0))
            << "approved " << books.approved_amount << ", refunded " << books.cancelled_amount;
        const auto check = check_invariants(users_, 120);
        EXPECT_EQ(check.status, 0) << check.output;
    }

    static inline std::vector<std::string> users_;  ///< every fan of the suite (one gateway's books)
    static ClusterComponents* cluster_;
    static pg_sim::LocalServer* gateway_;
    static MarqueeProcess* process_;
};
ClusterComponents* PgFailoverCluster::cluster_ = nullptr;
pg_sim::LocalServer* PgFailoverCluster::gateway_ = nullptr;
MarqueeProcess* PgFailoverCluster::process_ = nullptr;

TEST_F(PgFailoverCluster, PaymentsApprovedBeforeThePrimaryDiedAreOnThePromotedPrimaryAndNoneIsChargedTwice) {
    std::vector<AdmittedFan> fans;
    std::vector<std::string> reservations;
    prepare(kFans, fans, reservations, "failover-fan");  // all before the kill: the payments run across it
    const std::string before = primary_name();

    std::string drill;
    const auto outcomes = pay_across(
        fans, reservations, [] { return cluster_script("pg_failover.py", "drill"); }, drill);
    std::cout << "[ failover ] " << drill << "\n";
    const auto report = json::parse(drill).as_object();
    const std::string killed(report.at("killed").at("node").as_string());
    const std::string promoted(report.at("promoted").at("node").as_string());
    EXPECT_EQ(killed, before);
    EXPECT_NE(promoted, killed);
    EXPECT_GT(expect_approved_are_there(outcomes), 0);

    // Figures for docs/reliability.md, on the drill's clock: how long callers saw errors, and how soon after
    // PostgreSQL took writes again the pool, never restarted, answered a payment.
    const double killed_at = report.at("killed").at("killed_at").to_number<double>();
    const double writable_at = report.at("promoted").at("writable_at").to_number<double>();
    const double rejoined_at = report.at("restored").at("rejoined_at").to_number<double>();
    double first_error = 0, last_error = 0, first_success_after_rejoin = 0;
    for (const auto& outcome : outcomes) {
        if (outcome.first_error_at > 0 && (first_error == 0 || outcome.first_error_at < first_error)) {
            first_error = outcome.first_error_at;
        }
        last_error = std::max(last_error, outcome.last_error_at);
        if (outcome.state == "APPROVED" && outcome.answered_at > rejoined_at &&
            (first_success_after_rejoin == 0 || outcome.answered_at < first_success_after_rejoin)) {
            first_success_after_rejoin = outcome.answered_at;
        }
    }
    std::cout << std::fixed << std::setprecision(2)
              << "[ failover ] after the kill: promoted and writable at +" << writable_at - killed_at
              << " s, standby back at +" << rejoined_at - killed_at << " s; callers saw 503s from +"
              << (first_error > 0 ? first_error - killed_at : 0) << " s to +"
              << (last_error > 0 ? last_error - killed_at : 0) << " s; first APPROVED after the rejoin at +"
              << (first_success_after_rejoin > 0 ? first_success_after_rejoin - killed_at : 0) << " s\n";

    expect_a_new_payment_goes_through();
    expect_no_money_lost_or_doubled();
}

TEST_F(PgFailoverCluster, PaymentsRunningThroughAPlannedSwitchoverAreNeitherLostNorDoubled) {
    // `patronictl switchover`: the primary is demoted and restarted as a standby while connections to it are
    // open (57P01, or 25006 on a write that reaches it read-only): the pool drops them and walks to the new
    // one.
    std::vector<AdmittedFan> fans;
    std::vector<std::string> reservations;
    prepare(kFans / 4, fans, reservations, "switchover-fan");
    const std::string before = primary_name();
    std::string switched;
    const auto outcomes = pay_across(
        fans, reservations, [] { return cluster_script("pg_failover.py", "switchover"); }, switched);
    std::cout << "[ failover ] " << switched << "\n";
    const auto report = json::parse(switched).as_object();
    EXPECT_EQ(std::string(report.at("from").as_string()), before);
    EXPECT_NE(primary_name(), before);
    EXPECT_GT(expect_approved_are_there(outcomes), 0);
    expect_a_new_payment_goes_through();
    expect_no_money_lost_or_doubled();
}

}  // namespace
}  // namespace marquee::test
