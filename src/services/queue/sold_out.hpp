#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/problem.hpp"

namespace marquee::core {
class MetricsRegistry;
class Counter;
}  // namespace marquee::core
namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::queue {

class WaitingRoom;

/// One zone's seats as the database counts them (catalog's seats, booking's SOLD and live rows).
struct ZoneCount {
    std::string zone;
    std::int64_t seats = 0;
    std::int64_t sold = 0;  ///< SOLD
    std::int64_t live = 0;  ///< HELD or SOLD
};

/// What the waiting room knows about a schedule's supply (ADR 0018).
struct SoldOutView {
    bool sold_out = false;           ///< every seat of the schedule is SOLD (until a cancellation, ADR 0028)
    bool imminent = false;           ///< every seat is HELD or SOLD: nothing free unless a hold lapses
    std::vector<std::string> zones;  ///< zones whose every seat is SOLD
    std::int64_t at_ms = 0;          ///< epoch ms when a check first saw the schedule sold out
    std::int64_t seats = 0;          ///< seats of the schedule
    std::int64_t sold = 0;           ///< SOLD seats at the last check
    std::int64_t checked_ms = 0;     ///< epoch ms of the last check
    /// Time left until every seat is sold at the rate seen between the last two checks (0: unknown).
    std::int64_t eta_ms = 0;
};

/// The most a WAITING fan should wait before asking again (`pollAfterMs`), given the verdict: while the
/// schedule sells, no longer than it may take to sell out (at least kMinPollMs), and kMinPollMs once every
/// seat is taken; nullopt: no cap (nothing selling, or sold out already).
std::optional<std::int64_t> poll_cap_ms(const SoldOutView& view);
inline constexpr std::int64_t kMinPollMs = 1000;

/// The verdict on the counts: sold out when the schedule has seats and every one is SOLD.
SoldOutView judge(const std::vector<ZoneCount>& zones);

/// 410 `sold-out` (https://marquee.dev/problems/sold-out) for a join to a sold-out schedule.
core::Problem sold_out_problem(std::int64_t schedule_id);

/// The sold-out signal (ADR 0018). The truth is PostgreSQL: every period, for each schedule with fans in the
/// waiting room and not yet sold out, ONE queue process (a Redis lock per schedule and period) counts the
/// SOLD seats per zone through booking's and catalog's doors and writes the verdict to `queue:{S}:sold-out`
/// (a hash under the schedule's hash tag). Every queue process reads that hash once per period and schedule
/// into memory, so polls and event streams learn it without a Redis call of their own; joins read it from
/// memory or, at most once per period and schedule, from Redis. Once a schedule is sold out its WAITING and
/// ACTIVE tokens are ended (EXPIRED, audited as usual) in batches, so nobody holds an ACTIVE place for
/// nothing and admission has nobody left to admit. Holds are still judged by the database alone.
class SoldOut : public std::enable_shared_from_this<SoldOut> {
  public:
    /// `metrics` may be null (tests); the verdict stays in Redis for the room's ended TTL.
    SoldOut(redis::Client& redis, db::Pool& db, std::shared_ptr<WaitingRoom> room,
            std::chrono::milliseconds period, core::MetricsRegistry* metrics);

    /// This process's view, without I/O (nullopt: nothing known yet).
    std::optional<SoldOutView> known(std::int64_t schedule_id) const;
    /// Whether the schedule is sold out: from memory, else from Redis at most once per period.
    boost::asio::awaitable<bool> sold_out(std::int64_t schedule_id);
    /// Adds `soldOut` (and `soldOutZones`) to a queue body from memory; a WAITING body's `pollAfterMs` is
    /// capped by poll_cap_ms(), so the fans ask again about when the sale may be over and hear the end
    /// quickly.
    void annotate(boost::json::object& body, std::int64_t schedule_id) const;
    /// Sleeps `pause`, waking early (within a slice) once this process knows the schedule is sold out.
    boost::asio::awaitable<void> sleep(std::int64_t schedule_id, std::chrono::milliseconds pause) const;

    /// Counts the schedule's seats in PostgreSQL and publishes the verdict to Redis and memory.
    boost::asio::awaitable<SoldOutView> check(std::int64_t schedule_id);
    /// Ends up to `batch` WAITING, then ACTIVE tokens of the schedule; returns {ended, left}.
    boost::asio::awaitable<std::pair<std::int64_t, std::int64_t>> drain(std::int64_t schedule_id,
                                                                        std::int64_t batch);
    /// One pass over the waiting room's schedules: read the verdicts, check (one process), drain.
    boost::asio::awaitable<void> tick();

    void start(const boost::asio::any_io_executor& executor);
    void stop() noexcept { stopping_ = true; }

  private:
    struct Entry {
        SoldOutView view;
        std::chrono::steady_clock::time_point read_at{};
    };
    boost::asio::awaitable<SoldOutView> read(std::int64_t schedule_id);
    void remember(std::int64_t schedule_id, const SoldOutView& view);
    boost::asio::awaitable<void> run();

    redis::Client& redis_;
    db::Pool& db_;
    std::shared_ptr<WaitingRoom> room_;
    std::chrono::milliseconds period_;
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, Entry> views_;
    std::atomic<bool> stopping_{false};
    core::Counter* sold_out_total_ = nullptr;
    core::Counter* drained_total_ = nullptr;
    core::Counter* checks_total_ = nullptr;
};

}  // namespace marquee::queue
