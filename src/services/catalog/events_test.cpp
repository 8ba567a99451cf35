#include "services/catalog/events.hpp"

#include <gtest/gtest.h>

namespace marquee::catalog {
namespace {

TEST(SeatEvents, MapEachReservationEventToASeatState) {
    const std::string payload = R"({"reservationId":"r1","scheduleId":42,"seatIndexes":[3,7]})";
    const auto held = parse_seat_event("marquee.reservation.held", payload);
    ASSERT_TRUE(held);
    EXPECT_EQ(held->schedule_id, 42);
    EXPECT_EQ(held->seat_indexes, (std::vector<std::int32_t>{3, 7}));
    EXPECT_EQ(held->state, SeatState::Held);
    EXPECT_EQ(parse_seat_event("marquee.reservation.confirmed", payload)->state, SeatState::Sold);
    EXPECT_EQ(parse_seat_event("marquee.reservation.expired", payload)->state, SeatState::Available);
    EXPECT_EQ(parse_seat_event("marquee.reservation.cancelled", payload)->state, SeatState::Available);
}

TEST(SeatEvents, OtherEventsAndBadPayloadsAreRejected) {
    EXPECT_FALSE(parse_seat_event("marquee.payment.approved", R"({"scheduleId":1,"seatIndexes":[1]})"));
    EXPECT_FALSE(parse_seat_event("marquee.reservation.held", "not json"));
    EXPECT_FALSE(parse_seat_event("marquee.reservation.held", R"({"seatIndexes":[1]})"));
    EXPECT_FALSE(parse_seat_event("marquee.reservation.held", R"({"scheduleId":1,"seatIndexes":[]})"));
    EXPECT_FALSE(parse_seat_event("marquee.reservation.held", R"({"scheduleId":1,"seatIndexes":[-1]})"));
    EXPECT_FALSE(parse_seat_event("marquee.reservation.held", R"({"scheduleId":"1","seatIndexes":[1]})"));
}

}  // namespace
}  // namespace marquee::catalog
