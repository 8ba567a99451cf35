#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace marquee::core {
class MetricsRegistry;
class Counter;
class Gauge;
}  // namespace marquee::core

namespace marquee::queue {

class WaitingRoom;
class Store;

/// What one pass over every schedule did.
struct TickReport {
    std::int64_t schedules = 0;
    std::int64_t admitted = 0;
    std::int64_t expired = 0;
    std::int64_t waiting = 0;
    std::int64_t active = 0;
    std::int64_t audited = 0;  ///< audit events written to PostgreSQL
};

/// The admission scheduler: every tick, for every schedule with tokens, one admit script (expire, then admit
/// FIFO within the shared rate and the maximum), then the audit events of that schedule go to PostgreSQL in
/// one upsert. Safe to run in any number of processes at once: the scripts are atomic, each audit event is
/// popped by exactly one process, and the upsert only moves rows forward.
class Scheduler : public std::enable_shared_from_this<Scheduler> {
  public:
    /// `metrics` may be null (tests); it must outlive the scheduler.
    Scheduler(std::shared_ptr<WaitingRoom> room, std::shared_ptr<Store> store,
              core::MetricsRegistry* metrics);

    /// One pass. Redis failures propagate (Problem 503); PostgreSQL failures are logged and the audit events
    /// go back to Redis for the next pass.
    boost::asio::awaitable<TickReport> tick();

    /// Co_spawns the tick loop on `executor` (it keeps the scheduler alive) until stop().
    void start(boost::asio::any_io_executor executor);
    /// Ends the loop after the current pass; idempotent.
    void stop() noexcept { stopping_ = true; }

  private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<std::int64_t> write_audit(std::int64_t schedule_id);

    std::shared_ptr<WaitingRoom> room_;
    std::shared_ptr<Store> store_;
    std::atomic<bool> stopping_{false};
    core::Counter* admitted_total_ = nullptr;
    core::Counter* expired_total_ = nullptr;
    core::Gauge* waiting_ = nullptr;
    core::Gauge* active_ = nullptr;
};

}  // namespace marquee::queue
