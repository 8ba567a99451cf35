#include "services/payment/rules.hpp"

#include <functional>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "problem_field.hpp"

namespace marquee::payment {
namespace {

constexpr const char* kReservation = "0b9e5a4c-27a1-4f4e-9d59-5d0c2f3c8e11";

PayRequest parse(const std::string& body) {
    return pay_request_from(boost::json::parse(body).as_object());
}

using test::field_of_problem;

TEST(PayRules, ReadsEachMethod) {
    const auto points =
        parse(std::string(R"({"reservationId":")") + kReservation + R"(","method":"POINTS"})");
    EXPECT_EQ(points.reservation_id, kReservation);
    EXPECT_EQ(points.method, Method::Points);
    EXPECT_FALSE(points.points_amount);
    EXPECT_EQ(parse(std::string(R"({"reservationId":")") + kReservation + R"(","method":"CARD"})").method,
              Method::Card);
    const auto both = parse(std::string(R"({"reservationId":")") + kReservation +
                            R"(","method":"POINTS+CARD","pointsAmount":30000})");
    EXPECT_EQ(both.method, Method::PointsAndCard);
    EXPECT_EQ(both.points_amount, 30000);
}

TEST(PayRules, UppercaseUuidIsNormalised) {
    const auto r = parse(R"({"reservationId":"0B9E5A4C-27A1-4F4E-9D59-5D0C2F3C8E11","method":"POINTS"})");
    EXPECT_EQ(r.reservation_id, kReservation);
}

TEST(PayRules, BadBodiesNameTheirField) {
    const std::string id = std::string(R"("reservationId":")") + kReservation + R"(")";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"method":"POINTS"})", "reservationId"},
        {R"({"reservationId":"not-a-uuid","method":"POINTS"})", "reservationId"},
        {R"({"reservationId":42,"method":"POINTS"})", "reservationId"},
        {"{" + id + "}", "method"},
        {"{" + id + R"(,"method":"points"})", "method"},
        {"{" + id + R"(,"method":"CASH"})", "method"},
        {"{" + id + R"(,"method":["POINTS"]})", "method"},
        {"{" + id + R"(,"method":"POINTS+CARD"})", "pointsAmount"},
        {"{" + id + R"(,"method":"POINTS+CARD","pointsAmount":0})", "pointsAmount"},
        {"{" + id + R"(,"method":"POINTS+CARD","pointsAmount":-5})", "pointsAmount"},
        {"{" + id + R"(,"method":"POINTS+CARD","pointsAmount":"100"})", "pointsAmount"},
        {"{" + id + R"(,"method":"POINTS+CARD","pointsAmount":1.5})", "pointsAmount"},
        {"{" + id + R"(,"method":"POINTS+CARD","pointsAmount":18446744073709551615})", "pointsAmount"},
        {"{" + id + R"(,"method":"CARD","pointsAmount":100})", "pointsAmount"},
    };
    for (const auto& c : cases) {
        // c.first, not a structured binding: clang 14 (clang-tidy) cannot capture one in a lambda.
        EXPECT_EQ(field_of_problem([&] { (void)parse(c.first); }), c.second) << c.first;
    }
}

TEST(PayRules, SplitGivesEachPartAndRefusesAPointsPartOutOfRange) {
    PayRequest request{kReservation, Method::Points, std::nullopt};
    EXPECT_EQ(split(request, 90000), (std::pair<std::int64_t, std::int64_t>{90000, 0}));
    request.method = Method::Card;
    EXPECT_EQ(split(request, 90000), (std::pair<std::int64_t, std::int64_t>{0, 90000}));
    request.method = Method::PointsAndCard;
    request.points_amount = 30000;
    EXPECT_EQ(split(request, 90000), (std::pair<std::int64_t, std::int64_t>{30000, 60000}));
    request.points_amount = 90000;  // nothing left for the card
    EXPECT_EQ(field_of_problem([&] { (void)split(request, 90000); }), "pointsAmount");
    request.points_amount = 120000;
    EXPECT_EQ(field_of_problem([&] { (void)split(request, 90000); }), "pointsAmount");
}

TEST(PayRules, RequestHashTellsRequestsApart) {
    const PayRequest a{kReservation, Method::Points, std::nullopt};
    PayRequest b = a;
    EXPECT_EQ(pay_request_hash(a), pay_request_hash(b));
    b.method = Method::Card;
    EXPECT_NE(pay_request_hash(a), pay_request_hash(b));
    PayRequest c{kReservation, Method::PointsAndCard, 100};
    PayRequest d{kReservation, Method::PointsAndCard, 101};
    EXPECT_NE(pay_request_hash(c), pay_request_hash(d));
}

TEST(PayRules, FailureCodesMapToTheirProblems) {
    Payment p;
    p.id = kReservation;
    const std::vector<std::tuple<std::string, int, std::string>> cases = {
        {"hold-expired", 410, "hold-expired"},
        {"insufficient-points", 402, "insufficient-points"},
        {"card-declined", 402, "card-declined"},
        {"already-confirmed", 409, "already-confirmed"},
        {"pg-unavailable", 503, "dependency-unavailable"},
    };
    for (const auto& [code, status, type] : cases) {
        p.failure_code = code;
        const auto problem = failure_problem(p);
        EXPECT_EQ(problem.status(), status) << code;
        EXPECT_EQ(problem.type(), type) << code;
        EXPECT_EQ(problem.extensions().at("paymentId").as_string(), kReservation) << code;
    }
}

}  // namespace
}  // namespace marquee::payment
