#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace marquee::load {

using Clock = std::chrono::steady_clock;

/// The "due" of a closed-loop request: measure from when it is sent, not from a fixed-rate slot.
inline constexpr Clock::time_point kAtSend{};

/// The bounds of a run: at most `max_requests` (0: no limit) claimed before `deadline`. Shared by every
/// virtual user of one thread.
class Budget {
  public:
    Budget(std::uint64_t max_requests, Clock::time_point deadline)
        : max_(max_requests), deadline_(deadline) {}
    /// Claims the next request; nullopt once the count is spent or `now` is past the deadline.
    std::optional<std::uint64_t> claim(Clock::time_point now);
    std::uint64_t claimed() const noexcept { return next_; }
    std::uint64_t max_requests() const noexcept { return max_; }
    Clock::time_point deadline() const noexcept { return deadline_; }

  private:
    std::uint64_t max_;
    Clock::time_point deadline_;
    std::uint64_t next_ = 0;
};

/// Fixed-rate pacing for an open-model run: request i is due at start + i / rate, computed from i (never
/// accumulated, so it does not drift). A request sent late is measured from when it was *due*, not from
/// when it went out: that is the correction for coordinated omission (a stalled server cannot hide the
/// requests it kept the client from sending).
class RateSchedule {
  public:
    RateSchedule(double per_second, Clock::time_point start);
    Clock::time_point due(std::uint64_t index) const;
    double per_second() const noexcept { return per_second_; }

  private:
    double per_second_;
    Clock::time_point start_;
};

/// The pacing of a run's measured requests, shared by the virtual users of one thread: a Budget, plus a
/// RateSchedule from `start` when `per_second` > 0 (fixed rate; 0: closed loop, each user sends as soon as
/// its last answer came). A user claims its next request when it is free; at a fixed rate the request is due
/// at its slot (start + index / rate) and is measured from there, so when no user was free at that time the
/// wait counts in its latency. A fixed-rate run stops at the first slot due at or after the deadline.
class Pacer {
  public:
    struct Slot {
        std::uint64_t index = 0;
        Clock::time_point due = kAtSend;  ///< kAtSend in a closed loop
    };

    Pacer(std::uint64_t max_requests, Clock::time_point start, Clock::time_point deadline, double per_second);
    /// Claims the next request; nullopt once the count is spent, `now` is past the deadline or (fixed rate)
    /// the next slot is due at or after it.
    std::optional<Slot> claim(Clock::time_point now);
    bool fixed_rate() const noexcept { return schedule_.has_value(); }
    double per_second() const noexcept { return schedule_ ? schedule_->per_second() : 0.0; }
    std::uint64_t claimed() const noexcept { return budget_.claimed(); }
    /// Fixed rate: the requests due before `end` (and before the deadline, within the count), claimed or not;
    /// closed loop: claimed(). Those not claimed by the end of a run were never sent: the client fell behind.
    std::uint64_t due_before(Clock::time_point end) const;

  private:
    Budget budget_;
    std::optional<RateSchedule> schedule_;
};

/// Latency in whole microseconds of a request due at `due` (its fixed-rate slot, or its send time in a
/// closed-loop run) and answered at `done`; never negative.
std::uint64_t latency_us(Clock::time_point due, Clock::time_point done);

}  // namespace marquee::load
