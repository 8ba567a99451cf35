// End to end: 예매 취소/환불 — a paid reservation cancelled through the real binary (ADR 0028,
// docs/sequences/cancel-refund.md): the fee tier of the schedule's rule at the database clock, the points
// back to the wallet, the card part refunded at the gateway (and recovered when the gateway fails), the seats
// back on sale in the availability bitset, the 409s and the 404. The process has a database and a pg-sim of
// its own (the PrivateStack), so the gateway's books can be compared with Marquee's. Every test ends with
// scripts/check-invariants.
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "local_services.hpp"
#include "marquee_process.hpp"
#include "private_stack.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Headers = std::map<std::string, std::string>;

constexpr std::int64_t kPrice = 90'000;
/// How long the suite waits for what the server does on its own (recovery, the availability consumer).
constexpr auto kSettle = 30s;

class CancelEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // Recovery takes a PENDING refund over after 1 s (its pass runs every 5 s). The availability
        // reconcile runs every second: the shared NATS durable consumer may redeliver an older event (say the
        // purchase's `confirmed`) after the `cancelled` one when another process fetched it and stopped (ADR
        // 0014), and the reconcile against booking.seat_states() then repairs the bitset within a few
        // seconds.
        stack_ = std::make_unique<PrivateStack>(
            PrivateStack::Options{"--service=auth,queue,catalog,booking,wallet,payment",
                                  {{"MARQUEE_RECOVERY_AGE_S", "1"},
                                   {"MARQUEE_PAYMENT_GATEWAY_TIMEOUT_MS", "3000"},
                                   {"MARQUEE_AVAILABILITY_RECONCILE_MS", "1000"}},
                                  11});
        // Concerts too start at a random high id: the catalog caches a concert's schedules in the shared
        // Redis by concert id (PrivateDatabase does this for schedules and seats).
        stack_->query(
            "SELECT setval(pg_get_serial_sequence('catalog.concerts', 'id'), 1000000 + (random() * "
            "1e12)::bigint)");
    }
    static void TearDownTestSuite() { stack_.reset(); }
    void TearDown() override { gateway().set_faults({}); }

    static std::uint16_t port() { return stack_->port(); }
    static pg_sim::Gateway& gateway() { return stack_->gateway(); }
    static db::Result query(const std::string& statement, db::Params params = {}) {
        return stack_->query(statement, std::move(params));
    }

    /// A fan admitted to a fresh 2-seat schedule (starting in 30 days: the default rule's free tier) who paid
    /// seat 0 by `method` (points first topped up); returns the reservation id.
    static std::string bought(AdmittedFan& b, const std::string& method,
                              std::optional<std::int64_t> points = std::nullopt) {
        b = admitted_fan(port(), 2, kPrice, stack_->database_url(), "cancel-fan");
        auto reservation = hold_seats(port(), b, {0});
        if (method != "CARD") {
            const auto charged = top_up(port(), b.headers, points.value_or(kPrice));
            EXPECT_EQ(charged.status, 201u) << charged.body;
        }
        json::object body{{"reservationId", reservation}, {"method", method}};
        if (points) body["pointsAmount"] = *points;
        auto headers = b.headers;
        headers["Content-Type"] = "application/json";
        headers["Idempotency-Key"] = unique_name("pay");
        const auto paid = http_request(port(), "POST", "/api/v1/payments", json::serialize(body), headers);
        EXPECT_EQ(paid.status, 201u) << paid.body;
        return reservation;
    }

    /// The schedule starts `days` from now (the database clock); its booking closes a day before.
    static void starts_in(std::int64_t schedule, double days) {
        query(
            "UPDATE catalog.schedules SET starts_at = now() + make_interval(secs => $2 * 86400), "
            "booking_closes_at = least(booking_closes_at, now() + make_interval(secs => $2 * 86400)) "
            "WHERE id = $1",
            db::params(schedule, days));
    }

    /// The fan's purchase ended its queue token: joins again for one more hold.
    static void rejoin(AdmittedFan& b) {
        auto fan = b.headers;
        fan.erase("X-Queue-Token");
        b.headers = admitted(port(), fan, b.seats.schedule);
    }

    static HttpReply cancel(const Headers& fan, const std::string& reservation, const std::string& key = {}) {
        auto headers = fan;
        if (!key.empty()) headers["Idempotency-Key"] = key;
        return http_request(port(), "POST", "/api/v1/reservations/" + reservation + "/cancel", {}, headers);
    }

    static std::int64_t balance(const AdmittedFan& b) {
        const auto w = http_request(port(), "GET", "/api/v1/wallet", {}, b.headers).json();
        return w.contains("balance") ? w.at("balance").as_int64() : -1;
    }
    static std::string state_of(const AdmittedFan& b, const std::string& reservation) {
        const auto doc =
            http_request(port(), "GET", "/api/v1/reservations/" + reservation, {}, b.headers).json();
        return doc.contains("state") ? std::string(doc.at("state").as_string()) : std::string();
    }
    /// The availability bitset of a 2-seat schedule, base64 ("AA==": both free, "gA==": seat 0 taken).
    static std::string taken(std::int64_t schedule) {
        const auto reply =
            http_request(port(), "GET", "/api/v1/schedules/" + std::to_string(schedule) + "/availability");
        if (reply.status != 200u) return {};
        const auto doc = reply.json();
        return doc.contains("taken") ? std::string(doc.at("taken").as_string()) : std::string();
    }
    static std::string refund_id(const std::string& reservation) {
        const auto r = query("SELECT id::text FROM payment.refunds WHERE reservation_id = $1::uuid",
                             db::params(reservation));
        return r.empty() ? std::string() : r.get<std::string>(0, 0);
    }

    static void expect_invariants() {
        const auto check = check_invariants({}, 120, stack_->database_url());
        EXPECT_EQ(check.status, 0) << check.output;
    }
    /// The card money pg-sim kept equals Marquee's books (no card payment or refund in flight).
    static void expect_gateway_books() {
        const auto s = gateway().stats();
        const auto booked =
            query(
                "SELECT ((SELECT coalesce(sum(card_amount), 0) FROM payment.payments WHERE state IN "
                "('APPROVED', "
                "'REFUNDED')) - (SELECT coalesce(sum(card_amount), 0) FROM payment.refunds WHERE state = "
                "'REFUNDED') + (SELECT coalesce(sum(amount), 0) FROM wallet.charges WHERE state = "
                "'APPROVED'))"
                "::bigint")
                .get<std::int64_t>(0, 0);
        EXPECT_EQ(s.approved_amount - s.cancelled_amount - s.refunded_amount, booked);
        // scripts/check-invariants --pgsim-url says the same.
        const std::string command = source_dir() + "/scripts/check-invariants --database-url '" +
                                    stack_->database_url() + "' --pgsim-url '" + stack_->gateway_url() +
                                    "' 2>&1";
        std::string output;
        if (FILE* pipe = ::popen(command.c_str(), "r")) {
            char buffer[4096];
            std::size_t n = 0;
            while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
            EXPECT_EQ(::pclose(pipe), 0) << output;
        }
        EXPECT_NE(output.find("ok      gateway_books"), std::string::npos) << output;
    }

    static inline std::unique_ptr<PrivateStack> stack_;
};

