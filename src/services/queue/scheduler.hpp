#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "services/queue/model.hpp"

namespace marquee::core {
class MetricsRegistry;
class Counter;
class Gauge;
}  // namespace marquee::core

namespace marquee::queue {

class WaitingRoom;
class Store;
class Controls;
class Opener;

/// What one pass over every schedule did.
struct TickReport {
    std::int64_t schedules = 0;
    std::int64_t admitted = 0;
    std::int64_t expired = 0;
    std::int64_t waiting = 0;
    std::int64_t active = 0;
    std::int64_t audited = 0;  ///< audit events written to PostgreSQL
    std::int64_t bound = 0;    ///< ACTIVE bound in force for the busiest schedule (most WAITING + ACTIVE)
    double rate = 0;           ///< admits per second in force for the busiest schedule
    std::int64_t steps = 0;    ///< automatic-admission steps this pass stored (ADR 0016)
};

/// This process's pressure signal for automatic admission: a running total of the requests that a pool
/// refused (shed, or timed out waiting), read at each controller step. Empty: none.
using PressureSource = std::function<std::uint64_t()>;

/// This process's PostgreSQL pool capacity for automatic admission (ADR 0045): the pool's smoothed time
/// between hand-overs to queued callers in milliseconds, read at each controller step; 0 while unmeasured.
/// Empty: none (the slow start is not capped by the pool).
using CapacitySource = std::function<double()>;

/// The admission scheduler: every tick, for every schedule with tokens, one admit script (expire, then admit
/// FIFO within the shared rate and the maximum), then the audit events of that schedule go to PostgreSQL in
/// one upsert. Safe to run in any number of processes at once: the scripts are atomic, each audit event is
/// popped by exactly one process, and the upsert only moves rows forward. With automatic admission, the pass
/// also takes the schedule's controller step when it is due (admission.hpp; one process wins each step).
class Scheduler : public std::enable_shared_from_this<Scheduler> {
  public:
    /// `metrics` may be null (tests); it must outlive the scheduler.
    Scheduler(std::shared_ptr<WaitingRoom> room, std::shared_ptr<Store> store, core::MetricsRegistry* metrics,
              PressureSource pressure = {}, CapacitySource capacity = {});

    /// One pass. Redis failures propagate (Problem 503); PostgreSQL failures are logged and the audit events
    /// go back to Redis for the next pass.
    boost::asio::awaitable<TickReport> tick();

    /// Co_spawns the tick loop on `executor` (it keeps the scheduler alive) until stop().
    void start(const boost::asio::any_io_executor& executor);
    /// Ends the loop after the current pass; idempotent.
    void stop() noexcept { stopping_ = true; }
    /// The operators' controls (ADR 0027), applied to each schedule's admission step. Set before start().
    void set_controls(std::shared_ptr<Controls> controls) { controls_ = std::move(controls); }
    /// ADR 0026: who shuffles and opens a schedule's pre-queue when its opening has come. Without one (tests
    /// of admission alone) a pre-queue stays closed. Set it before start().
    void set_opener(std::shared_ptr<Opener> opener) { opener_ = std::move(opener); }

  private:
    boost::asio::awaitable<void> run();
    struct Openings;
    static boost::asio::awaitable<void> open_beside(std::shared_ptr<Opener> opener,
                                                    std::shared_ptr<Openings> openings,
                                                    std::int64_t schedule_id, std::int64_t now_ms);
    boost::asio::awaitable<std::int64_t> write_audit(std::int64_t schedule_id);
    boost::asio::awaitable<bool> control(std::int64_t schedule_id, const AdmitStep& step,
                                         std::optional<int> fixed_bound);

    std::shared_ptr<WaitingRoom> room_;
    std::shared_ptr<Store> store_;
    std::shared_ptr<Opener> opener_;
    /// The schedules whose opening runs in this process now (ADR 0033): an opening runs beside the ticks, so
    /// that admission starts with the places it has moved while it moves the rest.
    struct Openings {
        std::mutex mutex;
        std::unordered_set<std::int64_t> running;
    };
    std::shared_ptr<Openings> openings_ = std::make_shared<Openings>();
    std::atomic<bool> stopping_{false};
    core::Counter* admitted_total_ = nullptr;
    core::Counter* expired_total_ = nullptr;
    core::Gauge* waiting_ = nullptr;
    core::Gauge* active_ = nullptr;
    core::Gauge* bound_ = nullptr;
    core::Gauge* rate_ = nullptr;
    core::Gauge* purchase_seconds_ = nullptr;
    std::unordered_map<std::string, core::Counter*> steps_;  ///< by move
    PressureSource pressure_;
    CapacitySource capacity_;
    core::Gauge* handover_seconds_ = nullptr;
    core::Counter* capped_total_ = nullptr;
    std::shared_ptr<Controls> controls_;
    std::unordered_map<std::int64_t, std::uint64_t> pressure_seen_;  ///< schedule -> total at its last step
};

}  // namespace marquee::queue
