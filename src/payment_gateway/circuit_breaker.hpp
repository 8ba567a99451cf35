#pragma once

#include <chrono>
#include <mutex>

namespace marquee::payment_gateway {

/// Stops calling a dependency that keeps failing, so callers get a fast, clear 503 instead of piling up
/// behind timeouts, and lets one trial call through after a cool-down to see whether it is back.
/// Closed --(failure_threshold consecutive failures)--> Open --(open_for passed)--> HalfOpen (one trial)
/// --success--> Closed, --failure--> Open. Thread-safe; time is passed in, so it is testable.
class CircuitBreaker {
  public:
    using Clock = std::chrono::steady_clock;
    enum class State { Closed, Open, HalfOpen };
    struct Options {
        int failure_threshold = 5;
        std::chrono::milliseconds open_for{5000};
    };

    explicit CircuitBreaker(Options options) : options_(options) {}

    /// Whether a call may go out now. In HalfOpen only one trial is let through until it reports back.
    bool allow(Clock::time_point now);
    void record_success();
    void record_failure(Clock::time_point now);
    State state(Clock::time_point now) const;

  private:
    Options options_;
    mutable std::mutex mutex_;
    State state_ = State::Closed;
    int failures_ = 0;
    Clock::time_point opened_at_{};
    bool trial_in_flight_ = false;
};

}  // namespace marquee::payment_gateway
