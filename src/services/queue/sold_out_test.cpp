#include "services/queue/sold_out.hpp"

#include <gtest/gtest.h>

namespace marquee::queue {
namespace {

TEST(SoldOutJudge, SoldOutOnlyWhenEverySeatOfEveryZoneIsSold) {
    EXPECT_FALSE(judge({}).sold_out);  // no seats: not a sale at all
    const auto partly = judge({{"VIP", 2, 2, 2}, {"R", 3, 2, 3}});
    EXPECT_FALSE(partly.sold_out);
    EXPECT_TRUE(partly.imminent);  // every seat HELD or SOLD
    ASSERT_EQ(partly.zones.size(), 1u);
    EXPECT_EQ(partly.zones.front(), "VIP");  // that zone is gone
    const auto all = judge({{"VIP", 2, 2, 2}, {"R", 3, 3, 3}});
    EXPECT_TRUE(all.sold_out);
    EXPECT_EQ(all.zones.size(), 2u);
    const auto free = judge({{"R", 3, 1, 2}});
    EXPECT_FALSE(free.sold_out);
    EXPECT_FALSE(free.imminent);
    EXPECT_TRUE(free.zones.empty());
    EXPECT_FALSE(judge({{"R", 0, 0, 0}}).sold_out);  // an empty zone is not sold out
}

TEST(SoldOutJudge, PollsAreCappedByTheTimeLeftToSellOut) {
    SoldOutView view;
    EXPECT_FALSE(poll_cap_ms(view).has_value());  // nothing known: the waiting room's own hint
    view.eta_ms = 40'000;
    EXPECT_EQ(poll_cap_ms(view), 40'000);
    view.eta_ms = 10;
    EXPECT_EQ(poll_cap_ms(view), kMinPollMs);  // never below a second
    view.eta_ms = 0;
    view.imminent = true;
    EXPECT_EQ(poll_cap_ms(view), kMinPollMs);
    view.sold_out = true;
    EXPECT_FALSE(poll_cap_ms(view).has_value());  // over: nothing to poll for
}

TEST(SoldOutJudge, TheProblemIs410SoldOut) {
    const auto problem = sold_out_problem(42);
    EXPECT_EQ(problem.status(), 410);
    const auto doc = problem.to_json("/api/v1/schedules/42/queue");
    EXPECT_EQ(doc.at("type").as_string(), "https://marquee.dev/problems/sold-out");
    EXPECT_EQ(doc.at("scheduleId").as_int64(), 42);
}

}  // namespace
}  // namespace marquee::queue
