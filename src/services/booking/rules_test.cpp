#include "services/booking/rules.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"

namespace marquee::booking {
namespace {

HoldRequest parse(const char* text) {
    return hold_request_from(boost::json::parse(text).as_object());
}

std::string rejected_field(const char* text) {
    try {
        parse(text);
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 400);
        return std::string(p.extensions().at("field").as_string());
    }
    ADD_FAILURE() << "accepted " << text;
    return {};
}

TEST(HoldRequest, ReadsScheduleAndSortedSeats) {
    const auto r = parse(R"({"scheduleId": 7, "seatIds": [30, 10, 20]})");
    EXPECT_EQ(r.schedule_id, 7);
    EXPECT_EQ(r.seat_ids, (std::vector<std::int64_t>{10, 20, 30}));
}

TEST(HoldRequest, AcceptsOneToFourSeats) {
    EXPECT_EQ(parse(R"({"scheduleId": 1, "seatIds": [5]})").seat_ids.size(), 1U);
    EXPECT_EQ(parse(R"({"scheduleId": 1, "seatIds": [1, 2, 3, 4]})").seat_ids.size(), 4U);
}

TEST(HoldRequest, RejectsNoSeatsOrMoreThanFour) {
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "seatIds": []})"), "seatIds");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "seatIds": [1, 2, 3, 4, 5]})"), "seatIds");
}

TEST(HoldRequest, RejectsRepeatedSeats) {
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "seatIds": [3, 3]})"), "seatIds");
}

TEST(HoldRequest, RejectsMissingOrMalformedIds) {
    EXPECT_EQ(rejected_field(R"({"seatIds": [1]})"), "scheduleId");
    EXPECT_EQ(rejected_field(R"({"scheduleId": "1", "seatIds": [1]})"), "scheduleId");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 0, "seatIds": [1]})"), "scheduleId");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1})"), "seatIds");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "seatIds": [-4]})"), "seatIds");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "seatIds": [1.5]})"), "seatIds");
}

TEST(BigintArray, SpellsPostgresArrayLiteral) {
    EXPECT_EQ(bigint_array({}), "{}");
    EXPECT_EQ(bigint_array({3, 7}), "{3,7}");
}

TEST(SeatLockKey, NamesScheduleAndSeat) {
    EXPECT_EQ(seat_lock_key(42, 9), "booking:{42}:seat-lock:9");
}

TEST(HoldRequest, ReadsBestAvailableZoneAndCount) {
    const auto r = parse(R"({"scheduleId": 7, "zoneId": 3, "count": 2})");
    EXPECT_TRUE(r.best_available());
    EXPECT_EQ(r.schedule_id, 7);
    EXPECT_EQ(r.zone_id, 3);
    EXPECT_EQ(r.count, 2);
    EXPECT_TRUE(r.seat_ids.empty());
    EXPECT_FALSE(parse(R"({"scheduleId": 7, "seatIds": [1]})").best_available());
}

TEST(HoldRequest, BestAvailableNeedsACountFromOneToFourAndNoSeatIds) {
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3, "seatIds": [1]})"), "zoneId");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3})"), "count");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3, "count": 0})"), "count");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3, "count": 5})"), "count");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3, "count": -1})"), "count");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3, "count": 2.0})"), "count");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 3, "count": "2"})"), "count");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": 0, "count": 2})"), "zoneId");
    EXPECT_EQ(rejected_field(R"({"scheduleId": 1, "zoneId": "3", "count": 2})"), "zoneId");
    EXPECT_EQ(rejected_field(R"({"zoneId": 3, "count": 2})"), "scheduleId");
}

// ADR 0032: the hash a hold's Idempotency-Key is stored with names the request, not its spelling.
TEST(HoldRequestHash, IsTheSameForTheSameHoldAndDiffersForAnother) {
    const auto hash = [](const char* body) { return hold_request_hash(parse(body)); };
    EXPECT_EQ(hash(R"({"scheduleId": 7, "seatIds": [3, 1]})"),
              hash(R"({"seatIds": [1, 3], "scheduleId": 7})"));
    EXPECT_EQ(hash(R"({"scheduleId": 7, "seatIds": [1]})").size(), 64U);
    EXPECT_NE(hash(R"({"scheduleId": 7, "seatIds": [1, 3]})"), hash(R"({"scheduleId": 7, "seatIds": [1]})"));
    EXPECT_NE(hash(R"({"scheduleId": 7, "seatIds": [1]})"), hash(R"({"scheduleId": 8, "seatIds": [1]})"));
    EXPECT_NE(hash(R"({"scheduleId": 7, "zoneId": 3, "count": 2})"),
              hash(R"({"scheduleId": 7, "zoneId": 3, "count": 1})"));
    EXPECT_NE(hash(R"({"scheduleId": 7, "zoneId": 1, "count": 1})"),
              hash(R"({"scheduleId": 7, "seatIds": [1]})"));
}

}  // namespace
}  // namespace marquee::booking
