// End to end: 결제 — queue → hold → top up → pay → confirmed, through the real binary with a real JWT
// (docs/sequences/queue-hold-pay.md, sections 2 and 3, and hold-expiry.md). The process has a payment-gateway
// simulator and a database of its own: its faults are this suite's to set, and its recovery jobs never ask
// this simulator about another test's payments. Every test ends with scripts/check-invariants.
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
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

/// A fan admitted to a fresh schedule: the headers a hold or a payment needs, and the user id.
using Buyer = AdmittedFan;

std::string pay_body(const std::string& reservation, const std::string& method,
                     std::optional<std::int64_t> points = std::nullopt) {
    json::object body{{"reservationId", reservation}, {"method", method}};
    if (points) body["pointsAmount"] = *points;
    return json::serialize(body);
}

class PaymentEndToEnd : public ::testing::Test {
  protected:
    static void start(std::map<std::string, std::string> overrides) {
        // Above the simulator's latency in the test that sets one, so that answer is not lost.
        overrides["MARQUEE_PAYMENT_GATEWAY_TIMEOUT_MS"] = "5000";
        stack_ = std::make_unique<PrivateStack>(
            PrivateStack::Options{"--service=auth,queue,booking,wallet,payment", std::move(overrides), 5});
    }
    static void SetUpTestSuite() { start({}); }
    static void TearDownTestSuite() { stack_.reset(); }
    void TearDown() override { gateway().set_faults({}); }

    static std::uint16_t port() { return stack_->port(); }
    static pg_sim::Gateway& gateway() { return stack_->gateway(); }
    static db::Result query(const std::string& statement, db::Params params = {}) {
        return stack_->query(statement, std::move(params));
    }

    static Buyer buyer(int seats = 2) {
        return admitted_fan(port(), seats, kPrice, stack_->database_url(), "payment-fan");
    }

    /// Holds the seats with these indexes; returns the reservation id.
    static std::string hold(const Buyer& b, const std::vector<std::size_t>& indexes) {
        return hold_seats(port(), b, indexes);
    }

    static void top_up(const Buyer& b, std::int64_t amount) {
        const auto charged = test::top_up(port(), b.headers, amount);
        ASSERT_EQ(charged.status, 201u) << charged.body;
    }

    static HttpReply pay(Headers headers, const std::string& key, const std::string& body) {
        headers["Content-Type"] = "application/json";
        if (!key.empty()) headers["Idempotency-Key"] = key;
        return http_request(port(), "POST", "/api/v1/payments", body, headers);
    }

    static json::object wallet(const Buyer& b) {
        return http_request(port(), "GET", "/api/v1/wallet", {}, b.headers).json();
    }
    static std::int64_t balance(const Buyer& b) {
        const auto w = wallet(b);
        return w.contains("balance") ? w.at("balance").as_int64() : -1;
    }
    static std::size_t ledger_rows(const Buyer& b, std::string_view kind) {
        std::size_t n = 0;
        const auto w = wallet(b);
        if (!w.contains("ledger")) return 0;
        for (const auto& row : w.at("ledger").as_array()) n += row.at("kind").as_string() == kind ? 1 : 0;
        return n;
    }
    static std::string reservation_state(const Buyer& b, const std::string& id) {
        const auto doc = http_request(port(), "GET", "/api/v1/reservations/" + id, {}, b.headers).json();
        return doc.contains("state") ? std::string(doc.at("state").as_string()) : std::string();
    }
    /// The state of the buyer's queue token for its schedule; "" when the queue no longer reports one.
    static std::string queue_state(const Buyer& b) {
        const auto me = http_request(
            port(), "GET", "/api/v1/queue/me?scheduleId=" + std::to_string(b.seats.schedule), {}, b.headers);
        if (me.status == 404) return {};
        const auto doc = me.json();
        return doc.contains("state") ? std::string(doc.at("state").as_string()) : std::string();
    }
    /// The id of the payment the buyer made under `key` ("" when there is none).
    static std::string payment_id(const Buyer& b, const std::string& key) {
        const auto r =
            query("SELECT id::text FROM payment.payments WHERE user_id = $1::uuid AND idempotency_key = $2",
                  db::params(b.user_id, key));
        return r.empty() ? std::string() : r.get<std::string>(0, 0);
    }
    static std::int64_t payments_of(const Buyer& b) {
        return query("SELECT count(*)::bigint FROM payment.payments WHERE user_id = $1::uuid",
                     db::params(b.user_id))
            .get<std::int64_t>(0, 0);
    }

