#include "redis/reply.hpp"

#include <gtest/gtest.h>

namespace marquee::redis {
namespace {

TEST(RedisReply, DefaultIsNil) {
    const Reply reply;
    EXPECT_TRUE(reply.is_nil());
    EXPECT_EQ(reply.kind(), Reply::Kind::Nil);
    EXPECT_THROW(reply.as_string(), CommandError);
    EXPECT_THROW(reply.as_integer(), CommandError);
}

TEST(RedisReply, StringKeepsEmbeddedNul) {
    const Reply reply = Reply::string(std::string("a\0b", 3));
    EXPECT_EQ(reply.as_string().size(), 3u);
    EXPECT_THROW(reply.elements(), CommandError);
}

TEST(RedisReply, ErrorThrowsOnlyWhenAsked) {
    const Reply reply = Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    EXPECT_TRUE(reply.is_error());
    EXPECT_EQ(reply.as_string().rfind("WRONGTYPE", 0), 0u);
    EXPECT_THROW(reply.or_throw(), CommandError);
    EXPECT_THROW(reply.as_integer(), CommandError);
    EXPECT_NO_THROW(Reply::integer(1).or_throw());
}

TEST(RedisReply, ArraysCompareByValue) {
    const Reply a = Reply::array({Reply::integer(1), Reply::string("x"), Reply::nil()});
    const Reply b = Reply::array({Reply::integer(1), Reply::string("x"), Reply::nil()});
    EXPECT_EQ(a, b);
    EXPECT_NE(a, Reply::array({Reply::integer(1)}));
    EXPECT_EQ(a.elements().at(1).as_string(), "x");
}

TEST(RedisReply, KindsHaveNames) {
    EXPECT_EQ(to_string(Reply::Kind::Status), "status");
    EXPECT_EQ(to_string(Reply::Kind::Array), "array");
}

}  // namespace
}  // namespace marquee::redis
