#include <algorithm>
#include <set>

#include "core/problem.hpp"
#include "dbtest_fixture.hpp"
#include "problem_field.hpp"
#include "services/catalog/store.hpp"

namespace marquee::catalog::testing {
namespace {

using CatalogStoreDbTest = CatalogDbTest;

TEST_F(CatalogStoreDbTest, ConcertPagesAreNewestFirstWithoutGapsOrRepeats) {
    std::vector<std::int64_t> mine;
    mine.reserve(5);
    for (int i = 0; i < 5; ++i) mine.push_back(make_concert().id);
    // Start just above the newest of ours; other tests may add concerts in between, so keep only ours.
    std::optional<std::int64_t> before = mine.back() + 1;
    std::vector<std::int64_t> seen;
    while (true) {
        const std::vector<Concert> page = run(service_->store().list_concerts(before, 2));
        ASSERT_LE(page.size(), 2u);
        for (const Concert& c : page) {
            if (std::find(mine.begin(), mine.end(), c.id) != mine.end()) seen.push_back(c.id);
        }
        if (page.size() < 2 || page.back().id <= mine.front()) break;
        before = page.back().id;
    }
    std::vector<std::int64_t> expected(mine.rbegin(), mine.rend());
    EXPECT_EQ(seen, expected);
}

TEST_F(CatalogStoreDbTest, FindsAConcertAndNotAnUnknownOne) {
    const Concert concert = make_concert("findable");
    const auto found = run(service_->store().find_concert(concert.id));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->title, concert.title);
    EXPECT_FALSE(run(service_->store().find_concert(INT64_MAX)));
}

TEST_F(CatalogStoreDbTest, ScheduleOfAnUnknownConcertIs404) {
    EXPECT_EQ(test::status_of_problem([&] { make_schedule(INT64_MAX); }), 404);
}

TEST_F(CatalogStoreDbTest, SchedulesComeInStartOrderWithZoneSeatCounts) {
    const Concert concert = make_concert();
    const Schedule later = make_schedule(concert.id, 26);
    const Schedule earlier = make_schedule(concert.id, 25);
    run(service_->store().insert_layout(earlier.id, layout(2, 3, 4), expand_layout(layout(2, 3, 4))));
    const auto schedules = run(service_->store().schedules_of(concert.id));
    ASSERT_TRUE(schedules);
    ASSERT_EQ(schedules->size(), 2u);
    EXPECT_EQ((*schedules)[0].id, earlier.id);
    EXPECT_EQ((*schedules)[1].id, later.id);
    EXPECT_EQ((*schedules)[0].seat_count, 20);
    ASSERT_EQ((*schedules)[0].zones.size(), 2u);
    EXPECT_EQ((*schedules)[0].zones[0].name, "VIP");
    EXPECT_EQ((*schedules)[0].zones[0].seat_count, 8);
    EXPECT_EQ((*schedules)[0].zones[1].price, 90000);
    EXPECT_EQ((*schedules)[0].zones[1].seat_count, 12);
    EXPECT_TRUE((*schedules)[1].zones.empty());
    EXPECT_FALSE(run(service_->store().schedules_of(INT64_MAX)));
}

TEST_F(CatalogStoreDbTest, BulkCreatesATenThousandSeatMapInOneTransaction) {
    const Concert concert = make_concert("big");
    const Schedule schedule = make_schedule(concert.id);
    const auto zones = layout(20, 80, 100);
    const auto started = std::chrono::steady_clock::now();
    run(service_->store().insert_layout(schedule.id, zones, expand_layout(zones)));
    const auto took = std::chrono::steady_clock::now() - started;
    // Reported, not asserted (no timing asserts): see docs/performance.md for measured figures.
    std::cout << "10,000 seats inserted in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    const auto map = run(service_->store().load_seat_map(schedule.id));
    ASSERT_TRUE(map);
    ASSERT_EQ(map->seats.size(), 10'000u);
    for (std::size_t i = 0; i < map->seats.size(); ++i) ASSERT_EQ(map->seats[i].index, static_cast<int>(i));
    std::set<std::pair<std::string, int>> places;
    for (const Seat& seat : map->seats) places.emplace(seat.row, seat.number);
    EXPECT_EQ(places.size(), 10'000u);
}

TEST_F(CatalogStoreDbTest, ASecondLayoutIs409AndLeavesTheFirst) {
    const Concert concert = make_concert();
    const Schedule schedule = make_schedule(concert.id);
    run(service_->store().insert_layout(schedule.id, layout(1, 1, 5), expand_layout(layout(1, 1, 5))));
    try {
        run(service_->store().insert_layout(schedule.id, layout(2, 2, 5), expand_layout(layout(2, 2, 5))));
        ADD_FAILURE() << "second layout accepted";
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 409);
        EXPECT_EQ(problem.type(), "layout-exists");
    }
    EXPECT_EQ(run(service_->store().load_seat_map(schedule.id))->seats.size(), 10u);
}

TEST_F(CatalogStoreDbTest, LayoutOfAnUnknownScheduleIs404AndItsMapIsAbsent) {
    EXPECT_EQ(
        test::status_of_problem([&] {
            run(service_->store().insert_layout(INT64_MAX, layout(1, 1, 1), expand_layout(layout(1, 1, 1))));
        }),
        404);
    EXPECT_FALSE(run(service_->store().load_seat_map(INT64_MAX)));
}

TEST_F(CatalogStoreDbTest, ZoneNamesWithQuotesSurviveTheArrayLiteral) {
    const Concert concert = make_concert();
    const Schedule schedule = make_schedule(concert.id);
    const std::vector<ZoneLayout> zones{{"VIP \"gold\", \\", 1, "#000000", 1, 1}};
    run(service_->store().insert_layout(schedule.id, zones, expand_layout(zones)));
    const auto map = run(service_->store().load_seat_map(schedule.id));
    ASSERT_TRUE(map);
    EXPECT_EQ(map->zones.at(0).name, "VIP \"gold\", \\");
}

}  // namespace
}  // namespace marquee::catalog::testing
