#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

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
/// `detail`); concurrency 0 turns the line off (every caller goes in at once). `max_wait` (0: none) bounds
/// a caller's wait in time (ADR 0056's amendment): a caller still in line after it leaves the line with the
/// same 503, and a caller whose expected wait (the callers ahead of it, plus one, times the mean time a place
/// is held over the last kWindow places, divided by `concurrency`) is already longer is refused at once, so a
/// client whose own timeout is longer than `max_wait` gets an answer, not a timeout.
class Lane {
  public:
    using Clock = std::chrono::steady_clock;
    /// The clock the hold times are measured with (tests pass their own; the wait's bound is a steady timer).
    using Now = std::function<Clock::time_point()>;

    /// Places whose hold times make the mean; fewer than kMinMeasured: no expected wait (never refused on
    /// it).
    static constexpr std::size_t kWindow = 256;
    static constexpr std::uint64_t kMinMeasured = 32;

    struct Stats {
        std::size_t inside = 0;          ///< callers in progress now
        std::size_t waiting = 0;         ///< callers waiting now
        std::size_t most_waiting = 0;    ///< the longest line so far
        std::uint64_t waited = 0;        ///< callers that had to wait
        std::uint64_t refused = 0;       ///< callers refused because the line was full
        std::uint64_t refused_slow = 0;  ///< callers refused at once: their expected wait was past max_wait
        std::uint64_t timed_out = 0;     ///< callers that waited max_wait and left the line with a 503
        Clock::duration mean_hold{0};    ///< the mean time a place was held, over the last kWindow
    };

    /// A place inside; leaving it (destruction) lets the next waiting caller in.
    class Pass {
      public:
        Pass() = default;
        Pass(Lane* line, Clock::time_point since) : line_(line), since_(since) {}
        Pass(Pass&& other) noexcept : line_(other.line_), since_(other.since_) { other.line_ = nullptr; }
        Pass& operator=(Pass&& other) noexcept;
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        ~Pass();

      private:
        Lane* line_ = nullptr;
        Clock::time_point since_{};
    };

    Lane(std::size_t concurrency, std::size_t max_waiting, std::string service, std::string detail,
         std::chrono::milliseconds max_wait = std::chrono::milliseconds{0}, Now now = {});
    Lane(const Lane&) = delete;
    Lane& operator=(const Lane&) = delete;
    ~Lane();

    /// Waits for a place inside (at once while there is one); throws core::Problem 503 + Retry-After when the
    /// line is full, when the expected wait is past max_wait, or after waiting max_wait. The line must
    /// outlive the Pass.
    boost::asio::awaitable<Pass> enter();
    Stats stats() const;

  private:
    struct Ticket;  ///< one waiting caller (lane.cpp)

    void leave(Clock::time_point since);
    /// Called once the caller's max_wait has passed while it was still in line: it leaves the line.
    void time_out(const std::shared_ptr<Ticket>& ticket);
    Clock::duration mean_hold_locked() const;
    Clock::duration expected_wait_locked() const;

    const std::size_t concurrency_;
    const std::size_t max_waiting_;
    const std::string service_;  ///< the refusal's 503 names it, with detail_
    const std::string detail_;
    const std::chrono::milliseconds max_wait_;
    const Now now_;
    mutable std::mutex mutex_;
    std::size_t inside_ = 0;
    std::deque<std::shared_ptr<Ticket>> waiting_;
    std::array<Clock::duration, kWindow> holds_{};  ///< the last places' hold times, a ring
    Clock::duration holds_sum_{0};
    std::uint64_t holds_measured_ = 0;
    Stats counts_;
};

}  // namespace marquee::loop
