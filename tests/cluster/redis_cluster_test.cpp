// Marquee's Redis client against a real Redis Cluster of 3 primaries + 3 replicas, started by
// tests/cluster/run (docs/decisions/0020-redis-cluster-routing.md). The last test kills a primary: it runs
// last (gtest keeps the order of a file, and run starts this binary after the services one).
#include <algorithm>
#include <thread>

#include "cluster_support.hpp"
#include "core/problem.hpp"
#include "local_services.hpp"
#include "redis/cluster_map.hpp"

namespace marquee::cluster_test {
namespace {

TEST_F(RedisClusterTest, CallsReachEverySlotsPrimary) {
    run([&]() -> asio::awaitable<void> {
        for (int i = 0; i < 300; ++i) {
            const std::string key = test::unique_name("cluster:key") + std::to_string(i);
            co_await redis_.set(key, std::to_string(i), 60s);
            EXPECT_EQ(co_await redis_.get(key), std::to_string(i));
        }
        EXPECT_TRUE(co_await redis_.ping());
    }());
    const redis::ClientStats stats = redis_.stats();
    EXPECT_EQ(stats.moved, 0u) << "the map read at start is right: nothing is redirected";
    EXPECT_GE(stats.refreshes, 1u);
    EXPECT_GE(stats.connections, 3u) << "300 keys spread over 3 primaries";
}

TEST_F(RedisClusterTest, DelDeletesPerSlotAndOtherMultiKeyCommandsMustShareOne) {
    const std::string a = test::unique_name("cluster:a");
    const std::string b = test::unique_name("cluster:b") + "x";
    ASSERT_NE(redis::key_slot(a), redis::key_slot(b));
    run([&]() -> asio::awaitable<void> {
        co_await redis_.set(a, "1");
        co_await redis_.set(b, "2");
        const redis::Reply crossed = co_await redis_.command("MGET", a, b);
        EXPECT_TRUE(crossed.is_error());
        EXPECT_TRUE(crossed.as_string().starts_with("CROSSSLOT")) << crossed.as_string();
        std::vector<std::string> keys{a, b};
        EXPECT_EQ(co_await redis_.del(std::move(keys)), 2);
    }());
}

TEST_F(RedisClusterTest, AskDuringAMigrationThenMovedAfterIt) {
    const std::string key = "cluster-test:{" + test::unique_name("ask") + "}:k";
    const auto slot = redis::key_slot(key);
    run([&]() -> asio::awaitable<void> { (void)co_await redis_.get(key); }());  // map read, slot warm
    ops("migrate " + std::to_string(slot));
    run([&]() -> asio::awaitable<void> {
        // Absent from the migrating source: it answers ASK, the client sends ASKING + SET to the target.
        co_await redis_.set(key, "v1");
        EXPECT_EQ(co_await redis_.get(key), "v1");
    }());
    EXPECT_GE(redis_.stats().asked, 2u);
    EXPECT_EQ(redis_.stats().moved, 0u) << "ASK leaves the map as it is";
    ops("finish " + std::to_string(slot));
    run([&]() -> asio::awaitable<void> {
        EXPECT_EQ(co_await redis_.get(key), "v1");  // the old owner answers MOVED, followed
        co_await redis_.set(key, "v2");
        EXPECT_EQ(co_await redis_.get(key), "v2");
    }());
    EXPECT_GE(redis_.stats().moved, 1u);
}

TEST_F(RedisClusterTest, PipelineKeepsOrderAcrossNodes) {
    std::vector<std::vector<std::string>> commands;
    std::vector<std::string> keys;
    for (int i = 0; i < 12; ++i) {
        keys.push_back(test::unique_name("cluster:pipe") + std::to_string(i));
        commands.push_back({"SET", keys.back(), std::to_string(i)});
        commands.push_back({"GET", keys.back()});
    }
    const std::vector<redis::Reply> replies = run(redis_.pipeline(std::move(commands)));
    ASSERT_EQ(replies.size(), 24u);
    for (std::size_t i = 0; i < 12; ++i) {
        EXPECT_EQ(replies[2 * i].as_string(), "OK");
        EXPECT_EQ(replies[2 * i + 1].as_string(), std::to_string(i));
    }
}

TEST_F(RedisClusterTest, APrimaryKilledGives503UntilItsReplicaIsPromotedThenWorksByItself) {
    const std::string key = "cluster-test:{" + test::unique_name("failover") + "}:k";
    const redis::Script script("return redis.call('INCR', KEYS[1])");
    run([&]() -> asio::awaitable<void> {
        std::vector<std::string> keys{key};
        std::vector<std::string> no_args;
        EXPECT_EQ((co_await redis_.eval(script, keys, no_args)).as_integer(), 1);
    }());
    // A key served by another primary: it must keep working while the victim's slots are down.
    const std::string victim_before = ops("primary-of " + std::to_string(redis::key_slot(key)));
    std::string elsewhere;
    for (int i = 0; elsewhere.empty() && i < 50; ++i) {
        const std::string candidate = "cluster-test:{" + test::unique_name("elsewhere") + "}:k";
        if (ops("primary-of " + std::to_string(redis::key_slot(candidate))) != victim_before) {
            elsewhere = candidate;
        }
    }
    ASSERT_FALSE(elsewhere.empty());
    const std::string victim = ops("kill-primary-of " + std::to_string(redis::key_slot(key)));
    EXPECT_EQ(victim, victim_before);
    // /readyz stays ready: the other primaries answer (a dead primary must not take every replica out).
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(run(redis_.ping()));
    int unavailable = 0;
    int served_elsewhere = 0;  // calls on the other primary's slot that succeeded while the victim's failed
    bool recovered = false;
    std::int64_t written = 0;
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!recovered && std::chrono::steady_clock::now() < give_up) {
        try {
            written = run([&]() -> asio::awaitable<std::int64_t> {
                std::vector<std::string> keys{key};
                std::vector<std::string> no_args;
                // The promoted replica has no script cache: NOSCRIPT, SCRIPT LOAD there, EVALSHA again.
                co_return (co_await redis_.eval(script, keys, no_args)).as_integer();
            }());
            recovered = unavailable > 0;
        } catch (const core::Problem& problem) {
            ++unavailable;
            EXPECT_EQ(problem.status(), 503) << problem.detail();
            EXPECT_TRUE(problem.retry_after().has_value());
            try {
                run([&]() -> asio::awaitable<void> { co_await redis_.set(elsewhere, "still-here"); }());
                ++served_elsewhere;
            } catch (const core::Problem&) {
                // counted by its absence
            }
            std::this_thread::sleep_for(100ms);
        }
    }
    EXPECT_GT(unavailable, 0)
        << "the primary of the key's slot was killed: calls must fail (503) until promotion";
    EXPECT_TRUE(recovered) << "no success within 60 s after " << victim << " was killed";
    EXPECT_GT(served_elsewhere, 0) << "the other primaries' slots must keep working during the failover";
    EXPECT_GE(written, 1);  // the replica may miss the last write before the kill, never the counter itself
    run([&]() -> asio::awaitable<void> { EXPECT_EQ(co_await redis_.get(key), std::to_string(written)); }());
    const redis::ClientStats stats = redis_.stats();
    EXPECT_GE(stats.refreshes, 2u) << "the map was read again after the failure";
    std::printf(
        "[cluster] %s killed: %d calls answered 503 (100 ms apart), then served by the promoted replica; "
        "meanwhile %d calls on another primary's slot succeeded\n",
        victim.c_str(), unavailable, served_elsewhere);
    ops("restart " + victim);  // back as a replica, as the chaos run leaves it
}

}  // namespace
}  // namespace marquee::cluster_test
