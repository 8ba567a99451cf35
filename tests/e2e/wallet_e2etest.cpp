// End to end: the wallet (포인트) through the real binary with a real JWT and the payment-gateway simulator:
// balance, a card top-up that is charged once per Idempotency-Key, and every error of the contract.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;

json::object json_of(const HttpReply& reply) {
    return json::parse(reply.body).as_object();
}

class WalletEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { process_ = new MarqueeProcess({"--service=auth,wallet"}); }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    static HttpReply charge(std::map<std::string, std::string> headers, const std::string& body,
                            const std::string& key) {
        headers["Content-Type"] = "application/json";
        if (!key.empty()) headers["Idempotency-Key"] = key;
        return http_request(port(), "POST", "/api/v1/wallet/charges", body, headers);
    }

    static MarqueeProcess* process_;
};
MarqueeProcess* WalletEndToEnd::process_ = nullptr;

TEST_F(WalletEndToEnd, NewWalletIsEmpty) {
    const auto reply = http_request(port(), "GET", "/api/v1/wallet", {}, new_fan(port(), "wallet"));
    ASSERT_EQ(reply.status, 200u) << reply.body;
    EXPECT_EQ(json_of(reply).at("balance").as_int64(), 0);
    EXPECT_EQ(json_of(reply).at("currency").as_string(), "KRW");
    EXPECT_TRUE(json_of(reply).at("ledger").as_array().empty());
}

TEST_F(WalletEndToEnd, TopUpIsChargedOncePerIdempotencyKey) {
    const auto fan = new_fan(port(), "wallet");
    const std::string key = unique_name("top-up");
    const auto first = charge(fan, R"({"amount":50000})", key);
    ASSERT_EQ(first.status, 201u) << first.body;
    EXPECT_EQ(json_of(first).at("state").as_string(), "APPROVED");
    EXPECT_EQ(json_of(first).at("balance").as_int64(), 50000);
    EXPECT_TRUE(first.headers.contains("location"));

    const auto replay = charge(fan, R"({"amount":50000})", key);
    EXPECT_EQ(replay.status, 201u);
    EXPECT_EQ(json_of(replay).at("id"), json_of(first).at("id"));
    EXPECT_TRUE(json_of(replay).at("replayed").as_bool());

    const auto wallet = json_of(http_request(port(), "GET", "/api/v1/wallet", {}, fan));
    EXPECT_EQ(wallet.at("balance").as_int64(), 50000);
    ASSERT_EQ(wallet.at("ledger").as_array().size(), 1u);
    EXPECT_EQ(wallet.at("ledger").as_array()[0].at("kind").as_string(), "CHARGE");

    const auto other_amount = charge(fan, R"({"amount":60000})", key);
    EXPECT_EQ(other_amount.status, 422u);
    EXPECT_EQ(json_of(other_amount).at("type").as_string(),
              "https://marquee.dev/problems/idempotency-key-reused");
}

TEST_F(WalletEndToEnd, ChargesAreVisibleOnlyToTheirOwner) {
    const auto owner = new_fan(port(), "wallet");
    const auto created = charge(owner, R"({"amount":10000})", unique_name("k"));
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string path = "/api/v1/wallet/charges/" + std::string(json_of(created).at("id").as_string());
    EXPECT_EQ(http_request(port(), "GET", path, {}, owner).status, 200u);
    EXPECT_EQ(http_request(port(), "GET", path, {}, new_fan(port(), "other")).status, 404u);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/wallet/charges/not-a-uuid", {}, owner).status, 404u);
}

TEST_F(WalletEndToEnd, BadRequestsGetClearProblems) {
    const auto fan = new_fan(port(), "wallet");
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/wallet").status, 401u);
    const auto no_key = charge(fan, R"({"amount":10000})", "");
    EXPECT_EQ(no_key.status, 400u);
    EXPECT_EQ(json_of(no_key).at("field").as_string(), "Idempotency-Key");
    for (const char* body : {R"({"amount":"10000"})", R"({"amount":10})", R"({})", R"({"amount":1.5})"}) {
        const auto reply = charge(fan, body, unique_name("k"));
        EXPECT_EQ(reply.status, 400u) << body;
        EXPECT_EQ(json_of(reply).at("field").as_string(), "amount") << body;
    }
    EXPECT_EQ(charge(fan, R"({"amount":)", unique_name("k")).status, 400u);
    const auto wallet = json_of(http_request(port(), "GET", "/api/v1/wallet", {}, fan));
    EXPECT_EQ(wallet.at("balance").as_int64(), 0) << "no bad request moved money";
}

}  // namespace
}  // namespace marquee::test
