// What tracing costs a request (ADR 0010): the server runs every handler in a coroutine spawned on a
// LogContextExecutor, so that each resumption sets the log context. Compared here with awaiting the same
// handler directly, on one thread, for a handler that suspends range(0) times (a request's Redis and
// PostgreSQL round trips; each suspension is a post, as a socket completion would be). Figures and how to
// read them: docs/performance.md, "Micro-benchmarks".
//
//   build-lead/bench/marquee_micro_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/log_context.hpp"
#include "core/trace_context.hpp"

namespace {

namespace asio = boost::asio;

/// A handler: suspends `suspensions` times and, after each, reads the log context as a log line would.
asio::awaitable<int> handler(int suspensions) {
    int with_context = 0;
    for (int i = 0; i < suspensions; ++i) {
        const auto executor = co_await asio::this_coro::executor;
        co_await asio::post(executor, asio::use_awaitable);
        if (marquee::core::current_log_context() != nullptr) ++with_context;
    }
    co_return with_context;
}

/// The server's way: a log context for the request (a new trace and its request id), the handler spawned
/// on the adapter.
asio::awaitable<int> traced_request(int suspensions) {
    boost::json::object fields;
    fields["request_id"] = "0123456789abcdef";
    const auto context =
        marquee::core::make_log_context(marquee::core::TraceContext::start(), std::move(fields));
    const auto executor = co_await asio::this_coro::executor;
    const auto traced = marquee::core::with_log_context(executor, context);
    auto work = handler(suspensions);
    co_return co_await asio::co_spawn(traced, std::move(work), asio::use_awaitable);
}

asio::awaitable<int> plain_request(int suspensions) {
    co_return co_await handler(suspensions);
}

asio::awaitable<void> loop(benchmark::State* state, bool traced) {
    const int suspensions = static_cast<int>(state->range(0));
    int with_context = 0;
    for (auto _ : *state) {
        if (traced) {
            with_context += co_await traced_request(suspensions);
        } else {
            with_context += co_await plain_request(suspensions);
        }
    }
    benchmark::DoNotOptimize(with_context);
    // The point of the adapter: every resumption of a traced handler sees its context, none of a plain one.
    const auto expected = traced ? static_cast<std::int64_t>(state->iterations()) * suspensions : 0;
    if (with_context != expected) state->SkipWithError("the log context was not where it belongs");
}

void BM_RequestPlain(benchmark::State& state) {
    asio::io_context io(1);
    asio::co_spawn(io, loop(&state, false), asio::detached);
    io.run();
}

void BM_RequestTraced(benchmark::State& state) {
    asio::io_context io(1);
    asio::co_spawn(io, loop(&state, true), asio::detached);
    io.run();
}

BENCHMARK(BM_RequestPlain)->Arg(0)->Arg(3)->Arg(8);
BENCHMARK(BM_RequestTraced)->Arg(0)->Arg(3)->Arg(8);

}  // namespace

BENCHMARK_MAIN();
