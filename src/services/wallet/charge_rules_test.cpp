#include "services/wallet/charge_rules.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "problem_field.hpp"

namespace marquee::wallet {
namespace {

using test::field_of_problem;

TEST(ChargeRules, AmountMustBeAnIntegerInRange) {
    EXPECT_EQ(charge_amount(boost::json::parse(R"({"amount":5000})").as_object()), 5000);
    for (const char* body : {R"({})", R"({"amount":"5000"})", R"({"amount":50.5})", R"({"amount":999})",
                             R"({"amount":10000001})", R"({"amount":-1000})", R"({"amount":null})"}) {
        EXPECT_EQ(field_of_problem([&] { (void)charge_amount(boost::json::parse(body).as_object()); }),
                  "amount")
            << body;
    }
}

TEST(ChargeRules, RequestHashTellsAmountsApart) {
    EXPECT_EQ(charge_request_hash(5000), charge_request_hash(5000));
    EXPECT_NE(charge_request_hash(5000), charge_request_hash(5001));
    EXPECT_EQ(charge_request_hash(5000).size(), 64u);
}

}  // namespace
}  // namespace marquee::wallet
