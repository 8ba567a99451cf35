#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

namespace marquee::load {

/// Sends a burst in turns, so that answers are read while the rest of it is still being sent (issue 15, ADR
/// 0043). marquee-load runs every virtual user on one thread, and Asio runs ready handlers first in, first
/// out and polls its sockets only between them: 10,000 fans woken at once all sent their join before the
/// first answer was read, so every fan's latency held the rest of the burst's sends. Here at most `per_turn`
/// sends start in one turn; the others wait in arrival order, and the next turn is posted behind what is
/// queued now, so the reactor (answers, timers) runs between two turns. A send that finds room in the current
/// turn goes at once (nothing changes for a closed loop of a few users). One thread, as the run's io_context.
class SendTurns {
  public:
    SendTurns(boost::asio::any_io_executor executor, std::size_t per_turn);
    SendTurns(const SendTurns&) = delete;
    SendTurns& operator=(const SendTurns&) = delete;

    /// Returns when this send may start: at once if the current turn has room and nobody waits, else in a
    /// later turn, in the order of the calls.
    boost::asio::awaitable<void> take();

    std::size_t per_turn() const noexcept { return per_turn_; }
    std::uint64_t turns() const noexcept { return turns_; }  ///< turns that let a send go
    std::uint64_t waits() const noexcept { return waits_; }  ///< sends that waited for a later turn
    std::size_t most_waiting() const noexcept { return most_waiting_; }

  private:
    struct Waiter;
    void arm();
    void next_turn();

    boost::asio::any_io_executor executor_;
    std::size_t per_turn_;
    std::size_t used_ = 0;  ///< sends started in the current turn
    bool armed_ = false;    ///< a next_turn is posted
    std::deque<Waiter*> waiting_;
    std::uint64_t turns_ = 0;
    std::uint64_t waits_ = 0;
    std::size_t most_waiting_ = 0;
};

/// The shape of a burst of requests of one kind (the flash sale's joins): when the first and the last went
/// (Response::sent of the answered try), when the first and last answers came, and how many came.
class BurstClock {
  public:
    using time_point = std::chrono::steady_clock::time_point;
    void answered(time_point sent, time_point at);
    std::uint64_t count() const noexcept { return count_; }
    /// {answered, sends_ms (first to last send), first_answer_ms and last_answer_ms (after the first send),
    /// per_s (answers / first send to last answer), since_first_send_p50_ms / _p95_ms / _p99_ms (each answer
    /// after the burst's first send: what a fan who asked at the opening waited, whenever the load generator
    /// got its request out)}; only {answered: 0} when none came.
    boost::json::object to_json() const;

  private:
    std::vector<time_point> answers_;
    std::uint64_t count_ = 0;
    std::optional<time_point> first_sent_;
    time_point last_sent_{};
    time_point first_answer_{};
    time_point last_answer_{};
};

}  // namespace marquee::load
