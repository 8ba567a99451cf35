#include "redis/cluster_map.hpp"

#include <gtest/gtest.h>

#include "core/config.hpp"
#include "redis/url.hpp"

namespace marquee::redis {
namespace {

Reply s(std::string text) {
    return Reply::string(std::move(text));
}
Reply i(std::int64_t value) {
    return Reply::integer(value);
}
Reply a(std::vector<Reply> elements) {
    return Reply::array(std::move(elements));
}

NodeAddress node(const char* host, std::uint16_t port) {
    NodeAddress address;
    address.host = host;
    address.port = port;
    return address;
}

SlotRange range(std::uint16_t first, std::uint16_t last, NodeAddress primary,
                std::vector<NodeAddress> replicas) {
    SlotRange r;
    r.first = first;
    r.last = last;
    r.primary = std::move(primary);
    r.replicas = std::move(replicas);
    return r;
}

TEST(ClusterSlot, Crc16IsXmodem) {
    EXPECT_EQ(crc16("123456789"), 0x31C3);
    EXPECT_EQ(key_slot("123456789"), 12739);
}

TEST(ClusterSlot, HashTagsHashOnlyTheTag) {
    EXPECT_EQ(key_slot("{user1000}.following"), 3443);
    EXPECT_EQ(key_slot("{user1000}.followers"), 3443);
    EXPECT_EQ(key_slot("user1000"), 3443);
    EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));  // the first tag only
    EXPECT_EQ(key_slot("queue:{42}:waiting"), key_slot("booking:{42}:seat-lock:7"));
}

TEST(ClusterSlot, AnEmptyOrUnclosedTagHashesTheWholeKey) {
    EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") & 16383);
    EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar"));
    EXPECT_EQ(key_slot("foo{bar"), crc16("foo{bar") & 16383);
    EXPECT_EQ(key_slot("foo"), 12182);  // as the server answered MOVED 12182 for `SET foo`
}

TEST(ClusterSlot, TheFirstKeyOfACommand) {
    EXPECT_EQ(first_key_index({"GET", "k"}), 1u);
    EXPECT_EQ(first_key_index({"evalsha", "abc", "2", "k1", "k2", "arg"}), 3u);
    EXPECT_EQ(first_key_index({"EVALSHA", "abc", "0", "arg"}), std::nullopt);
    EXPECT_EQ(first_key_index({"PING"}), std::nullopt);
    EXPECT_EQ(first_key_index({"SCRIPT", "LOAD", "return 1"}), std::nullopt);
    EXPECT_EQ(first_key_index({"cluster", "shards"}), std::nullopt);
}

TEST(ClusterRedirect, MovedAndAskAreParsed) {
    const auto moved = parse_redirect("MOVED 12182 127.0.0.1:7002", "10.0.0.1");
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->kind, Redirect::Kind::Moved);
    EXPECT_EQ(moved->slot, 12182);
    EXPECT_EQ(moved->to, node("127.0.0.1", 7002));

    const auto ask = parse_redirect("ASK 3999 10.1.2.3:6381", "10.0.0.1");
    ASSERT_TRUE(ask);
    EXPECT_EQ(ask->kind, Redirect::Kind::Ask);
    EXPECT_EQ(ask->slot, 3999);
    EXPECT_EQ(ask->to, node("10.1.2.3", 6381));
}

TEST(ClusterRedirect, AnEmptyHostIsTheNodeAskedAndIpv6KeepsItsColons) {
    EXPECT_EQ(parse_redirect("MOVED 1 :6380", "10.0.0.9")->to, node("10.0.0.9", 6380));
    EXPECT_EQ(parse_redirect("MOVED 1 ::1:6380", "x")->to, node("::1", 6380));
}

TEST(ClusterRedirect, OtherErrorsAndMalformedRedirectsAreNotRedirects) {
    EXPECT_FALSE(parse_redirect("ERR unknown command", "h"));
    EXPECT_FALSE(parse_redirect("MOVED", "h"));
    EXPECT_FALSE(parse_redirect("MOVED 16384 h:1", "h"));
    EXPECT_FALSE(parse_redirect("MOVED 1 h:0", "h"));
    EXPECT_FALSE(parse_redirect("MOVED x h:1", "h"));
    EXPECT_FALSE(parse_redirect("ASK 1 nohostport", "h"));
    EXPECT_FALSE(parse_redirect("MOVED 1 ?:6379", "h"));
}

TEST(ClusterRedirect, ClusterErrorsAreClassified) {
    EXPECT_EQ(classify_error("MOVED 1 h:1"), ClusterError::Moved);
    EXPECT_EQ(classify_error("ASK 1 h:1"), ClusterError::Ask);
    EXPECT_EQ(classify_error("TRYAGAIN Multiple keys request during rehashing of slot"),
              ClusterError::TryAgain);
    EXPECT_EQ(classify_error("CLUSTERDOWN The cluster is down"), ClusterError::ClusterDown);
    EXPECT_EQ(classify_error("READONLY You can't write against a read only replica."),
              ClusterError::ReadOnly);
    EXPECT_EQ(classify_error("LOADING Redis is loading the dataset in memory"), ClusterError::Loading);
    EXPECT_EQ(classify_error("NOSCRIPT No matching script"), ClusterError::None);
    EXPECT_EQ(classify_error("CROSSSLOT Keys in request don't hash to the same slot"), ClusterError::None);
}

