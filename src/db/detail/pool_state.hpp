#pragma once

// The shared state behind a Pool: idle connections, the FIFO of waiting callers, counters. Sessions and
// queued waiters keep it alive, so a Pool may be destroyed while connections are still out. db/ only.

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "db/detail/connection.hpp"
#include "db/detail/handover_meter.hpp"
#include "db/detail/parked.hpp"
#include "db/pool.hpp"
#include "db/session.hpp"

namespace marquee::db::detail {

class PoolState : public std::enable_shared_from_this<PoolState> {
  public:
    using Clock = std::chrono::steady_clock;

    PoolState(boost::asio::any_io_executor executor, PoolOptions options);
    ~PoolState();

    /// An idle connection, a new one in a free slot, or the next one released, within options().timeout.
    /// `label` names the caller's work (a statement's text, or "transaction"/"session") for the log line
    /// that says what filled the queue when a caller is shed; it must outlive the wait.
    boost::asio::awaitable<Session> acquire(std::string_view label = "session",
                                            Priority priority = Priority::Normal);
    /// Gives the connection (or, when null or not reusable, its slot) to the first waiter, else keeps it.
    void release(std::unique_ptr<Connection> connection, bool discard) noexcept;
    /// Closes idle connections and fails the waiters; later releases close their connections.
    void close() noexcept;

    Pool::Stats stats() const;
    const PoolOptions& options() const noexcept { return options_; }

  private:
    struct Waiter;
    /// granted with a null connection: a free slot the receiver connects in.
    struct Grant {
        bool granted = false;
        std::unique_ptr<Connection> connection;
    };

    Grant try_take_locked();
    /// The wait a caller joining the queue now can expect: (queued + 1) x the mean time between hand-overs
    /// (HandoverMeter, ADR 0056); zero until enough were measured or while fewer than the pool's size queue.
    Clock::duration expected_wait_locked(Clock::time_point now) const;
    /// Opens a connection for a granted slot, unless the database was unreachable a moment ago: then only one
    /// caller at a time tries again (after a growing pause) and the others are refused at once with 503.
    boost::asio::awaitable<std::unique_ptr<Connection>> connect(Clock::time_point deadline);
    boost::asio::awaitable<Grant> wait(Clock::time_point deadline, std::string_view label, Priority priority);
    /// Once a second at most, while callers are shed: the fields of a warning that says what the queued
    /// callers wait to run (their statements' first SQL function, counted) and the wait the shed caller could
    /// expect (`expected`, whether it or the full queue refused it); empty between reports.
    boost::json::object shed_report_locked(std::string_view label, Clock::duration expected);
    void expire(const std::shared_ptr<Waiter>& waiter) noexcept;

    const boost::asio::any_io_executor executor_;
    const PoolOptions options_;
    const ConnectSettings settings_;

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;  // most recently used last
    std::list<std::shared_ptr<Waiter>> waiters_;     // first come, first served (Finish callers first)
    std::size_t finish_waiting_ = 0;                 // Finish callers at the front of waiters_
    // The queue's service rate (ADR 0040, ADR 0056): the mean time between the last hand-overs to queued
    // callers, and the hand-over (or queue formation) the next gap counts from.
    HandoverMeter handovers_;
    std::uint64_t shed_expected_wait_ = 0;
    std::uint64_t finish_acquired_ = 0;
    std::uint64_t finish_over_bound_ = 0;
    Clock::time_point shed_logged_{};
    std::uint64_t shed_at_last_report_ = 0;
    std::size_t open_ = 0;  // == idle_.size() + in_use_
    std::size_t in_use_ = 0;
    bool closed_ = false;
    std::uint64_t acquired_ = 0;
    std::uint64_t acquire_timeouts_ = 0;
    std::uint64_t shed_ = 0;
    std::uint64_t connects_ = 0;
    // Reconnect backoff (docs/decisions/0021-postgres-failover.md): consecutive failed connects, the time
    // before which no new connect is tried, and whether one caller is trying now.
    int connect_failures_ = 0;
    Clock::time_point retry_at_{};
    bool probing_ = false;
    std::uint64_t connect_errors_ = 0;
    std::uint64_t refused_unreachable_ = 0;
    Clock::duration acquire_wait_{0};
};

}  // namespace marquee::db::detail
