// A NATS node lost under Marquee's client, short enough for CI (issue 16, docs/decisions/0021 and 0029): the
// client (mq::Nats, given every node's URL) publishes to a stream of three replicas; the node it is connected
// to is killed with kill -9 mid-way, the client publishes on (libnats moves to another node; a publish that
// failed meanwhile is sent again with the same Nats-Msg-Id, as the outbox relay does), the node is restored,
// and a durable pull consumer then reads every message back.
// Checks: every message published is stored exactly once (no loss, no duplicate despite the retries) and
// consumed; the restored node is healthy again.
//
// tests/cluster/run --nats starts the three nodes in a private state folder and sets MARQUEE_NATS_URL,
// MARQUEE_CLUSTER_STATE and MARQUEE_OPSLIB_DIR; ctest `nats_node_loss_smoke`, label `cluster`, runs in CI.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "coroutines.hpp"
#include "mq/nats.hpp"

namespace marquee::cluster_test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) {
        ADD_FAILURE() << name << " is not set: run this binary through tests/cluster/run --nats";
        return {};
    }
    return value;
}

constexpr int kMessages = 200;

/// `python3 scripts/opslib/nats_cluster.py ARGS` against the run's state folder; what it printed.
std::string nats_ops(const std::string& args) {
    const std::string command = "cd '" + env("MARQUEE_OPSLIB_DIR") + "' && MARQUEE_CLUSTER_STATE='" +
                                env("MARQUEE_CLUSTER_STATE") + "' python3 opslib/nats_cluster.py " + args;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("popen failed: " + command);
    std::string out;
    std::array<char, 256> buffer{};
    while (fgets(buffer.data(), static_cast<int>(buffer.size()), pipe.get()) != nullptr) out += buffer.data();
    const int status = pclose(pipe.release());
    if (status != 0) throw std::runtime_error("failed (" + std::to_string(status) + "): " + command);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

TEST(NatsNodeLoss, EveryMessageIsStoredOnceAndConsumedWhenTheClientsNodeIsKilledAndRestored) {
    asio::io_context io;
    const std::string client = "nats-node-loss-smoke";
    mq::Nats nats(mq::NatsOptions{env("MARQUEE_NATS_URL"), 2000ms, client});
    const std::string stream = "SMOKE";
    std::vector<std::string> subjects{"smoke.>"};
    mq::StreamSpec spec(stream, subjects);
    spec.replicas = 3;
    test::run_here(io, nats.ensure_stream(spec));

    int retries = 0;
    const auto publish = [&](int i) {
        const std::string id = "m-" + std::to_string(i);
        const auto deadline = Clock::now() + 20s;
        while (true) {
            try {
                test::run_here(io, nats.publish("smoke.event", std::to_string(i), id));
                return;
            } catch (const core::Problem& problem) {
                // The node died under this publish: it may or may not be stored; the same id again is
                // stored at most once (the stream's duplicate window).
                if (Clock::now() > deadline) throw;
                ++retries;
                std::this_thread::sleep_for(100ms);
            }
        }
    };
    const std::string victim = nats_ops("connection-node " + client);
    ASSERT_FALSE(victim.empty()) << "the client's node was not found";
    for (int i = 0; i < kMessages / 2; ++i) publish(i);
    const auto killed = Clock::now();
    const std::string killed_report = nats_ops("kill " + victim);
    for (int i = kMessages / 2; i < kMessages; ++i) publish(i);
    const double published_without_it_s = std::chrono::duration<double>(Clock::now() - killed).count();
    const std::string restored_report = nats_ops("restore " + victim);  // returns once /healthz is 200

    mq::ConsumerSpec consumer_spec(stream, "smoke", "");
    consumer_spec.ack_wait = 5s;
    mq::Consumer consumer = test::run_here(io, nats.pull_consumer(consumer_spec));
    std::set<std::string> ids;
    std::set<std::uint64_t> sequences;
    int deliveries = 0;
    const auto deadline = Clock::now() + 20s;
    while (static_cast<int>(sequences.size()) < kMessages && Clock::now() < deadline) {
        std::vector<mq::Message> batch = test::run_here(io, consumer.fetch(100, 1000ms));
        for (mq::Message& message : batch) {
            ++deliveries;
            ids.insert(message.header("Nats-Msg-Id").value_or(""));
            sequences.insert(message.stream_sequence());
            test::run_here(io, message.ack());
        }
    }
    // Anything beyond the kMessages stored would be a duplicate: one more short fetch must find nothing.
    const std::vector<mq::Message> more = test::run_here(io, consumer.fetch(10, 500ms));

    std::cout << "[ nats ] the client's node " << victim << " killed (" << killed_report << "), "
              << kMessages / 2 << " publishes without it in " << published_without_it_s << " s with "
              << retries << " retries, restored (" << restored_report << "); " << deliveries
              << " deliveries of " << sequences.size() << " stored messages\n";
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kMessages)) << "a message was lost";
    EXPECT_EQ(sequences.size(), static_cast<std::size_t>(kMessages)) << "a message was stored twice";
    EXPECT_TRUE(more.empty()) << "more messages stored than published";
    EXPECT_EQ(nats_ops("status").find("down"), std::string::npos) << nats_ops("status");
    test::run_here(io, nats.delete_stream(stream));
}

}  // namespace
}  // namespace marquee::cluster_test