Reply shard_node(std::string id, std::int64_t port, std::string endpoint, std::string role,
                 std::string health) {
    return a({s("id"), s(std::move(id)), s("port"), i(port), s("ip"), s("127.0.0.1"), s("endpoint"),
              s(std::move(endpoint)), s("role"), s(std::move(role)), s("replication-offset"), i(140),
              s("health"), s(std::move(health))});
}

TEST(ClusterMap, ShardsGiveEachRangeItsOnlinePrimary) {
    const Reply reply = a({
        a({s("slots"), a({i(0), i(5460)}), s("nodes"),
           a({shard_node("a", 7000, "127.0.0.1", "master", "online"),
              shard_node("b", 7003, "127.0.0.1", "replica", "online")})}),
        a({s("slots"), a({i(5461), i(10922)}), s("nodes"),
           a({shard_node("c", 7001, "", "master", "online")})}),
        // Its primary failed and no replica took over yet: no primary, its slots unserved.
        a({s("slots"), a({i(10923), i(16000), i(16001), i(16383)}), s("nodes"),
           a({shard_node("d", 7002, "127.0.0.1", "master", "failed"),
              shard_node("e", 7005, "127.0.0.1", "replica", "online")})}),
    });
    const std::vector<SlotRange> ranges = parse_cluster_shards(reply, "10.9.9.9");
    ASSERT_EQ(ranges.size(), 2u);
    EXPECT_EQ(ranges[0], range(0, 5460, node("127.0.0.1", 7000), {node("127.0.0.1", 7003)}));
    EXPECT_EQ(ranges[1].primary, node("10.9.9.9", 7001));  // empty endpoint: the node asked

    const SlotTable table(ranges);
    ASSERT_NE(table.primary(0), nullptr);
    EXPECT_EQ(*table.primary(5460), node("127.0.0.1", 7000));
    EXPECT_EQ(*table.primary(5461), node("10.9.9.9", 7001));
    EXPECT_EQ(table.primary(12000), nullptr);
    EXPECT_EQ(table.unserved(), 16384u - 10923u);
    EXPECT_EQ(table.replicas().size(), 1u);
}

TEST(ClusterMap, AMovedAnswerPatchesOneSlot) {
    std::vector<SlotRange> all;
    all.push_back(range(0, 16383, node("127.0.0.1", 7000), {}));
    SlotTable table(all);
    table.assign(12182, node("127.0.0.1", 7005));
    EXPECT_EQ(*table.primary(12182), node("127.0.0.1", 7005));
    EXPECT_EQ(*table.primary(12181), node("127.0.0.1", 7000));
    EXPECT_EQ(table.nodes().size(), 2u);
    EXPECT_EQ(table.unserved(), 0u);
}

TEST(ClusterMap, SlotsGiveThePrimaryFirst) {
    const Reply reply = a({
        a({i(0), i(5460), a({s("127.0.0.1"), i(7000), s("id-a")}), a({s("127.0.0.1"), i(7003), s("id-b")})}),
        a({i(5461), i(16383), a({s(""), i(7001), s("id-c")})}),
        a({i(1), i(2), a({s("?"), i(7009), s("id-x")})}),  // unknown primary: left out
    });
    const std::vector<SlotRange> ranges = parse_cluster_slots(reply, "10.0.0.1");
    ASSERT_EQ(ranges.size(), 2u);
    EXPECT_EQ(ranges[0], range(0, 5460, node("127.0.0.1", 7000), {node("127.0.0.1", 7003)}));
    EXPECT_EQ(ranges[1], range(5461, 16383, node("10.0.0.1", 7001), {}));
}

TEST(ClusterMap, AMapOfAnotherShapeIsRefused) {
    EXPECT_THROW(parse_cluster_shards(s("nope"), "h"), CommandError);
    EXPECT_THROW(parse_cluster_slots(a({a({i(0)})}), "h"), CommandError);
    EXPECT_THROW(parse_cluster_slots(a({a({i(0), i(99999), a({s("h"), i(1)})})}), "h"), CommandError);
}

TEST(ClusterSeeds, ListsOfHostPortAndUrls) {
    const auto seeds = parse_cluster_seeds("127.0.0.1:7000, 127.0.0.1:7001,redis://u:pw@h:7002");
    ASSERT_EQ(seeds.size(), 3u);
    EXPECT_EQ(seeds[0].host, "127.0.0.1");
    EXPECT_EQ(seeds[1].port, 7001);
    EXPECT_EQ(seeds[2].host, "h");
    const auto with_password = parse_cluster_seeds("redis://:secret@a:1,b:2");
    EXPECT_EQ(with_password[1].password, "secret");  // the first item's credentials apply to all
    EXPECT_THROW(parse_cluster_seeds(""), core::ConfigError);
    EXPECT_THROW(parse_cluster_seeds(" , "), core::ConfigError);
    EXPECT_THROW(parse_cluster_seeds("a:99999"), core::ConfigError);
    EXPECT_THROW(parse_cluster_seeds("redis://a:1/2"), core::ConfigError);
}

}  // namespace
}  // namespace marquee::redis
