#include "load/sold_out_notice.hpp"

#include <gtest/gtest.h>

namespace marquee::load {
namespace {

using std::chrono::milliseconds;

TEST(SoldOutNotice, ToldLatencyCountsFromTheLastSeatSold) {
    SoldOutNotice notice;
    const auto t0 = Clock::now();
    notice.sold(t0 + milliseconds(100));
    notice.sold(t0 + milliseconds(1000));  // the last seat
    notice.sold(t0 + milliseconds(500));   // an answer read later, sold earlier: not the last
    notice.heard(SoldOutHeard::Told, t0 + milliseconds(900));   // before the last sale: 0
    notice.heard(SoldOutHeard::Told, t0 + milliseconds(1250));  // 250 ms after it
    notice.heard(SoldOutHeard::Told, t0 + milliseconds(3000));  // 2,000 ms after it
    notice.heard(SoldOutHeard::AtJoin, t0 + milliseconds(1100));
    notice.heard(SoldOutHeard::No, t0 + milliseconds(9000));  // nothing heard: nothing recorded
    notice.never_told();
    ASSERT_TRUE(notice.last_sale().has_value());
    EXPECT_EQ(*notice.last_sale(), t0 + milliseconds(1000));

    Recorder recorder;
    recorder.answered("queue poll", 200, 10);
    recorder.answered("queue poll", 503, 10);
    recorder.answered("hold", 500, 10);
    recorder.answered("hold", 409, 10);
    boost::json::object outcome;
    notice.report(outcome, recorder);
    EXPECT_EQ(outcome.at("told_sold_out").as_uint64(), 3U);
    EXPECT_EQ(outcome.at("joins_refused_sold_out").as_uint64(), 1U);
    EXPECT_EQ(outcome.at("never_told").as_uint64(), 1U);
    EXPECT_EQ(outcome.at("responses_5xx").as_uint64(), 2U);
    EXPECT_NEAR(outcome.at("told_after_last_sale_max_ms").as_double(), 2000.0, 2000.0 * 0.02);
    EXPECT_NEAR(outcome.at("told_after_last_sale_p50_ms").as_double(), 250.0, 250.0 * 0.02);
    EXPECT_NEAR(outcome.at("refused_join_after_last_sale_max_ms").as_double(), 100.0, 100.0 * 0.02);
    EXPECT_NE(notice.summary(recorder).find("3 told"), std::string::npos);
}

TEST(SoldOutNotice, NoSaleReportsZeroes) {
    SoldOutNotice notice;
    notice.heard(SoldOutHeard::Told, Clock::now());
    boost::json::object outcome;
    notice.report(outcome, Recorder{});
    EXPECT_EQ(outcome.at("told_sold_out").as_uint64(), 1U);
    EXPECT_EQ(outcome.at("told_after_last_sale_max_ms").as_double(), 0.0);
    EXPECT_EQ(outcome.at("responses_5xx").as_uint64(), 0U);
}

TEST(SoldOutNotice, UnixTimesMergeAcrossProcessesOnTheWallClock) {
    // Two load processes of one sale (--schedule-id): each lists when its fans were told on the wall clock,
    // so a fan of one is measured from the last sale of the other.
    SoldOutNotice notice;
    const auto t0 = Clock::now();
    const auto before =
        std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    notice.heard(SoldOutHeard::Told, t0 - milliseconds(1500));
    notice.heard(SoldOutHeard::Told, t0 + milliseconds(0));
    notice.heard(SoldOutHeard::AtJoin, t0 - milliseconds(300));
    boost::json::object outcome;
    notice.unix_times(outcome);
    const auto& told = outcome.at("told_unix_ms").as_array();
    ASSERT_EQ(told.size(), 2U);
    EXPECT_EQ(told[1].as_int64() - told[0].as_int64(), 1500);
    EXPECT_NEAR(static_cast<double>(told[1].as_int64()), static_cast<double>(before), 1000.0);
    const auto& refused = outcome.at("refused_unix_ms").as_array();
    ASSERT_EQ(refused.size(), 1U);
    EXPECT_EQ(told[1].as_int64() - refused[0].as_int64(), 300);
}

TEST(IsSoldOutAnswer, OnlyThe410SoldOutProblem) {
    Response gone;
    gone.status = 410;
    gone.body = R"({"type":"https://marquee.dev/problems/sold-out","status":410,"scheduleId":7})";
    EXPECT_TRUE(is_sold_out_answer(gone));
    Response other = gone;
    other.body = R"({"type":"https://marquee.dev/problems/pow-expired","status":410})";
    EXPECT_FALSE(is_sold_out_answer(other));
    Response ok = gone;
    ok.status = 200;
    EXPECT_FALSE(is_sold_out_answer(ok));
}

}  // namespace
}  // namespace marquee::load
