#include "services/queue/recovery.hpp"

#include <gtest/gtest.h>

namespace marquee::queue {
namespace {

using namespace std::chrono_literals;

TEST(QueueRecoveryRules, TheAuditStepIsAnEighthOfTheActiveTtlAndTheGraceTwice) {
    Settings settings;
    settings.active_ttl = 10min;
    EXPECT_EQ(audit_step(settings), 75s);
    EXPECT_EQ(restore_grace(settings), 150s);
}

TEST(QueueRecoveryRules, TheAuditStepIsAtLeastASecond) {
    Settings settings;
    settings.active_ttl = 2s;
    EXPECT_EQ(audit_step(settings), 1s) << "a slide of every check would be audited otherwise";
    EXPECT_EQ(restore_grace(settings), 2s);
}

}  // namespace
}  // namespace marquee::queue
