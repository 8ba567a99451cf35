#include "http/idempotency.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "problem_field.hpp"

namespace marquee::http {
namespace {

using test::field_of_problem;

TEST(Idempotency, KeyIsRequiredAndVisibleAscii) {
    EXPECT_EQ(idempotency_key("abc-123"), "abc-123");
    EXPECT_EQ(idempotency_key(std::string(255, 'k')), std::string(255, 'k'));
    EXPECT_EQ(field_of_problem([] { (void)idempotency_key(std::nullopt); }), "Idempotency-Key");
    EXPECT_EQ(field_of_problem([] { (void)idempotency_key(""); }), "Idempotency-Key");
    EXPECT_EQ(field_of_problem([] { (void)idempotency_key("has space"); }), "Idempotency-Key");
    EXPECT_EQ(field_of_problem([] { (void)idempotency_key("caf\xc3\xa9"); }), "Idempotency-Key");
    EXPECT_EQ(field_of_problem([] { (void)idempotency_key(std::string(256, 'k')); }), "Idempotency-Key");
}

TEST(Idempotency, RequestHashIsSha256Hex) {
    EXPECT_EQ(request_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_NE(request_hash("amount=5000"), request_hash("amount=5001"));
}

// ADR 0040: the judgement takes the row's age as the database measured it, so no clock of this process enters
// it; only a PENDING row younger than the recovery age may still belong to a running request.
TEST(Idempotency, OnlyAPendingRowYoungerThanTheRecoveryAgeMayStillBeRunning) {
    using std::chrono::milliseconds;
    using std::chrono::seconds;
    EXPECT_TRUE(first_request_may_be_running("PENDING", milliseconds(0), seconds(60)));
    EXPECT_TRUE(first_request_may_be_running("PENDING", milliseconds(59'999), seconds(60)));
    EXPECT_FALSE(first_request_may_be_running("PENDING", milliseconds(60'000), seconds(60)));
    EXPECT_FALSE(first_request_may_be_running("APPROVED", milliseconds(0), seconds(60)));
    EXPECT_FALSE(first_request_may_be_running("FAILED", milliseconds(10), seconds(60)));
}

}  // namespace
}  // namespace marquee::http
