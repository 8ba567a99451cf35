#include "outbox/relay.hpp"

#include <gtest/gtest.h>

namespace marquee::outbox {
namespace {

TEST(OutboxTable, AcceptsSchemaDotOutbox) {
    EXPECT_TRUE(is_outbox_table("booking.outbox"));
    EXPECT_TRUE(is_outbox_table("payment.outbox"));
    EXPECT_TRUE(is_outbox_table("test_relay_123_9.outbox"));
    EXPECT_TRUE(is_outbox_table("_x.outbox"));
}

TEST(OutboxTable, RefusesAnythingThatCouldBeMoreThanAName) {
    EXPECT_FALSE(is_outbox_table(""));
    EXPECT_FALSE(is_outbox_table("outbox"));
    EXPECT_FALSE(is_outbox_table(".outbox"));
    EXPECT_FALSE(is_outbox_table("booking.reservations"));
    EXPECT_FALSE(is_outbox_table("Booking.outbox"));
    EXPECT_FALSE(is_outbox_table("9booking.outbox"));
    EXPECT_FALSE(is_outbox_table("a.b.outbox"));
    EXPECT_FALSE(is_outbox_table("booking.outbox; DROP TABLE booking.outbox"));
    EXPECT_FALSE(is_outbox_table("\"booking\".outbox"));
    EXPECT_FALSE(is_outbox_table("booking .outbox"));
    EXPECT_FALSE(is_outbox_table(std::string(64, 'a') + ".outbox"));
}

TEST(OutboxSubject, IsPrefixDotEventType) {
    EXPECT_EQ(subject_for("marquee", "reservation.held"), "marquee.reservation.held");
    EXPECT_EQ(subject_for("marquee", "payment.approved"), "marquee.payment.approved");
}

TEST(OutboxLockKey, IsStablePerTableAndDiffersBetweenTables) {
    EXPECT_EQ(lock_key("booking.outbox"), lock_key("booking.outbox"));
    EXPECT_NE(lock_key("booking.outbox"), lock_key("payment.outbox"));
}

}  // namespace
}  // namespace marquee::outbox
