#include "loop/run_every.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace marquee::loop {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs the loop on its own io_context until it returns; rethrows what escaped it.
void run(const std::atomic<bool>& stopping, Period period, Pass pass, OnFailure on_failure) {
    asio::io_context io;
    auto done = asio::co_spawn(
        io, run_every(stopping, std::move(period), std::move(pass), std::move(on_failure)), asio::use_future);
    io.run();
    done.get();
}

Period every(std::chrono::milliseconds period) {
    return [period] { return period; };
}

TEST(RunEvery, RunsPassesUntilStoppingAndReturns) {
    std::atomic<bool> stopping{false};
    int passes = 0;
    int periods = 0;
    std::vector<std::string> failures;
    run(
        stopping,
        [&] {
            ++periods;
            return std::chrono::steady_clock::duration(1ms);
        },
        [&]() -> asio::awaitable<void> {
            if (++passes == 3) stopping = true;
            co_return;
        },
        [&](const std::exception& e) { failures.emplace_back(e.what()); });
    EXPECT_EQ(passes, 3);
    EXPECT_EQ(periods, 3);  // the period is asked after every pass
    EXPECT_TRUE(failures.empty());
}

TEST(RunEvery, AFailedPassIsReportedAndTheLoopGoesOn) {
    std::atomic<bool> stopping{false};
    int passes = 0;
    std::vector<std::string> failures;
    run(
        stopping, every(1ms),
        [&]() -> asio::awaitable<void> {
            ++passes;
            if (passes == 4) {
                stopping = true;
                co_return;
            }
            if (passes != 2) throw std::runtime_error("down " + std::to_string(passes));
            co_return;
        },
        [&](const std::exception& e) { failures.emplace_back(e.what()); });
    EXPECT_EQ(passes, 4);
    EXPECT_EQ(failures, (std::vector<std::string>{"down 1", "down 3"}));
}

TEST(RunEvery, NoPassOnceStopping) {
    std::atomic<bool> stopping{true};
    int passes = 0;
    run(
        stopping, every(1ms),
        [&]() -> asio::awaitable<void> {
            ++passes;
            co_return;
        },
        [](const std::exception&) {});
    EXPECT_EQ(passes, 0);
}

TEST(RunEvery, WhatIsNotAStdExceptionEndsTheLoop) {
    std::atomic<bool> stopping{false};
    int passes = 0;
    EXPECT_THROW(run(
                     stopping, every(1ms),
                     [&]() -> asio::awaitable<void> {
                         ++passes;
                         throw 42;
                         co_return;
                     },
                     [](const std::exception&) {}),
                 int);
    EXPECT_EQ(passes, 1);
}

}  // namespace
}  // namespace marquee::loop
