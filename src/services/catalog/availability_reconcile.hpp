#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "services/catalog/model.hpp"

namespace marquee::core {
class Counter;
class MetricsRegistry;
}  // namespace marquee::core
namespace marquee::redis {
class Client;
}

namespace marquee::catalog {

class AvailabilityBitset;
class Store;

struct ReconcileSettings {
    /// One pass per period, by whichever replica holds the lease.
    std::chrono::milliseconds period{std::chrono::seconds(10)};
    /// Schedules compared per pass (one booking.seat_states query and one MGET each); the walk resumes
    /// where the last pass stopped, so every on-sale schedule is compared once per ceil(N / this) passes.
    std::size_t schedules_per_pass = 50;
    /// The Redis key of the lease (held for 3 periods, renewed by its holder each pass).
    std::string lease_key = "catalog:availability:reconcile:lease";
};

/// The backstop of availability (docs/decisions/0014): compares each on-sale schedule's bitsets with
/// booking's truth (`booking.seat_states()`) and repairs what the events left wrong (an event terminated
/// as unreadable, an old event applied after a newer one, a bug). A seat is repaired only when the same
/// difference is seen by two passes in a row, so events still on their way (their lag is well under one
/// period) are never "repaired" early and counted as drift; the repair is conditional on the version, so a
/// concurrent event always wins. Drift is thus gone within two periods of the walk reaching its schedule.
/// One replica at a time: a Redis lease (SET NX PX, renewed by its holder). Counts its repairs in
/// `availability_reconcile_fixes_total` and its passes in `availability_reconcile_passes_total`.
class AvailabilityReconciler {
  public:
    AvailabilityReconciler(Store& store, AvailabilityBitset& bitset, redis::Client& redis,
                           core::MetricsRegistry& metrics, ReconcileSettings settings, std::string owner);

    struct Pass {
        bool leader = false;        ///< this replica held the lease and compared
        std::size_t schedules = 0;  ///< compared
        std::size_t suspects = 0;   ///< seats that differ now, seen for the first time (repaired next pass)
        std::size_t fixed = 0;      ///< seats repaired (differed in this pass and the one before)
        std::size_t conflicts = 0;  ///< schedules whose version moved under the repair (left to next pass)
    };
    /// One pass: takes or renews the lease, then compares up to schedules_per_pass schedules.
    boost::asio::awaitable<Pass> pass_once();
    /// Compares one schedule (what pass_once does for each; tests call it directly).
    boost::asio::awaitable<Pass> reconcile_schedule(std::int64_t schedule_id);
    /// pass_once() every period until stop(); failures (PostgreSQL or Redis down) are logged once per outage.
    boost::asio::awaitable<void> run();
    void stop() noexcept { stopped_ = true; }

  private:
    boost::asio::awaitable<bool> hold_lease();
    /// Compares one schedule; adds to `pass`.
    boost::asio::awaitable<void> reconcile(std::int64_t schedule_id, Pass& pass);

    Store& store_;
    AvailabilityBitset& bitset_;
    redis::Client& redis_;
    core::Counter& fixes_;
    core::Counter& passes_;
    ReconcileSettings settings_;
    std::string owner_;
    std::int64_t cursor_ = 0;  ///< the walk: the last schedule id compared
    /// Per schedule: the seats that differed in the last pass that compared it, with booking's state.
    std::map<std::int64_t, std::map<std::int32_t, SeatState>> suspects_;
    std::atomic<bool> stopped_{false};
};

}  // namespace marquee::catalog