    static void expect_invariants() {
        const auto check = check_invariants({}, 120, stack_->database_url());
        EXPECT_EQ(check.status, 0) << check.output;
    }

    static inline std::unique_ptr<PrivateStack> stack_;
};

TEST_F(PaymentEndToEnd, PointsPaymentConfirmsTheReservationAndEndsTheQueueToken) {
    const auto b = buyer();
    const auto reservation = hold(b, {0});
    top_up(b, 100'000);
    EXPECT_EQ(queue_state(b), "ACTIVE");

    const auto paid = pay(b.headers, unique_name("pay"), pay_body(reservation, "POINTS"));
    ASSERT_EQ(paid.status, 201u) << paid.body;
    const auto body = paid.json();
    EXPECT_EQ(body.at("state").as_string(), "APPROVED");
    EXPECT_EQ(body.at("reservationId").as_string(), reservation);
    EXPECT_EQ(body.at("method").as_string(), "POINTS");
    EXPECT_EQ(body.at("amount").as_int64(), kPrice);
    EXPECT_EQ(body.at("pointsAmount").as_int64(), kPrice);
    EXPECT_EQ(body.at("cardAmount").as_int64(), 0);
    EXPECT_EQ(body.at("currency").as_string(), "KRW");
    EXPECT_EQ(body.at("balance").as_int64(), 100'000 - kPrice);
    EXPECT_FALSE(body.at("replayed").as_bool());
    EXPECT_TRUE(body.contains("createdAt"));
    EXPECT_TRUE(body.contains("decidedAt"));
    const std::string id(body.at("id").as_string());
    EXPECT_EQ(paid.headers.at("location"), "/api/v1/payments/" + id);

    EXPECT_EQ(reservation_state(b, reservation), "CONFIRMED");
    EXPECT_EQ(balance(b), 100'000 - kPrice);
    EXPECT_EQ(ledger_rows(b, "PAYMENT"), 1u);
    const auto row = query(
        "SELECT l.amount FROM wallet.ledger l JOIN wallet.wallets w ON w.id = l.wallet_id "
        "WHERE w.user_id = $1::uuid AND l.idempotency_key = 'payment:' || $2",
        db::params(b.user_id, id));
    ASSERT_EQ(row.rows(), 1);
    EXPECT_EQ(row.get<std::int64_t>(0, 0), -kPrice);
    EXPECT_NE(queue_state(b), "ACTIVE") << "the purchase ends the queue token";

    const auto read = http_request(port(), "GET", "/api/v1/payments/" + id, {}, b.headers);
    ASSERT_EQ(read.status, 200u) << read.body;
    EXPECT_EQ(read.json().at("state").as_string(), "APPROVED");
    EXPECT_FALSE(read.json().contains("replayed"));
    expect_invariants();
}

TEST_F(PaymentEndToEnd, CardAndMixedPaymentsChargeTheGatewayForTheCardPartOnly) {
    auto b = buyer();
    const auto by_card = hold(b, {0});
    const auto card = pay(b.headers, unique_name("pay"), pay_body(by_card, "CARD"));
    ASSERT_EQ(card.status, 201u) << card.body;
    EXPECT_EQ(card.json().at("cardAmount").as_int64(), kPrice);
    EXPECT_EQ(card.json().at("pointsAmount").as_int64(), 0);
    const auto charged = gateway().find_by_key(std::string(card.json().at("id").as_string()));
    ASSERT_TRUE(charged.has_value());
    EXPECT_EQ(charged->status, pg_sim::PaymentStatus::Approved);
    EXPECT_EQ(charged->amount, kPrice);
    EXPECT_EQ(reservation_state(b, by_card), "CONFIRMED");

    // The first purchase ended the queue token: the fan queues again for the second one.
    b.headers = admitted(port(), b.headers, b.seats.schedule);
    const auto mixed_reservation = hold(b, {1});
    top_up(b, 30'000);
    const auto mixed = pay(b.headers, unique_name("pay"), pay_body(mixed_reservation, "POINTS+CARD", 30'000));
    ASSERT_EQ(mixed.status, 201u) << mixed.body;
    EXPECT_EQ(mixed.json().at("method").as_string(), "POINTS+CARD");
    EXPECT_EQ(mixed.json().at("pointsAmount").as_int64(), 30'000);
    EXPECT_EQ(mixed.json().at("cardAmount").as_int64(), kPrice - 30'000);
    EXPECT_EQ(mixed.json().at("balance").as_int64(), 0);
    const auto card_part = gateway().find_by_key(std::string(mixed.json().at("id").as_string()));
    ASSERT_TRUE(card_part.has_value());
    EXPECT_EQ(card_part->amount, kPrice - 30'000);
    EXPECT_EQ(reservation_state(b, mixed_reservation), "CONFIRMED");
    EXPECT_EQ(ledger_rows(b, "PAYMENT"), 1u) << "only the points part is a ledger row";
    expect_invariants();
}

TEST_F(PaymentEndToEnd, OneIdempotencyKeyIsOnePaymentHoweverOftenItIsSent) {
    const auto b = buyer();
    const auto reservation = hold(b, {0});
    top_up(b, 200'000);
    const auto key = unique_name("pay");
    const auto body = pay_body(reservation, "POINTS");

    // Eight copies of one request at once (a client retrying on a flaky network), then one more.
    std::vector<std::future<HttpReply>> copies;
    copies.reserve(8);
    for (int i = 0; i < 8; ++i) {
        copies.push_back(std::async(std::launch::async, [&] { return pay(b.headers, key, body); }));
    }
    std::set<std::string> ids;
    for (auto& copy : copies) {
        const auto reply = copy.get();
        // 201 (first or replayed), 202 (a copy that found the first still under way), or 409 in progress.
        EXPECT_TRUE(reply.status == 201u || reply.status == 202u || reply.status == 409u) << reply.body;
        if (reply.status == 201u || reply.status == 202u) {
            ids.insert(std::string(reply.json().at("id").as_string()));
        }
    }
    const auto again = pay(b.headers, key, body);
    ASSERT_EQ(again.status, 201u) << again.body;
    EXPECT_TRUE(again.json().at("replayed").as_bool());
    ids.insert(std::string(again.json().at("id").as_string()));
    EXPECT_EQ(ids.size(), 1u) << "every answer names the same payment";
    EXPECT_EQ(payments_of(b), 1);
    EXPECT_EQ(ledger_rows(b, "PAYMENT"), 1u);
    EXPECT_EQ(balance(b), 200'000 - kPrice);

    const auto other_body = pay(b.headers, key, pay_body(reservation, "CARD"));
    EXPECT_EQ(other_body.status, 422u) << other_body.body;
    EXPECT_EQ(problem_type(other_body), "idempotency-key-reused");
    // The purchase ended the queue token; a fan who queues again still cannot pay twice.
    const auto requeued = admitted(port(), b.headers, b.seats.schedule);
    const auto other_key = pay(requeued, unique_name("pay"), body);
    EXPECT_EQ(other_key.status, 409u) << other_key.body;
    EXPECT_EQ(problem_type(other_key), "already-confirmed");
    EXPECT_EQ(balance(b), 200'000 - kPrice) << "no refusal moved money";
    EXPECT_FALSE(gateway().find_by_key(std::string(again.json().at("id").as_string())).has_value());
    expect_invariants();
}

TEST_F(PaymentEndToEnd, InsufficientPointsMoveNothingAndTheHoldCanStillBePaid) {
    const auto b = buyer();
    const auto reservation = hold(b, {0});
    top_up(b, 50'000);
    const auto key = unique_name("pay");
    const auto refused = pay(b.headers, key, pay_body(reservation, "POINTS"));
    ASSERT_EQ(refused.status, 402u) << refused.body;
    EXPECT_EQ(problem_type(refused), "insufficient-points");
    EXPECT_EQ(balance(b), 50'000);
    EXPECT_EQ(ledger_rows(b, "PAYMENT"), 0u);
    EXPECT_EQ(reservation_state(b, reservation), "HELD");
    const auto replay = pay(b.headers, key, pay_body(reservation, "POINTS"));
    EXPECT_EQ(replay.status, 402u) << "a refused key answers the same again";

    const auto mixed = pay(b.headers, unique_name("pay"), pay_body(reservation, "POINTS+CARD", 50'000));
    ASSERT_EQ(mixed.status, 201u) << mixed.body;
    EXPECT_EQ(balance(b), 0);
    EXPECT_EQ(reservation_state(b, reservation), "CONFIRMED");
    expect_invariants();
}

TEST_F(PaymentEndToEnd, HoldThatExpiresWhileTheCardIsChargedIsGoneAndTheCardRefunded) {
    const auto b = buyer();
    const auto reservation = hold(b, {0});
    const auto key = unique_name("pay");
    // The gateway answers slowly; while it does, the hold's time runs out (its clock moved back in the
    // database, as the sweeper's tests do). 3 s of the 5 s deadline: room for a loaded CI machine to see the
    // payment row and move the clock before the answer comes.
    pg_sim::Faults slow;
    slow.latency = 3000ms;
    gateway().set_faults(slow);
    auto paying =
        std::async(std::launch::async, [&] { return pay(b.headers, key, pay_body(reservation, "CARD")); });
    ASSERT_TRUE(eventually([&] { return !payment_id(b, key).empty(); }));
    query(
        "UPDATE booking.reservations SET expires_at = created_at + interval '1 millisecond' WHERE id = "
        "$1::uuid",
        db::params(reservation));

    const auto gone = paying.get();
    ASSERT_EQ(gone.status, 410u) << gone.body;
    EXPECT_EQ(problem_type(gone), "hold-expired");
    const auto charge = gateway().find_by_key(payment_id(b, key));
    ASSERT_TRUE(charge.has_value()) << "the card part was charged before the hold ran out";
    EXPECT_EQ(charge->status, pg_sim::PaymentStatus::Cancelled) << "and given back";
    EXPECT_EQ(reservation_state(b, reservation), "EXPIRED");
    expect_invariants();
}

TEST_F(PaymentEndToEnd, GatewayDownIs503WithNothingChargedAndTheHoldKept) {
    const auto b = buyer();
    const auto reservation = hold(b, {0});
    pg_sim::Faults down;
    down.down = true;
    gateway().set_faults(down);
    const auto key = unique_name("pay");
    const auto refused = pay(b.headers, key, pay_body(reservation, "CARD"));
    ASSERT_EQ(refused.status, 503u) << refused.body;
    EXPECT_EQ(problem_type(refused), "dependency-unavailable");
    EXPECT_TRUE(refused.headers.contains("retry-after"));
    EXPECT_FALSE(gateway().find_by_key(payment_id(b, key)).has_value()) << "nothing was charged";
    EXPECT_EQ(reservation_state(b, reservation), "HELD");

    gateway().set_faults({});
    const auto paid = pay(b.headers, unique_name("pay"), pay_body(reservation, "CARD"));
    ASSERT_EQ(paid.status, 201u) << paid.body;
    EXPECT_EQ(reservation_state(b, reservation), "CONFIRMED");
    expect_invariants();
}

TEST_F(PaymentEndToEnd, AnotherUsersPaymentAndReservationAreNotFound) {
    const auto owner = buyer();
    const auto reservation = hold(owner, {0});
    top_up(owner, kPrice);
    const auto paid = pay(owner.headers, unique_name("pay"), pay_body(reservation, "POINTS"));
    ASSERT_EQ(paid.status, 201u) << paid.body;
    const std::string path = "/api/v1/payments/" + std::string(paid.json().at("id").as_string());

    auto other = owner;
    other.headers = admitted(port(), new_fan(port(), "payment-other"), owner.seats.schedule);
    other.user_id = user_id_of(port(), other.headers);
    const auto read = http_request(port(), "GET", path, {}, other.headers);
    EXPECT_EQ(read.status, 404u) << read.body;
    EXPECT_EQ(problem_type(read), "not-found");
    const auto theirs = pay(other.headers, unique_name("pay"), pay_body(reservation, "CARD"));
    EXPECT_EQ(theirs.status, 404u) << theirs.body;
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/payments/not-a-uuid", {}, owner.headers).status, 404u);
    EXPECT_EQ(http_request(port(), "GET", path).status, 401u);
    EXPECT_EQ(pay({}, unique_name("pay"), pay_body(reservation, "CARD")).status, 401u);
    EXPECT_EQ(payments_of(other), 0);
    expect_invariants();
}

TEST_F(PaymentEndToEnd, BadRequestsAreProblemsNamingTheField) {
    const auto b = buyer();
    const auto reservation = hold(b, {0});
    top_up(b, 200'000);
    const auto missing_key = pay(b.headers, "", pay_body(reservation, "POINTS"));
    EXPECT_EQ(missing_key.status, 400u) << missing_key.body;
    EXPECT_EQ(problem_type(missing_key), "invalid-field");
    EXPECT_EQ(missing_key.json().at("field").as_string(), "Idempotency-Key");
    const auto long_key = pay(b.headers, std::string(256, 'k'), pay_body(reservation, "POINTS"));
    EXPECT_EQ(long_key.status, 400u) << long_key.body;
    EXPECT_EQ(long_key.json().at("field").as_string(), "Idempotency-Key");

    const std::vector<std::pair<std::string, std::string>> cases{
        {R"({"method":"POINTS"})", "reservationId"},
        {pay_body("not-a-uuid", "POINTS"), "reservationId"},
        {json::serialize(json::object{{"reservationId", reservation}}), "method"},
        {pay_body(reservation, "BITCOIN"), "method"},
        {pay_body(reservation, "POINTS", 1000), "pointsAmount"},
        {pay_body(reservation, "POINTS+CARD"), "pointsAmount"},
        {pay_body(reservation, "POINTS+CARD", 0), "pointsAmount"},
        {pay_body(reservation, "POINTS+CARD", kPrice), "pointsAmount"},
        {json::serialize(
             json::object{{"reservationId", reservation}, {"method", "POINTS+CARD"}, {"pointsAmount", "10"}}),
         "pointsAmount"},
    };
    for (const auto& [body, field] : cases) {
        const auto reply = pay(b.headers, unique_name("pay"), body);
        EXPECT_EQ(reply.status, 400u) << body << " -> " << reply.body;
        EXPECT_EQ(problem_type(reply), "invalid-field") << body;
        const auto doc = reply.json();
        EXPECT_EQ(doc.contains("field") ? std::string(doc.at("field").as_string()) : "", field) << body;
    }
    const auto malformed = pay(b.headers, unique_name("pay"), R"({"reservationId":)");
    EXPECT_EQ(malformed.status, 400u) << malformed.body;
    EXPECT_FALSE(problem_type(malformed).empty());

    EXPECT_EQ(balance(b), 200'000) << "no bad request moved money";
    EXPECT_EQ(reservation_state(b, reservation), "HELD");
    expect_invariants();
}

/// A process whose holds last one second: a hold that ran out before it was paid.
class PaymentAfterExpiryEndToEnd : public PaymentEndToEnd {
  protected:
    static void SetUpTestSuite() { start({{"MARQUEE_HOLD_TTL_S", "1"}}); }
};

TEST_F(PaymentAfterExpiryEndToEnd, ExpiredHoldIsGoneAndNothingIsCharged) {
    const auto b = buyer();
    const auto by_card = hold(b, {0});
    const auto by_points = hold(b, {1});
    top_up(b, 2 * kPrice);
    // Expired on read: the API reports it as soon as its time is up, sweeper or not.
    ASSERT_TRUE(eventually([&] { return reservation_state(b, by_points) == "EXPIRED"; }));
    ASSERT_EQ(reservation_state(b, by_card), "EXPIRED");

    const auto key = unique_name("pay");
    const auto card = pay(b.headers, key, pay_body(by_card, "CARD"));
    ASSERT_EQ(card.status, 410u) << card.body;
    EXPECT_EQ(problem_type(card), "hold-expired");
    EXPECT_FALSE(gateway().find_by_key(payment_id(b, key)).has_value())
        << "no card charged for a lapsed hold";
    const auto points = pay(b.headers, unique_name("pay"), pay_body(by_points, "POINTS"));
    ASSERT_EQ(points.status, 410u) << points.body;
    EXPECT_EQ(problem_type(points), "hold-expired");
    EXPECT_EQ(balance(b), 2 * kPrice);
    EXPECT_EQ(ledger_rows(b, "PAYMENT"), 0u);
    expect_invariants();
}

/// The checker every test above ends with can fail: on a database of its own, each kind of breach is named.
TEST(InvariantChecker, PassesOnCleanDataAndNamesEachBreach) {
    PrivateDatabase database;
    const auto clean = check_invariants({}, 120, database.url());
    EXPECT_EQ(clean.status, 0) << clean.output;
    EXPECT_NE(clean.output.find("ok      payment_not_confirmed"), std::string::npos) << clean.output;

    const std::string user = "00000000-0000-4000-8000-000000000001";
    // A balance no ledger explains, an APPROVED payment of a reservation that does not exist, and a payment
    // left PENDING for an hour.
    sql("INSERT INTO wallet.wallets (user_id, balance) VALUES ($1::uuid, 700)", db::params(user),
        database.url());
    sql("INSERT INTO payment.payments (id, user_id, reservation_id, queue_token_id, idempotency_key, "
        "request_hash, method, amount, points_amount, card_amount, pg_status, state, created_at, decided_at) "
        "VALUES (gen_random_uuid(), $1::uuid, gen_random_uuid(), gen_random_uuid(), 'a', '\\x00', 'CARD', "
        "1000, 0, 1000, 'APPROVED', 'APPROVED', now(), now()), "
        "(gen_random_uuid(), $1::uuid, gen_random_uuid(), gen_random_uuid(), 'b', '\\x00', 'CARD', "
        "1000, 0, 1000, 'REQUESTED', 'PENDING', now() - interval '1 hour', NULL)",
        db::params(user), database.url());
    const auto broken = check_invariants({}, 120, database.url());
    EXPECT_EQ(broken.status, 1) << broken.output;
    for (const char* name : {"wallet_not_ledger_sum", "payment_not_confirmed", "payment_pending_stale"}) {
        EXPECT_NE(broken.output.find(std::string("BREACH  ") + name), std::string::npos) << broken.output;
    }
    EXPECT_NE(broken.output.find("ok      seat_live_twice"), std::string::npos) << broken.output;

    const auto other_user = check_invariants({"00000000-0000-4000-8000-000000000002"}, 120, database.url());
    EXPECT_EQ(other_user.status, 0) << "--user limits the checks to that user's rows\n" << other_user.output;
}

}  // namespace
}  // namespace marquee::test
