#include "mq/nats.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace marquee::mq {
namespace {

TEST(SplitUrls, OneServerIsOneUrl) {
    EXPECT_EQ(split_urls("nats://127.0.0.1:4222"), std::vector<std::string>{"nats://127.0.0.1:4222"});
}

TEST(SplitUrls, AClustersNodesAreEachTheirOwnUrl) {
    // libnats' SetURL would read the whole list as one server and never connect: each node must be named.
    const std::vector<std::string> expected{"nats://127.0.0.1:4222", "nats://127.0.0.1:4223",
                                            "nats://10.0.0.3:4222"};
    EXPECT_EQ(split_urls("nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://10.0.0.3:4222"), expected);
    EXPECT_EQ(split_urls(" nats://127.0.0.1:4222 , nats://127.0.0.1:4223,,nats://10.0.0.3:4222, "), expected);
}

TEST(SplitUrls, NothingNamedIsEmpty) {
    EXPECT_TRUE(split_urls("").empty());
    EXPECT_TRUE(split_urls(" , ,").empty());
}

}  // namespace
}  // namespace marquee::mq
