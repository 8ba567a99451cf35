#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/problem.hpp"
#include "services/queue/controls_rules.hpp"

namespace marquee::core {
class MetricsRegistry;
class Counter;
template <typename Metric>
class Family;
class Gauge;
}  // namespace marquee::core
namespace marquee::db {
class Pool;
}

namespace marquee::queue {

/// One audit row, newest first in answers.
struct ControlAudit {
    std::string at;  ///< RFC 3339
    std::string actor;
    std::string field;
    boost::json::value before;
    boost::json::value after;
};

/// The controls' store and every process's copy of them. PostgreSQL (queue.schedule_controls, audited in
/// queue.control_audit) is the system of record; each process reads the rows changed since the highest
/// version it has seen every `poll` (one index probe when nothing changed), so every replica applies a
/// change within about a second. Thread-safe.
class Controls : public std::enable_shared_from_this<Controls> {
  public:
    /// `metrics` may be null (tests).
    Controls(db::Pool& db, core::MetricsRegistry* metrics,
             std::chrono::milliseconds poll = std::chrono::milliseconds(1000));

    /// This process's copy (no I/O): the defaults for a schedule nobody controlled.
    ScheduleControls get(std::int64_t schedule_id) const;

    /// The schedule's controls as PostgreSQL has them.
    boost::asio::awaitable<ScheduleControls> read(std::int64_t schedule_id);
    /// Applies the patch in one transaction: the row, one audit row per changed field (actor = the admin's
    /// user id), and when holdExtensionSeconds grows, the schedule's live holds get the difference
    /// (booking.extend_holds). Returns the new controls; this process's copy is updated at once.
    boost::asio::awaitable<ScheduleControls> change(std::int64_t schedule_id, std::string actor,
                                                    ControlsPatch patch);
    /// The schedule's audit rows, newest first, at most `limit`.
    boost::asio::awaitable<std::vector<ControlAudit>> audit(std::int64_t schedule_id, int limit);

    /// Reads the rows changed since the last refresh into the copy; returns how many.
    boost::asio::awaitable<std::size_t> refresh();

    /// Refreshes every `poll` on `executor` (the loop keeps this alive) until stop().
    void start(const boost::asio::any_io_executor& executor);
    void stop() noexcept { stopping_ = true; }

    /// ADR 0049 (amended): `listener(schedule_id)` is called whenever this process's copy of a schedule's
    /// `paused` flips (a change made here, or one another process made, read by the refresh), after the copy
    /// is updated, on the thread that updated it; without the controls' lock held. The waiting room's held
    /// polls are woken by it, so a pause or resume is heard at once instead of at the hold's end.
    void on_pause_change(std::function<void(std::int64_t)> listener);

  private:
    boost::asio::awaitable<void> run();
    void remember(std::int64_t schedule_id, const ScheduleControls& controls, std::int64_t version);
    void export_gauges(std::int64_t schedule_id, const ScheduleControls& controls);

    db::Pool& db_;
    std::chrono::milliseconds poll_;
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, ScheduleControls> copy_;
    std::int64_t seen_version_ = 0;
    std::vector<std::function<void(std::int64_t)>> pause_listeners_;  ///< under mutex_
    std::atomic<bool> stopping_{false};
    std::atomic<bool> started_{false};
    core::Family<core::Gauge>* gauges_ = nullptr;
    std::map<std::string, core::Counter*> changes_;  ///< by field
};

}  // namespace marquee::queue
