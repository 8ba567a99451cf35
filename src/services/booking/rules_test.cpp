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

}  // namespace
}  // namespace marquee::booking
