#include "services/queue/controls.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace marquee::queue {
namespace {

namespace json = boost::json;

ControlsPatch patch_of(const char* body) {
    return parse_controls_patch(json::parse(body).as_object());
}

std::string refused_field(const char* body) {
    try {
        patch_of(body);
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 400);
        return problem.detail();
    }
    return "accepted";
}

TEST(Controls, DefaultsAreNoControl) {
    const json::object body = to_json(ScheduleControls{});
    EXPECT_EQ(json::serialize(body),
              R"({"paused":false,"admitsPerMinute":null,"maxActive":null,"queueEveryone":false,)"
              R"("salesClosed":false,"holdExtensionSeconds":0,"powDifficulty":null})");
}

TEST(Controls, PatchSetsOnlyTheNamedFields) {
    ScheduleControls start;
    start.max_active = 50;
    start.sales_closed = true;
    const ScheduleControls after = apply_patch(
        start, patch_of(R"({"paused": true, "admitsPerMinute": 120, "holdExtensionSeconds": 300})"));
    EXPECT_TRUE(after.paused);
    EXPECT_EQ(after.admits_per_minute, 120);
    EXPECT_EQ(after.max_active, 50);
    EXPECT_TRUE(after.sales_closed);
    EXPECT_EQ(after.hold_extension_seconds, 300);
}

TEST(Controls, NullReturnsANumberToAutomatic) {
    ScheduleControls start;
    start.admits_per_minute = 600;
    start.max_active = 10;
    start.pow_difficulty = 18;
    const ScheduleControls after = apply_patch(
        start, patch_of(R"({"admitsPerMinute": null, "maxActive": null, "powDifficulty": null})"));
    EXPECT_EQ(after, ScheduleControls{});
}

TEST(Controls, DiffListsEachChangedFieldWithBeforeAndAfter) {
    ScheduleControls before;
    ScheduleControls after = before;
    after.paused = true;
    after.max_active = 7;
    const std::vector<ControlChange> changes = diff_controls(before, after);
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].field, "paused");
    EXPECT_EQ(changes[0].before, json::value(false));
    EXPECT_EQ(changes[0].after, json::value(true));
    EXPECT_EQ(changes[1].field, "maxActive");
    EXPECT_TRUE(changes[1].before.is_null());
    EXPECT_EQ(changes[1].after, json::value(7));
    EXPECT_TRUE(diff_controls(after, after).empty());
}

TEST(Controls, BadBodiesAre400) {
    EXPECT_NE(refused_field(R"({"paused": "yes"})"), "accepted");
    EXPECT_NE(refused_field(R"({"admitsPerMinute": 0})"), "accepted");
    EXPECT_NE(refused_field(R"({"admitsPerMinute": 1.5})"), "accepted");
    EXPECT_NE(refused_field(R"({"maxActive": -3})"), "accepted");
    EXPECT_NE(refused_field(R"({"holdExtensionSeconds": null})"), "accepted");
    EXPECT_NE(refused_field(R"({"holdExtensionSeconds": 3601})"), "accepted");
    EXPECT_NE(refused_field(R"({"powDifficulty": 33})"), "accepted");
    EXPECT_NE(refused_field(R"({"salesClosed": 1})"), "accepted");
    EXPECT_NE(refused_field(R"({"pause": true})"), "accepted");
    EXPECT_NE(refused_field(R"({"maxActive": 18446744073709551615})"), "accepted");
    EXPECT_EQ(refused_field(R"({"powDifficulty": 0, "maxActive": 1000000})"), "accepted");
}

TEST(Controls, SalesClosedIsA403) {
    const core::Problem problem = sales_closed_problem(7);
    EXPECT_EQ(problem.status(), 403);
    EXPECT_NE(problem.type().find("sales-closed"), std::string::npos);
}

}  // namespace
}  // namespace marquee::queue
