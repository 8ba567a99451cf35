#include "redis/script.hpp"

#include <gtest/gtest.h>

namespace marquee::redis {
namespace {

TEST(RedisScript, ShaMatchesScriptLoad) {
    // SCRIPT LOAD "return 1" answers this digest.
    EXPECT_EQ(Script("return 1").sha(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(RedisScript, KeepsSource) {
    const Script script("return redis.call('GET', KEYS[1])");
    EXPECT_EQ(script.source(), "return redis.call('GET', KEYS[1])");
    EXPECT_EQ(script.sha().size(), 40u);
    EXPECT_NE(script.sha(), Script("return 2").sha());
}

}  // namespace
}  // namespace marquee::redis
