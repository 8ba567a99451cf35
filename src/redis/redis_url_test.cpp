#include <gtest/gtest.h>

#include "core/config.hpp"
#include "redis/url.hpp"

namespace marquee::redis {
namespace {

TEST(RedisUrl, ParsesHostAndPort) {
    const Url url = Url::parse("redis://127.0.0.1:16379");
    EXPECT_EQ(url.host, "127.0.0.1");
    EXPECT_EQ(url.port, 16379);
    EXPECT_EQ(url.db, 0);
    EXPECT_TRUE(url.username.empty());
    EXPECT_TRUE(url.password.empty());
}

TEST(RedisUrl, DefaultsPortTo6379) {
    EXPECT_EQ(Url::parse("redis://cache.internal").port, 6379);
    EXPECT_EQ(Url::parse("redis://cache.internal/").port, 6379);
}

TEST(RedisUrl, ReadsDatabaseFromPath) {
    EXPECT_EQ(Url::parse("redis://localhost:6379/3").db, 3);
}

TEST(RedisUrl, ReadsUserAndPercentDecodedPassword) {
    const Url url = Url::parse("redis://marquee:p%40ss@redis:6380/1");
    EXPECT_EQ(url.username, "marquee");
    EXPECT_EQ(url.password, "p@ss");
    EXPECT_EQ(url.host, "redis");
    EXPECT_EQ(url.port, 6380);
    EXPECT_EQ(url.db, 1);
}

TEST(RedisUrl, ReadsPasswordWithoutUser) {
    const Url url = Url::parse("redis://:secret@redis");
    EXPECT_TRUE(url.username.empty());
    EXPECT_EQ(url.password, "secret");
}

TEST(RedisUrl, ReadsLoneUserinfoAsPassword) {
    const Url url = Url::parse("redis://secret@redis");
    EXPECT_TRUE(url.username.empty());
    EXPECT_EQ(url.password, "secret");
}

TEST(RedisUrl, StripsBracketsFromIpv6Host) {
    const Url url = Url::parse("redis://[::1]:6390");
    EXPECT_EQ(url.host, "::1");
    EXPECT_EQ(url.port, 6390);
}

TEST(RedisUrl, RejectsOtherSchemes) {
    EXPECT_THROW(Url::parse("http://127.0.0.1:6379"), core::ConfigError);
    EXPECT_THROW(Url::parse("rediss://127.0.0.1:6379"), core::ConfigError);
    EXPECT_THROW(Url::parse("127.0.0.1:6379"), core::ConfigError);
}

TEST(RedisUrl, RejectsBadPortDatabaseAndMissingHost) {
    EXPECT_THROW(Url::parse("redis://host:0"), core::ConfigError);
    EXPECT_THROW(Url::parse("redis://host:70000"), core::ConfigError);
    EXPECT_THROW(Url::parse("redis://host:port"), core::ConfigError);
    EXPECT_THROW(Url::parse("redis://host:6379/one"), core::ConfigError);
    EXPECT_THROW(Url::parse("redis://host:6379/-1"), core::ConfigError);
    EXPECT_THROW(Url::parse("redis://:6379"), core::ConfigError);
}

TEST(RedisUrl, ErrorNamesTheUrl) {
    try {
        Url::parse("redis://host:6379/x");
        FAIL() << "expected ConfigError";
    } catch (const core::ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("redis://host:6379/x"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace marquee::redis
