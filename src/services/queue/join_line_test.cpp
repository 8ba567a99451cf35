#include "services/queue/join_line.hpp"

#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

/// A join that takes a place, records when it got in, and holds the place until `hold` is reset.
struct Join {
    int entered = -1;  ///< the order it got in (-1: not yet)
    bool refused = false;
    std::optional<JoinLine::Pass> place;
};

asio::awaitable<void> join(JoinLine& line, Join& j, int& order) {
    try {
        JoinLine::Pass pass = co_await line.enter();
        j.entered = order++;
        j.place.emplace(std::move(pass));
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 503);
        j.refused = true;
    }
}

/// Runs what is ready until nothing is (run() would wait for the joins still in line: they hold work).
void settle(asio::io_context& ioc) {
    ioc.restart();
    while (ioc.poll() > 0) {
    }
}

/// `count` joins arriving at once at a line of `concurrency` places and `max_waiting` waiting, run until
/// nothing more is ready.
struct Burst {
    Burst(std::size_t concurrency, std::size_t max_waiting, std::size_t count)
        : line(concurrency, max_waiting), joins(count) {
        for (auto& j : joins) {
            asio::co_spawn(ioc, join(line, j, order), [](const std::exception_ptr& e) {
                if (e) std::rethrow_exception(e);
            });
        }
        settle(ioc);
    }

    asio::io_context ioc;
    JoinLine line;
    std::vector<Join> joins;
    int order = 0;
};

TEST(JoinLine, AtMostConcurrencyInsideTheRestWaitInArrivalOrder) {
    Burst burst(2, 100, 5);
    auto& [ioc, line, joins, order] = burst;
    // The burst: two in at once, three waiting.
    EXPECT_EQ(joins[0].entered, 0);
    EXPECT_EQ(joins[1].entered, 1);
    for (int i = 2; i < 5; ++i) EXPECT_EQ(joins[i].entered, -1) << i;
    EXPECT_EQ(line.stats().inside, 2u);
    EXPECT_EQ(line.stats().waiting, 3u);
    // A join that finishes lets the first in line in, and only that one.
    joins[1].place.reset();
    settle(ioc);
    EXPECT_EQ(joins[2].entered, 2);
    EXPECT_EQ(joins[3].entered, -1);
    EXPECT_EQ(line.stats().inside, 2u);
    joins[0].place.reset();
    joins[2].place.reset();
    settle(ioc);
    EXPECT_EQ(joins[3].entered, 3);
    EXPECT_EQ(joins[4].entered, 4);
    for (auto& j : joins) j.place.reset();
    const auto stats = line.stats();
    EXPECT_EQ(stats.inside, 0u);
    EXPECT_EQ(stats.waiting, 0u);
    EXPECT_EQ(stats.waited, 3u);
    EXPECT_EQ(stats.most_waiting, 3u);
}

TEST(JoinLine, AFullLineRefusesWith503) {
    Burst burst(1, 2, 4);
    auto& [ioc, line, joins, order] = burst;
    EXPECT_EQ(joins[0].entered, 0);
    EXPECT_FALSE(joins[1].refused);
    EXPECT_FALSE(joins[2].refused);
    EXPECT_TRUE(joins[3].refused);  // one inside, two waiting: the fourth is turned away
    EXPECT_EQ(line.stats().refused, 1u);
    for (auto& j : joins) j.place.reset();
    settle(ioc);
    EXPECT_EQ(joins[1].entered, 1);
    joins[1].place.reset();
    settle(ioc);
    EXPECT_EQ(joins[2].entered, 2);
}

TEST(JoinLine, ConcurrencyZeroIsNoLine) {
    Burst burst(0, 1, 10);
    for (auto& j : burst.joins) EXPECT_GE(j.entered, 0);
}

TEST(JoinLine, APlaceLeftByAFailedJoinIsGivenBack) {
    asio::io_context ioc;
    JoinLine line(1, 10);
    bool second_in = false;
    auto failing = [&]() -> asio::awaitable<void> {
        JoinLine::Pass pass = co_await line.enter();
        throw std::runtime_error("the join failed");
    };
    auto next = [&]() -> asio::awaitable<void> {
        JoinLine::Pass pass = co_await line.enter();
        second_in = true;
    };
    asio::co_spawn(ioc, failing(), [](const std::exception_ptr&) {});
    asio::co_spawn(ioc, next(), [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
    });
    settle(ioc);
    EXPECT_TRUE(second_in);
    EXPECT_EQ(line.stats().inside, 0u);
}

}  // namespace
}  // namespace marquee::queue
