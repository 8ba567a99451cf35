#pragma once

// Test harness for code that suspends: run a coroutine to completion on an io_context from a plain test body.
// Header-only (Asio is compiled once in marquee::asio, which every test that uses this already links).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

namespace marquee::test {

/// Runs `io` on `threads` threads (this one included) until it has no more work.
inline void run_threads(boost::asio::io_context& io, int threads) {
    io.restart();
    std::vector<std::thread> extra;
    for (int i = 1; i < threads; ++i) extra.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& thread : extra) thread.join();
}

/// Runs `task` on `io` with `threads` threads until everything it started is done; returns its value or
/// rethrows its exception.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task, int threads = 1) {
    std::optional<T> value;
    std::exception_ptr error;
    boost::asio::co_spawn(
        io, [&]() -> boost::asio::awaitable<void> { value.emplace(co_await std::move(task)); },
        [&](std::exception_ptr e) { error = std::move(e); });
    run_threads(io, threads);
    if (error) std::rethrow_exception(error);
    return std::move(*value);
}

/// The same for a task without a value.
inline void run(boost::asio::io_context& io, boost::asio::awaitable<void> task, int threads = 1) {
    std::exception_ptr error;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { error = std::move(e); });
    run_threads(io, threads);
    if (error) std::rethrow_exception(error);
}

/// Runs `task` on `io` from this thread until `io` has no more work; returns its value or rethrows.
template <class T>
T run_here(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
    auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

/// Runs `task` on `io`, which other threads are already running, and waits for its value or exception.
template <class T>
T run_on(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
    return boost::asio::co_spawn(io, std::move(task), boost::asio::use_future).get();
}

/// Load from many callers at once: spawns `workers` coroutines `worker(i)`, the even ones on `io` itself and
/// the odd ones on strands of their own (as request handlers run), runs `io` on `threads` threads, calls
/// `drive()` on this one (it ends the load, e.g. by setting the flag the workers check), then waits until
/// every worker has returned and the threads have stopped.
template <class Worker, class Drive>
void run_workers(boost::asio::io_context& io, int workers, int threads, Worker worker, Drive drive) {
    std::atomic<int> running{workers};
    for (int i = 0; i < workers; ++i) {
        const auto done = [&running](const std::exception_ptr&) { --running; };
        if (i % 2 == 0) {
            boost::asio::co_spawn(io, worker(i), done);
        } else {
            boost::asio::co_spawn(boost::asio::make_strand(io), worker(i), done);
        }
    }
    auto guard = boost::asio::make_work_guard(io);
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    drive();
    while (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    guard.reset();
    for (auto& thread : pool) thread.join();
}

/// A loopback port nobody listens on: bound, then released.
inline std::uint16_t closed_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
}

}  // namespace marquee::test
