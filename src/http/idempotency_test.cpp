#include "http/idempotency.hpp"

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

}  // namespace
}  // namespace marquee::http
