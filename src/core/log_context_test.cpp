#include "core/log_context.hpp"

#include <functional>
#include <memory>
#include <sstream>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/log.hpp"

namespace marquee::core {
namespace {

/// A minimal standard executor: queues functions and runs them when asked, like one thread of an event loop
/// resuming coroutines one after another.
struct QueueExecutor {
    std::shared_ptr<std::vector<std::function<void()>>> queue =
        std::make_shared<std::vector<std::function<void()>>>();
    template <class F>
    void execute(F&& f) const {
        queue->emplace_back(std::forward<F>(f));
    }
    int query(int property) const noexcept { return property + 1; }
    QueueExecutor require(int) const { return *this; }
    void run() const {
        auto pending = std::move(*queue);
        queue->clear();
        for (auto& f : pending) f();
    }
    friend bool operator==(const QueueExecutor& a, const QueueExecutor& b) noexcept {
        return a.queue == b.queue;
    }
};

TEST(LogContext, NoneOutsideAScope) {
    EXPECT_EQ(current_log_context(), nullptr);
    EXPECT_FALSE(current_traceparent());
}

TEST(LogContext, ScopesNestAndRestore) {
    const auto outer = make_log_context(TraceContext::start());
    const auto inner = make_log_context(TraceContext::start());
    {
        LogContextScope a(outer);
        EXPECT_EQ(current_log_context(), outer.get());
        {
            LogContextScope b(inner);
            EXPECT_EQ(current_log_context(), inner.get());
            EXPECT_EQ(current_traceparent(), inner->trace.traceparent());
        }
        EXPECT_EQ(current_log_context(), outer.get());
    }
    EXPECT_EQ(current_log_context(), nullptr);
}

TEST(LogContext, TheExecutorRunsEachFunctionInItsOwnContextAndNoOther) {
    const QueueExecutor loop;
    const auto first = make_log_context(TraceContext::start());
    const auto second = make_log_context(TraceContext::start());
    std::vector<const LogContext*> seen;
    // Interleaved on one thread, as two coroutines resuming by turns would be.
    with_log_context(loop, first).execute([&] { seen.push_back(current_log_context()); });
    with_log_context(loop, second).execute([&] { seen.push_back(current_log_context()); });
    loop.execute([&] { seen.push_back(current_log_context()); });
    with_log_context(loop, first).execute([&] { seen.push_back(current_log_context()); });
    loop.run();
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[0], first.get());
    EXPECT_EQ(seen[1], second.get());
    EXPECT_EQ(seen[2], nullptr);
    EXPECT_EQ(seen[3], first.get());
    EXPECT_EQ(current_log_context(), nullptr);
}

TEST(LogContext, TheExecutorForwardsPropertiesAndKeepsItsContext) {
    const QueueExecutor loop;
    const auto context = make_log_context(TraceContext::start());
    const auto executor = with_log_context(loop, context);
    EXPECT_EQ(executor.query(41), 42);
    const auto required = executor.require(0);
    EXPECT_EQ(required.context(), context);
    EXPECT_TRUE(required == executor);
    EXPECT_FALSE(with_log_context(loop, make_log_context(TraceContext::start())) == executor);
}

TEST(LogContext, EveryLogLineNamesTheCurrentTrace) {
    init_logging(LogLevel::Info);
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_pattern("{%v");
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.push_back(sink);
    const auto context = make_log_context(TraceContext::start(), {{"request_id", "r-1"}});
    {
        LogContextScope scope(context);
        log_info("inside", {{"extra", 1}});
    }
    log_info("outside");
    sinks.pop_back();

    std::istringstream lines(out.str());
    std::string line;
    ASSERT_TRUE(std::getline(lines, line));
    const auto inside = boost::json::parse(line).as_object();
    EXPECT_EQ(inside.at("msg"), "inside");
    EXPECT_EQ(inside.at("trace_id"), context->trace.trace_id().c_str());
    EXPECT_EQ(inside.at("span_id"), context->trace.span_id().c_str());
    EXPECT_EQ(inside.at("request_id"), "r-1");
    EXPECT_EQ(inside.at("extra"), 1);
    ASSERT_TRUE(std::getline(lines, line));
    const auto outside = boost::json::parse(line).as_object();
    EXPECT_EQ(outside.at("msg"), "outside");
    EXPECT_FALSE(outside.contains("trace_id"));
}

}  // namespace
}  // namespace marquee::core
