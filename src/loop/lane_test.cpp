#include "loop/lane.hpp"

#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"

namespace marquee::loop {
namespace {

namespace asio = boost::asio;

struct Caller {
    bool entered = false;
    std::optional<int> refused_status;
    std::string refused_detail;
    std::optional<Lane::Pass> place;
};

asio::awaitable<void> enter(Lane& lane, Caller& c) {
    try {
        Lane::Pass pass = co_await lane.enter();
        c.entered = true;
        c.place.emplace(std::move(pass));
    } catch (const core::Problem& p) {
        c.refused_status = p.status();
        c.refused_detail = p.detail();
    }
}

// ADR 0056: the logins' lane lets `concurrency` in, lines up the rest in arrival order, and refuses the one
// past its bound with the 503 it was given (not the joins' text).
TEST(LaneTest, AFullLaneRefusesWithItsOwnServiceAndDetail) {
    asio::io_context io;  // polled: a caller waiting in line keeps run() from returning
    Lane lane(2, 1, "postgres", "too many logins are waiting for the database; retry shortly");
    Caller a, b, c, d;
    for (Caller* x : {&a, &b, &c, &d}) asio::co_spawn(io, enter(lane, *x), asio::detached);
    io.poll();
    EXPECT_TRUE(a.entered);
    EXPECT_TRUE(b.entered);
    EXPECT_FALSE(c.entered);  // waits in line
    EXPECT_FALSE(c.refused_status.has_value());
    ASSERT_TRUE(d.refused_status.has_value());
    EXPECT_EQ(*d.refused_status, 503);
    EXPECT_EQ(d.refused_detail, "too many logins are waiting for the database; retry shortly");
    EXPECT_EQ(lane.stats().waiting, 1U);
    a.place.reset();  // a leaves: c takes its place
    io.poll();
    EXPECT_TRUE(c.entered);
    EXPECT_EQ(lane.stats().inside, 2U);
    EXPECT_EQ(lane.stats().refused, 1U);
}

}  // namespace
}  // namespace marquee::loop
