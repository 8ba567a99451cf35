#include "services/catalog/documents.hpp"

#include <gtest/gtest.h>

#include "services/catalog/rules.hpp"

namespace marquee::catalog {
namespace {

TEST(SeatMapDocument, RoundTripsThroughItsBodyWithTheSameETag) {
    const std::vector<Zone> zones{{11, "VIP", 150000, "#aa0000", 0, 2}};
    const std::vector<Seat> seats{{101, 0, "A", 1, 1, 1, 11}, {102, 1, "A", 2, 2, 1, 11}};
    const SeatMap built = make_seat_map(7, zones, seats);
    EXPECT_EQ(built.etag, strong_etag(built.body));
    const SeatMap parsed = parse_seat_map(built.body);
    EXPECT_EQ(parsed.schedule_id, 7);
    EXPECT_EQ(parsed.etag, built.etag);
    ASSERT_EQ(parsed.seats.size(), 2u);
    EXPECT_EQ(parsed.seats[1].id, 102);
    EXPECT_EQ(parsed.seats[1].row, "A");
    EXPECT_EQ(parsed.zones.at(0).price, 150000);
}

TEST(SeatMapDocument, DifferentLayoutsHaveDifferentETags) {
    const std::vector<Zone> zones{{11, "VIP", 150000, "#aa0000", 0, 1}};
    const SeatMap a = make_seat_map(7, zones, {{101, 0, "A", 1, 1, 1, 11}});
    const SeatMap b = make_seat_map(7, zones, {{101, 0, "A", 1, 2, 1, 11}});
    EXPECT_NE(a.etag, b.etag);
}

}  // namespace
}  // namespace marquee::catalog
