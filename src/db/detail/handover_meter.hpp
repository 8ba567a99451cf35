#pragma once

// The pool's service rate while callers queue (ADR 0040, ADR 0056): how long a hand-over of a connection to a
// queued caller takes, as the mean of the last hand-overs, and the wait a caller joining the queue can
// expect. Pure: the caller passes the time; no clock, no lock (PoolState holds its mutex). db/ only.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace marquee::db::detail {

class HandoverMeter {
  public:
    using Clock = std::chrono::steady_clock;
    using Duration = Clock::duration;
    using TimePoint = Clock::time_point;

    /// Hand-overs the mean is taken over: the last this many (a quarter to half a second of a working pool's
    /// hand-overs here: longer than the 100-250 ms a process on a busy machine waits for a core, so one such
    /// wait weighs as what it is, a few ms per hand-over, not as the time of each).
    static constexpr std::size_t kWindow = 256;
    /// Hand-overs measured before the meter estimates anything.
    static constexpr std::uint64_t kMinMeasured = 32;

    /// A queue forms (the first caller queues): the next hand-over's gap counts from `now`.
    void queue_formed(TimePoint now) noexcept { last_ = now; }

    /// A connection went to a queued caller at `now`: the gap since the last hand-over (or since the queue
    /// formed) is measured.
    void handover(TimePoint now) noexcept {
        if (last_ != TimePoint{}) {
            const Duration gap = std::max(now - last_, Duration{0});
            Duration& slot = gaps_[static_cast<std::size_t>(measured_ % kWindow)];
            sum_ += gap - slot;
            slot = gap;
            ++measured_;
        }
        last_ = now;
    }

    std::uint64_t measured() const noexcept { return measured_; }

    /// The mean time between hand-overs over the last kWindow of them (fewer at first): the time they took
    /// over their count, i.e. 1 / the rate the pool served queued callers at. Zero before the first.
    Duration interval() const noexcept {
        const std::uint64_t count = std::min<std::uint64_t>(measured_, kWindow);
        return count == 0 ? Duration{0} : sum_ / static_cast<Duration::rep>(count);
    }

    /// The wait of a caller that joins `queued` callers now: (queued + 1) x the mean time between hand-overs
    /// over the last kWindow gaps and the gap in progress since the last hand-over (a stall counts as the
    /// one long gap it is, not as the time of every hand-over ahead; so a pool that stalls is noticed as
    /// fast as its queue grows). Zero until kMinMeasured hand-overs were measured.
    Duration expected_wait(std::size_t queued, TimePoint now) const noexcept {
        if (measured_ < kMinMeasured) return Duration{0};
        const Duration in_progress = last_ == TimePoint{} ? Duration{0} : std::max(now - last_, Duration{0});
        // The gap in progress counts once it is longer than the mean: a short one is the next hand-over's
        // normal time and would only dilute the window.
        const Duration mean = interval();
        const std::uint64_t count = std::min<std::uint64_t>(measured_, kWindow);
        const Duration gap =
            in_progress > mean ? (sum_ + in_progress) / static_cast<Duration::rep>(count + 1) : mean;
        return gap * static_cast<Duration::rep>(queued + 1);
    }

  private:
    std::array<Duration, kWindow> gaps_{};
    Duration sum_{0};
    std::uint64_t measured_ = 0;
    TimePoint last_{};
};

}  // namespace marquee::db::detail
