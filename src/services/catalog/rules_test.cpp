#include "services/catalog/rules.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"

namespace marquee::catalog {
namespace {

namespace json = boost::json;

/// The `field` of the 400 that parsing `body` throws, or "" when it is accepted.
template <class Parse>
std::string rejected_field(Parse parse, std::string_view body) {
    try {
        parse(json::parse(body).as_object());
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 400);
        return std::string(problem.extensions().at("field").as_string());
    }
    return {};
}

std::string layout_field(std::string_view body) {
    return rejected_field([](const json::object& o) { return parse_layout(o); }, body);
}

TEST(LayoutRules, AcceptsZonesWithRowsAndSeats) {
    const auto zones = parse_layout(json::parse(R"({"zones":[
        {"name":"VIP","price":150000,"color":"#aa0000","rows":2,"seatsPerRow":3},
        {"name":"R","price":0,"color":"#00aa00","rows":1,"seatsPerRow":4}]})")
                                        .as_object());
    ASSERT_EQ(zones.size(), 2u);
    EXPECT_EQ(zones[0].price, 150000);
    EXPECT_EQ(zones[1].seats_per_row, 4);
}

TEST(LayoutRules, NamesTheBadField) {
    EXPECT_EQ(layout_field(R"({})"), "zones");
    EXPECT_EQ(layout_field(R"({"zones":[]})"), "zones");
    EXPECT_EQ(layout_field(R"({"zones":[1]})"), "zones[0]");
    EXPECT_EQ(layout_field(R"({"zones":[{"name":"","price":1,"color":"#000000","rows":1,"seatsPerRow":1}]})"),
              "zones[0].name");
    EXPECT_EQ(
        layout_field(R"({"zones":[{"name":"A","price":-1,"color":"#000000","rows":1,"seatsPerRow":1}]})"),
        "zones[0].price");
    EXPECT_EQ(
        layout_field(R"({"zones":[{"name":"A","price":1.5,"color":"#000000","rows":1,"seatsPerRow":1}]})"),
        "zones[0].price");
    EXPECT_EQ(
        layout_field(R"({"zones":[{"name":"A","price":"1","color":"#000000","rows":1,"seatsPerRow":1}]})"),
        "zones[0].price");
    EXPECT_EQ(layout_field(R"({"zones":[{"name":"A","price":1,"color":"red","rows":1,"seatsPerRow":1}]})"),
              "zones[0].color");
    EXPECT_EQ(
        layout_field(R"({"zones":[{"name":"A","price":1,"color":"#000000","rows":0,"seatsPerRow":1}]})"),
        "zones[0].rows");
    EXPECT_EQ(layout_field(R"({"zones":[{"name":"A","price":1,"color":"#000000","rows":1}]})"),
              "zones[0].seatsPerRow");
    EXPECT_EQ(layout_field(R"({"zones":[{"name":"A","price":1,"color":"#000000","rows":1,"seatsPerRow":1},
                                          {"name":"A","price":1,"color":"#000000","rows":1,"seatsPerRow":1}]})"),
              "zones[1].name");
}

TEST(LayoutRules, RefusesMoreThanOneHundredThousandSeats) {
    EXPECT_EQ(
        layout_field(R"({"zones":[{"name":"A","price":1,"color":"#000000","rows":100,"seatsPerRow":1000}]})"),
        "");
    EXPECT_EQ(
        layout_field(R"({"zones":[{"name":"A","price":1,"color":"#000000","rows":100,"seatsPerRow":1000},
                                          {"name":"B","price":1,"color":"#000000","rows":1,"seatsPerRow":1}]})"),
        "zones[1].rows");
}

TEST(LayoutRules, ExpandsToDenseIndexesAndScheduleWideRows) {
    const std::vector<ZoneLayout> zones{{"VIP", 100, "#000000", 2, 3}, {"R", 50, "#111111", 1, 2}};
    const SeatColumns seats = expand_layout(zones);
    ASSERT_EQ(seats.size(), 8u);
    for (std::size_t i = 0; i < seats.size(); ++i) EXPECT_EQ(seats.index[i], static_cast<int>(i));
    EXPECT_EQ(seats.row[0], "A");
    EXPECT_EQ(seats.row[3], "B");
    EXPECT_EQ(seats.row[6], "C");
    EXPECT_EQ(seats.zone_position[5], 0);
    EXPECT_EQ(seats.zone_position[6], 1);
    EXPECT_EQ(seats.number[7], 2);
    EXPECT_EQ(seats.y[7], 3);
}

TEST(LayoutRules, RowLabelsAreBijectiveBase26) {
    EXPECT_EQ(row_label(0), "A");
    EXPECT_EQ(row_label(25), "Z");
    EXPECT_EQ(row_label(26), "AA");
    EXPECT_EQ(row_label(27), "AB");
    EXPECT_EQ(row_label(701), "ZZ");
    EXPECT_EQ(row_label(702), "AAA");
}

TEST(ScheduleRules, CancellationRuleIsOptionalAndChecked) {
    const std::string times = R"("startsAt":"2026-12-24T19:00:00Z","bookingOpensAt":"2026-12-01T10:00:00Z",
        "bookingClosesAt":"2026-12-24T09:00:00Z")";
    EXPECT_FALSE(parse_new_schedule(json::parse("{" + times + "}").as_object()).cancellation.has_value());
    const auto rule =
        parse_new_schedule(json::parse("{" + times +
                                       R"(,"cancellationPolicy":{"fees":[{"daysBefore":30,"percent":0},
                                          {"daysBefore":7,"percent":20},{"daysBefore":1,"percent":50}]}})")
                               .as_object())
            .cancellation;
    ASSERT_TRUE(rule.has_value());
    ASSERT_EQ(rule->size(), 3u);
    EXPECT_EQ((*rule)[1].days_before, 7);
    EXPECT_EQ((*rule)[2].percent, 50);
    const auto field = [&](std::string_view policy) {
        return rejected_field([](const json::object& o) { return parse_new_schedule(o); },
                              "{" + times + R"(,"cancellationPolicy":)" + std::string(policy) + "}");
    };
    EXPECT_EQ(field("[]"), "cancellationPolicy");
    EXPECT_EQ(field(R"({"fees":[]})"), "cancellationPolicy.fees");
    EXPECT_EQ(field(R"({"fees":[{"daysBefore":3,"percent":0},{"daysBefore":10,"percent":10}]})"),
              "cancellationPolicy.fees[1].daysBefore");
    EXPECT_EQ(field(R"({"fees":[{"daysBefore":3,"percent":101}]})"), "cancellationPolicy.fees[0].percent");
    EXPECT_EQ(field(R"({"fees":[{"daysBefore":-1,"percent":1}]})"), "cancellationPolicy.fees[0].daysBefore");
    EXPECT_EQ(field(R"({"fees":[5]})"), "cancellationPolicy.fees[0]");
}

