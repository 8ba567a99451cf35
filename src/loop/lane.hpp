#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace marquee::loop {

/// A lane (ADR 0036, ADR 0056): the callers of one kind that work at once, the rest waiting in arrival order.
///
/// First the joins' line (ADR 0036): a burst of joins used to start every join at once, each one's work went
/// in before any answer was taken out, and calls that waited past their deadline were answered 503 and sent
/// again. With a line, at most `concurrency` are in progress; one that finishes lets the next one in, so they
/// are answered in arrival order at the rate the process can do them, the first ones at once. Then the
/// logins' lane (ADR 0056): at most `concurrency` logins hold or wait for a PostgreSQL connection, so a burst
/// of logins waits here, in its own bounded line, instead of filling the pool's queue past its shed point and
/// ahead of the purchases.
///
/// Thread-safe. `max_waiting` bounds the line: beyond it enter() throws 503 + Retry-After (`service`,
/// `detail`); concurrency 0 turns the line off (every caller goes in at once).
class Lane {
  public:
    struct Stats {
        std::size_t inside = 0;        ///< callers in progress now
        std::size_t waiting = 0;       ///< callers waiting now
        std::size_t most_waiting = 0;  ///< the longest line so far
        std::uint64_t waited = 0;      ///< callers that had to wait
        std::uint64_t refused = 0;     ///< callers refused because the line was full
    };

    /// A place inside; leaving it (destruction) lets the next waiting caller in.
    class Pass {
      public:
        Pass() = default;
        explicit Pass(Lane* line) : line_(line) {}
        Pass(Pass&& other) noexcept : line_(other.line_) { other.line_ = nullptr; }
        Pass& operator=(Pass&& other) noexcept;
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        ~Pass();

      private:
        Lane* line_ = nullptr;
    };

    Lane(std::size_t concurrency, std::size_t max_waiting, std::string service, std::string detail)
        : concurrency_(concurrency),
          max_waiting_(max_waiting),
          service_(std::move(service)),
          detail_(std::move(detail)) {}
    Lane(const Lane&) = delete;
    Lane& operator=(const Lane&) = delete;

    /// Waits for a place inside (at once while there is one); throws core::Problem 503 when the line is
    /// full. The line must outlive the Pass.
    boost::asio::awaitable<Pass> enter();
    Stats stats() const;

  private:
    void leave();

    const std::size_t concurrency_;
    const std::size_t max_waiting_;
    const std::string service_;  ///< the refusal's 503 names it, with detail_
    const std::string detail_;
    mutable std::mutex mutex_;
    std::size_t inside_ = 0;
    struct Waiter {
        boost::asio::any_io_executor executor;  ///< the waiting caller's own: it resumes there
        std::function<void()> resume;           ///< the waiting coroutine's handler (shared, so copyable)
    };
    std::deque<Waiter> waiting_;
    Stats counts_;
};

}  // namespace marquee::loop
