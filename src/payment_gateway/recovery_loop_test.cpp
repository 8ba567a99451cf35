#include "payment_gateway/recovery_loop.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "core/log_context.hpp"

namespace marquee::payment_gateway {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Every pass runs under a trace of its own, tagged with the job; a pass that throws does not end the loop;
// the loop ends when stopped() says so.
TEST(RecoveryLoop, EachPassHasItsOwnTraceAndAFailedPassDoesNotEndTheLoop) {
    asio::io_context io;
    std::vector<std::string> traces;
    std::vector<std::string> jobs;
    bool ended = false;
    auto pass = [&]() -> asio::awaitable<void> {
        const core::LogContext* context = core::current_log_context();
        traces.push_back(context != nullptr ? context->trace.trace_id() : "");
        jobs.push_back(context != nullptr && context->fields.contains("job")
                           ? std::string(context->fields.at("job").as_string())
                           : "");
        if (traces.size() == 1) throw std::runtime_error("the gateway is away");
        co_return;
    };
    asio::co_spawn(io,
                   run_recovery_passes(
                       "test-recovery", 1ms, [&] { return traces.size() >= 3; }, pass),
                   [&](const std::exception_ptr& failure) { ended = failure == nullptr; });
    io.run_for(10s);
    EXPECT_TRUE(ended);
    ASSERT_EQ(traces.size(), 3U);
    EXPECT_EQ(jobs, (std::vector<std::string>{"test-recovery", "test-recovery", "test-recovery"}));
    EXPECT_FALSE(traces[0].empty());
    EXPECT_NE(traces[0], traces[1]);
    EXPECT_NE(traces[1], traces[2]);
}

TEST(RecoveryLoop, AStoppedLoopRunsNoPass) {
    asio::io_context io;
    int passes = 0;
    bool ended = false;
    asio::co_spawn(io,
                   run_recovery_passes(
                       "test-recovery", 1ms, [] { return true; },
                       [&]() -> asio::awaitable<void> {
                           ++passes;
                           co_return;
                       }),
                   [&](const std::exception_ptr& failure) { ended = failure == nullptr; });
    io.run_for(10s);
    EXPECT_TRUE(ended);
    EXPECT_EQ(passes, 0);
}

}  // namespace
}  // namespace marquee::payment_gateway