TEST(ScheduleRules, ParsesTimesAndChecksTheirOrder) {
    const NewSchedule s = parse_new_schedule(json::parse(R"({"startsAt":"2026-12-24T19:00:00+09:00",
        "bookingOpensAt":"2026-12-01T10:00:00Z","bookingClosesAt":"2026-12-24T09:00:00.5Z"})")
                                                 .as_object());
    EXPECT_EQ(core::to_rfc3339(s.starts_at), "2026-12-24T10:00:00.000Z");
    EXPECT_EQ(core::to_rfc3339(s.booking_closes_at), "2026-12-24T09:00:00.500Z");
    const auto field = [](std::string_view body) {
        return rejected_field([](const json::object& o) { return parse_new_schedule(o); }, body);
    };
    EXPECT_EQ(field(R"({"startsAt":"2026-12-24","bookingOpensAt":"2026-12-01T10:00:00Z",
                        "bookingClosesAt":"2026-12-02T10:00:00Z"})"),
              "startsAt");
    EXPECT_EQ(field(R"({"startsAt":"2026-12-24T19:00:00Z","bookingOpensAt":"2026-12-03T10:00:00Z",
                        "bookingClosesAt":"2026-12-02T10:00:00Z"})"),
              "bookingClosesAt");
    EXPECT_EQ(field(R"({"startsAt":"2026-12-24T19:00:00Z","bookingOpensAt":"2026-12-01T10:00:00Z",
                        "bookingClosesAt":"2026-12-25T10:00:00Z"})"),
              "bookingClosesAt");
    EXPECT_EQ(field(R"({"startsAt":"2026-02-30T19:00:00Z","bookingOpensAt":"2026-12-01T10:00:00Z",
                        "bookingClosesAt":"2026-12-25T10:00:00Z"})"),
              "startsAt");
}