TEST_F(CancelEndToEnd, PointsPurchaseCancelledBeforeD10IsFreeAndItsSeatsGoBackOnSale) {
    AdmittedFan b;
    const auto reservation = bought(b, "POINTS");
    ASSERT_EQ(balance(b), 0);
    ASSERT_TRUE(eventually([&] { return taken(b.seats.schedule) == "gA=="; }, kSettle, 100ms))
        << taken(b.seats.schedule);

    const auto key = unique_name("cancel");
    const auto cancelled = cancel(b.headers, reservation, key);
    ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
    const auto doc = cancelled.json();
    EXPECT_EQ(doc.at("id").as_string(), reservation);
    EXPECT_EQ(doc.at("status").as_string(), "CANCELLED");
    EXPECT_EQ(doc.at("state").as_string(), "CANCELLED");
    EXPECT_EQ(doc.at("seats").at(0).at("state").as_string(), "RELEASED");
    const auto& refund = doc.at("refund").as_object();
    EXPECT_EQ(refund.at("points").as_int64(), kPrice);
    EXPECT_EQ(refund.at("card").as_int64(), 0);
    EXPECT_EQ(refund.at("fee").as_int64(), 0);
    EXPECT_EQ(refund.at("state").as_string(), "REFUNDED");
    EXPECT_FALSE(doc.at("replayed").as_bool());
    EXPECT_EQ(balance(b), kPrice) << "the points are back";
    EXPECT_EQ(state_of(b, reservation), "CANCELLED");

    // Repeats, with the key or without one, give the same answer and move nothing again.
    for (const std::string& repeat_key : {key, std::string()}) {
        const auto again = cancel(b.headers, reservation, repeat_key);
        ASSERT_EQ(again.status, 200u) << again.body;
        EXPECT_EQ(again.json().at("refund"), doc.at("refund"));
        EXPECT_TRUE(again.json().at("replayed").as_bool());
    }
    EXPECT_EQ(balance(b), kPrice);
    // The same key for another reservation is refused.
    rejoin(b);
    const auto other = hold_seats(port(), b, {1});
    const auto reused = cancel(b.headers, other, key);
    EXPECT_EQ(reused.status, 422u) << reused.body;
    EXPECT_EQ(problem_type(reused), "idempotency-key-reused");

    // The seat is free again in the availability bitset (seat 1 is held meanwhile: 0x40).
    EXPECT_TRUE(eventually([&] { return taken(b.seats.schedule) == "QA=="; }, kSettle, 100ms))
        << taken(b.seats.schedule);

    // The schedule states its rule.
    const auto concert =
        query("SELECT concert_id FROM catalog.schedules WHERE id = $1", db::params(b.seats.schedule))
            .get<std::int64_t>(0, 0);
    const auto schedules =
        http_request(port(), "GET", "/api/v1/concerts/" + std::to_string(concert) + "/schedules");
    ASSERT_EQ(schedules.status, 200u) << schedules.body;
    const auto list = schedules.json();
    const auto& policy = list.at("items").at(0).at("cancellationPolicy");
    EXPECT_EQ(policy.at("fees").as_array().size(), 2u);
    EXPECT_EQ(policy.at("fees").at(1).at("percent").as_int64(), 10);
    EXPECT_EQ(policy.at("deadline"), policy.at("fees").at(1).at("until"));

    // Cancellations by outcome are counted.
    const auto metrics = http_request(port(), "GET", "/metrics");
    EXPECT_NE(metrics.body.find(R"(reservation_cancellations_total{outcome="cancelled"})"),
              std::string::npos);
    EXPECT_NE(metrics.body.find(R"(reservation_cancellations_total{outcome="replayed"})"), std::string::npos);
    expect_invariants();
}

