#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace marquee::load {

using Clock = std::chrono::steady_clock;

/// The bounds of a run: at most `max_requests` (0: no limit) claimed before `deadline`. Shared by every
/// virtual user of one thread.
class Budget {
  public:
    Budget(std::uint64_t max_requests, Clock::time_point deadline)
        : max_(max_requests), deadline_(deadline) {}
    /// Claims the next request; nullopt once the count is spent or `now` is past the deadline.
    std::optional<std::uint64_t> claim(Clock::time_point now);
    std::uint64_t claimed() const noexcept { return next_; }
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

/// Latency in whole microseconds of a request due at `due` (its fixed-rate slot, or its send time in a
/// closed-loop run) and answered at `done`; never negative.
std::uint64_t latency_us(Clock::time_point due, Clock::time_point done);

}  // namespace marquee::load
