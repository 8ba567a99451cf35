#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace marquee::queue {

/// ADR 0036: the joins one process works on at once, the rest waiting in arrival order.
///
/// A burst of joins (10,000 fans at the opening) used to start every join at once: each one's JWT check and
/// Redis call went in before any Redis answer was taken out, so the answers queued behind the whole burst's
/// work, every fan was answered at about the end of the burst, and calls that waited past the Redis deadline
/// were answered 503 and sent again. With a line, at most `concurrency` joins are in progress; a join that
/// finishes lets the next one in, so joins are answered in arrival order at the rate the process can do
/// them, the first ones at once.
///
/// Thread-safe. `max_waiting` bounds the line: beyond it enter() throws 503 + Retry-After (queue-busy);
/// concurrency 0 turns the line off (every join goes in at once, as before).
class JoinLine {
  public:
    struct Stats {
        std::size_t inside = 0;        ///< joins in progress now
        std::size_t waiting = 0;       ///< joins waiting now
        std::size_t most_waiting = 0;  ///< the longest line so far
        std::uint64_t waited = 0;      ///< joins that had to wait
        std::uint64_t refused = 0;     ///< joins refused because the line was full
    };

    /// A place inside; leaving it (destruction) lets the next waiting join in.
    class Pass {
      public:
        Pass() = default;
        explicit Pass(JoinLine* line) : line_(line) {}
        Pass(Pass&& other) noexcept : line_(other.line_) { other.line_ = nullptr; }
        Pass& operator=(Pass&& other) noexcept;
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        ~Pass();

      private:
        JoinLine* line_ = nullptr;
    };

    JoinLine(std::size_t concurrency, std::size_t max_waiting)
        : concurrency_(concurrency), max_waiting_(max_waiting) {}
    JoinLine(const JoinLine&) = delete;
    JoinLine& operator=(const JoinLine&) = delete;

    /// Waits for a place inside (at once while there is one); throws core::Problem 503 when the line is
    /// full. The line must outlive the Pass.
    boost::asio::awaitable<Pass> enter();
    Stats stats() const;

  private:
    void leave();

    const std::size_t concurrency_;
    const std::size_t max_waiting_;
    mutable std::mutex mutex_;
    std::size_t inside_ = 0;
    struct Waiter {
        boost::asio::any_io_executor executor;  ///< the waiting join's own: it resumes there
        std::function<void()> resume;           ///< the waiting coroutine's handler (shared, so copyable)
    };
    std::deque<Waiter> waiting_;
    Stats counts_;
};

}  // namespace marquee::queue
