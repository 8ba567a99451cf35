#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

namespace marquee::core {
class MetricsRegistry;
template <typename Metric>
class Family;
class Gauge;
}  // namespace marquee::core
namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::queue {

class WaitingRoom;

struct ZoneLeft {
    std::int64_t zone_id = 0;
    std::string name;
    std::int64_t left = 0;
};

/// A schedule's queue and sale figures (issue 17, ADR 0027; api/openapi.yaml, ScheduleStats).
struct ScheduleStats {
    std::int64_t waiting = 0;              ///< Redis, now
    std::int64_t pre_queued = 0;           ///< queue.queue_tokens in PRE_QUEUE
    std::int64_t active = 0;               ///< Redis, now
    std::int64_t admitted_per_minute = 0;  ///< tokens admitted in the last 60 s
    double wait_p50 = 0;  ///< seconds from join to admission, over the schedule's admitted tokens
    double wait_p95 = 0;
    std::int64_t tokens_expired_waiting = 0;  ///< EXPIRED without ever being admitted
    std::int64_t holds_expired_unpaid = 0;    ///< reservations that ended EXPIRED
    std::int64_t admitted = 0;                ///< fans admitted (tokens that became ACTIVE)
    std::int64_t held = 0;                    ///< fans with at least one hold
    std::int64_t paid = 0;                    ///< fans with at least one confirmed reservation
    std::vector<ZoneLeft> seats_left;
};

boost::json::object to_json(const ScheduleStats& stats);

/// Reads the figures (one Redis pipeline, three PostgreSQL reads through queue's table and booking's and
/// catalog's doors) and, every `period`, exports them as gauges labelled by schedule for the schedules in the
/// waiting room's scan set: a schedule that leaves it (its sale over) loses its series.
class Stats : public std::enable_shared_from_this<Stats> {
  public:
    /// `metrics` may be null (tests).
    Stats(db::Pool& db, redis::Client& redis, std::shared_ptr<WaitingRoom> room,
          core::MetricsRegistry* metrics, std::chrono::milliseconds period = std::chrono::seconds(10));

    boost::asio::awaitable<ScheduleStats> read(std::int64_t schedule_id);
    /// One export pass; returns the schedules exported.
    boost::asio::awaitable<std::size_t> export_once();

    void start(const boost::asio::any_io_executor& executor);
    void stop() noexcept { stopping_ = true; }

  private:
    boost::asio::awaitable<void> run();
    void set(std::int64_t schedule_id, const ScheduleStats& stats);
    void drop(std::int64_t schedule_id);
    core::Family<core::Gauge>* family(const std::string& name) const;

    db::Pool& db_;
    redis::Client& redis_;
    std::shared_ptr<WaitingRoom> room_;
    std::chrono::milliseconds period_;
    std::atomic<bool> stopping_{false};
    struct Series {
        core::Family<core::Gauge>* family;
        std::vector<std::pair<std::string, std::string>> labels;
    };
    std::map<std::string, core::Family<core::Gauge>*> families_;  ///< by metric name
    std::map<std::int64_t, std::vector<Series>> exported_;  ///< schedule -> its series (export loop only)
};

}  // namespace marquee::queue