TEST_F(CancelEndToEnd, FeeTierTakesTheFeeFromTheCardFirstThenThePoints) {
    AdmittedFan b;
    // 85,000 points + 5,000 card; at D-5 the fee is 10 % = 9,000: the card's 5,000, then 4,000 points.
    const auto reservation = bought(b, "POINTS+CARD", 85'000);
    starts_in(b.seats.schedule, 5);
    const auto cancelled = cancel(b.headers, reservation);
    ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
    const auto answer = cancelled.json();
    const auto& refund = answer.at("refund").as_object();
    EXPECT_EQ(refund.at("fee").as_int64(), 9'000);
    EXPECT_EQ(refund.at("card").as_int64(), 0);
    EXPECT_EQ(refund.at("points").as_int64(), 81'000);
    EXPECT_EQ(refund.at("state").as_string(), "REFUNDED");
    EXPECT_EQ(balance(b), 81'000);
    expect_invariants();
    expect_gateway_books();
}

TEST_F(CancelEndToEnd, CardRefundTheGatewayFailsIsPendingThenRecovered) {
    AdmittedFan b;
    const auto reservation = bought(b, "CARD");
    starts_in(b.seats.schedule, 5);  // 10 %: 81,000 back to the card
    pg_sim::Faults down;
    down.down = true;
    gateway().set_faults(down);
    const auto cancelled = cancel(b.headers, reservation, unique_name("cancel"));
    ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
    EXPECT_EQ(cancelled.json().at("status").as_string(), "CANCELLED");
    const auto answer = cancelled.json();
    const auto& refund = answer.at("refund").as_object();
    EXPECT_EQ(refund.at("card").as_int64(), 81'000);
    EXPECT_EQ(refund.at("fee").as_int64(), 9'000);
    EXPECT_EQ(refund.at("state").as_string(), "PENDING");
    const auto id = refund_id(reservation);
    ASSERT_FALSE(id.empty());
    EXPECT_FALSE(gateway().find_refund(id).has_value()) << "nothing refunded while the gateway is down";

    gateway().set_faults({});
    // The recovery job posts the refund again under the same key until the gateway confirms it.
    ASSERT_TRUE(eventually(
        [&] {
            return cancel(b.headers, reservation).json().at("refund").at("state").as_string() == "REFUNDED";
        },
        kSettle, 100ms));
    const auto at_gateway = gateway().find_refund(id);
    ASSERT_TRUE(at_gateway.has_value());
    EXPECT_EQ(at_gateway->amount, 81'000);
    expect_invariants();
    expect_gateway_books();
}

TEST_F(CancelEndToEnd, CardRefundAnsweredAtOnceWhenTheGatewayIsUp) {
    AdmittedFan b;
    const auto reservation = bought(b, "CARD");
    const auto cancelled = cancel(b.headers, reservation);
    ASSERT_EQ(cancelled.status, 200u) << cancelled.body;
    const auto answer = cancelled.json();
    const auto& refund = answer.at("refund").as_object();
    EXPECT_EQ(refund.at("card").as_int64(), kPrice);
    EXPECT_EQ(refund.at("state").as_string(), "REFUNDED");
    expect_gateway_books();
    expect_invariants();
}

TEST_F(CancelEndToEnd, TwoCancelsAtOnceAreDecidedOnce) {
    AdmittedFan b;
    const auto reservation = bought(b, "POINTS");
    auto first = std::async(std::launch::async, [&] { return cancel(b.headers, reservation); });
    auto second =
        std::async(std::launch::async, [&] { return cancel(b.headers, reservation, unique_name("c")); });
    const auto one = first.get();
    const auto other = second.get();
    ASSERT_EQ(one.status, 200u) << one.body;
    ASSERT_EQ(other.status, 200u) << other.body;
    EXPECT_NE(one.json().at("replayed").as_bool(), other.json().at("replayed").as_bool())
        << "one decided, the other replayed its answer";
    EXPECT_EQ(one.json().at("refund"), other.json().at("refund"));
    EXPECT_EQ(balance(b), kPrice) << "the points came back once";
    expect_invariants();
}

TEST_F(CancelEndToEnd, OnlyAPaidReservationBeforeTheDeadlineOfItsOwnerCanBeCancelled) {
    AdmittedFan b;
    const auto reservation = bought(b, "POINTS");
    rejoin(b);
    const auto held = hold_seats(port(), b, {1});
    const auto not_paid = cancel(b.headers, held);
    EXPECT_EQ(not_paid.status, 409u) << not_paid.body;
    EXPECT_EQ(problem_type(not_paid), "not-cancellable");
    EXPECT_EQ(state_of(b, held), "HELD");

    // Another fan's reservation reads as unknown, as GET does.
    const auto stranger = new_fan(port(), "cancel-stranger");
    const auto theirs = cancel(stranger, reservation);
    EXPECT_EQ(theirs.status, 404u) << theirs.body;
    EXPECT_EQ(problem_type(theirs), "not-found");
    EXPECT_EQ(cancel(b.headers, "00000000-0000-4000-8000-000000000000").status, 404u);
    EXPECT_EQ(cancel(b.headers, "not-a-uuid").status, 404u);
    EXPECT_EQ(cancel({}, reservation).status, 401u);

    // D-2: past the default rule's deadline (D-3).
    starts_in(b.seats.schedule, 2);
    const auto closed = cancel(b.headers, reservation);
    EXPECT_EQ(closed.status, 409u) << closed.body;
    EXPECT_EQ(problem_type(closed), "cancellation-closed");
    EXPECT_TRUE(closed.json().contains("deadline"));
    EXPECT_EQ(state_of(b, reservation), "CONFIRMED");
    EXPECT_EQ(balance(b), 0);
    expect_invariants();
}

}  // namespace
}  // namespace marquee::test
