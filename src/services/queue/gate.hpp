#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>

namespace marquee::queue {

class Controls;
class WaitingRoom;

/// The QueueToken check that booking and payment run before holding seats or paying. Booking and payment
/// may not include this header: app hands them `as_function()`.
///
/// The token travels in the request header `X-Queue-Token`. Outcomes (docs/architecture.md,
/// "The queue-token check"):
/// - ACTIVE, this user's, this schedule's: returns the token id (canonical UUID text), and its idle
///   expiry slides to now + the active TTL.
/// - header missing or empty: 403 `queue-token-required`.
/// - malformed, unknown (forged), another user's or another schedule's: 403 `queue-token-invalid`
///   (one answer for all, so a probe learns nothing about other people's tokens).
/// - WAITING: 403 `queue-not-admitted` with `position` and `etaSeconds`; while an operator has paused the
///   schedule's admission (ADR 0027), `paused: true` and no `etaSeconds` (nobody is admitted, ADR 0033).
/// - EXPIRED or USED: 410 `queue-token-expired`.
class Gate {
  public:
    using Function =
        std::function<boost::asio::awaitable<std::string>(std::string, std::int64_t, std::string)>;

    explicit Gate(WaitingRoom& room) : room_(room) {}

    /// The operators' controls (this process's copy), for the paused answer; none: never paused.
    void set_controls(std::shared_ptr<Controls> controls) { controls_ = std::move(controls); }

    boost::asio::awaitable<std::string> require_active(std::string user_id, std::int64_t schedule_id,
                                                       std::string token);

    /// require_active as a std::function; the Gate must outlive it.
    Function as_function();

  private:
    WaitingRoom& room_;
    std::shared_ptr<Controls> controls_;
};

}  // namespace marquee::queue