TEST(ScheduleRules, TicketLimitIsOptionalFromOneToAHundred) {
    const auto parse = [](std::string_view extra) {
        return parse_new_schedule(json::parse(std::string(R"({"startsAt":"2026-12-24T19:00:00Z",)") +
                                              R"("bookingOpensAt":"2026-12-01T10:00:00Z",)" +
                                              R"("bookingClosesAt":"2026-12-24T09:00:00Z")" +
                                              std::string(extra) + "}")
                                      .as_object());
    };
    EXPECT_EQ(parse("").ticket_limit, kDefaultTicketLimit);
    EXPECT_EQ(parse(R"(,"ticketLimit":null)").ticket_limit, 4);
    EXPECT_EQ(parse(R"(,"ticketLimit":2)").ticket_limit, 2);
    EXPECT_EQ(parse(R"(,"ticketLimit":100)").ticket_limit, 100);
    const auto field = [&](std::string_view extra) {
        return rejected_field([&](const json::object&) { return parse(extra); }, "{}");
    };
    EXPECT_EQ(field(R"(,"ticketLimit":0)"), "ticketLimit");
    EXPECT_EQ(field(R"(,"ticketLimit":101)"), "ticketLimit");
    EXPECT_EQ(field(R"(,"ticketLimit":"4")"), "ticketLimit");
    EXPECT_EQ(field(R"(,"ticketLimit":2.5)"), "ticketLimit");
}

TEST(ConcertRules, RequiresTitleArtistVenue) {
    const auto field = [](std::string_view body) {
        return rejected_field([](const json::object& o) { return parse_new_concert(o); }, body);
    };
    EXPECT_EQ(field(R"({"title":"T","artist":"A","venue":"V"})"), "");
    EXPECT_EQ(field(R"({"artist":"A","venue":"V"})"), "title");
    EXPECT_EQ(field(R"({"title":"T","artist":"","venue":"V"})"), "artist");
    EXPECT_EQ(field(R"({"title":"T","artist":"A","venue":7})"), "venue");
}

TEST(ETag, IsQuotedStableAndContentAddressed) {
    const std::string a = strong_etag("{\"seats\":[]}");
    EXPECT_EQ(a.front(), '"');
    EXPECT_EQ(a.back(), '"');
    EXPECT_EQ(a, strong_etag("{\"seats\":[]}"));
    EXPECT_NE(a, strong_etag("{\"seats\":[1]}"));
}

TEST(ETag, IfNoneMatchComparesWeaklyAndAcceptsLists) {
    EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\""));
    EXPECT_TRUE(etag_matches("W/\"abc\"", "\"abc\""));
    EXPECT_TRUE(etag_matches("\"x\", \"abc\"", "\"abc\""));
    EXPECT_TRUE(etag_matches("*", "\"abc\""));
    EXPECT_FALSE(etag_matches("\"abd\"", "\"abc\""));
    EXPECT_FALSE(etag_matches("", "\"abc\""));
}

TEST(Bitset, BitsAreMostSignificantFirstLikeRedisSetbit) {
    const std::string bits("\x80\x01", 2);  // SETBIT 0 1 and SETBIT 15 1
    EXPECT_TRUE(bit_at(bits, 0));
    EXPECT_FALSE(bit_at(bits, 1));
    EXPECT_TRUE(bit_at(bits, 15));
    EXPECT_FALSE(bit_at(bits, 16));
    EXPECT_FALSE(bit_at(bits, 1'000'000));
}

TEST(Bitset, FitsToTheSeatCount) {
    EXPECT_EQ(fit_bitset("", 10), std::string(2, '\0'));
    EXPECT_EQ(fit_bitset(std::string("\xff\xff\xff", 3), 10), std::string("\xff\xc0", 2));
    EXPECT_EQ(fit_bitset("", 10'000).size(), 1250u);
    EXPECT_EQ(fit_bitset("", 0), "");
}

}  // namespace
}  // namespace marquee::catalog
