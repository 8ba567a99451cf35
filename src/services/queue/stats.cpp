#include "services/queue/stats.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "db/pool.hpp"
#include "loop/run_every.hpp"
#include "redis/client.hpp"
#include "redis/reply.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// One scan of the schedule's rows in queue.queue_tokens (queue_tokens_schedule_user_idx). Waits are join ->
// admission, over every admitted token of the schedule; the table lags Redis by an admission tick.
constexpr const char* kQueueFigures = R"sql(
SELECT count(*) FILTER (WHERE state = 'PRE_QUEUE') AS pre_queued,
       count(*) FILTER (WHERE admitted_at > now() - interval '1 minute') AS admitted_last_minute,
       count(*) FILTER (WHERE admitted_at IS NOT NULL) AS admitted,
       count(*) FILTER (WHERE state = 'EXPIRED' AND admitted_at IS NULL) AS expired_waiting,
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM admitted_at - issued_at))
                FILTER (WHERE admitted_at IS NOT NULL), 0)::float8 AS p50,
       coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM admitted_at - issued_at))
                FILTER (WHERE admitted_at IS NOT NULL), 0)::float8 AS p95
  FROM queue.queue_tokens
 WHERE schedule_id = $1
)sql";

constexpr const char* kSaleFigures =
    "SELECT fans_held, fans_paid, holds_expired FROM booking.sale_counts($1)";

constexpr const char* kSeatsLeft = R"sql(
SELECT z.zone_id, z.name, greatest(z.seats - coalesce(b.live, 0), 0)::bigint AS seats_left
  FROM catalog.zone_seat_counts($1) z
  LEFT JOIN booking.seat_counts_by_zone($1) b ON b.zone_id = z.zone_id
 ORDER BY z.zone_id
)sql";

}  // namespace

json::object to_json(const ScheduleStats& s) {
    json::array zones;
    for (const ZoneLeft& z : s.seats_left) {
        zones.push_back(json::object{{"zoneId", z.zone_id}, {"name", z.name}, {"left", z.left}});
    }
    return json::object{
        {"waiting", s.waiting},
        {"preQueued", s.pre_queued},
        {"active", s.active},
        {"admittedPerMinute", s.admitted_per_minute},
        {"waitSeconds", json::object{{"p50", s.wait_p50}, {"p95", s.wait_p95}}},
        {"abandoned", json::object{{"tokensExpiredWaiting", s.tokens_expired_waiting},
                                   {"holdsExpiredUnpaid", s.holds_expired_unpaid}}},
        {"conversion", json::object{{"admitted", s.admitted}, {"held", s.held}, {"paid", s.paid}}},
        {"seatsLeftByZone", std::move(zones)}};
}

Stats::Stats(db::Pool& db, redis::Client& redis, std::shared_ptr<WaitingRoom> room,
             core::MetricsRegistry* metrics, std::chrono::milliseconds period)
    : db_(db), redis_(redis), room_(std::move(room)), period_(period) {
    if (metrics == nullptr) return;
    // Each registered by name here so that scripts/check-deploy finds the names the dashboard uses.
    families_["queue_schedule_waiting"] =
        &metrics->gauge("queue_schedule_waiting", "WAITING queue tokens of a live schedule");
    families_["queue_schedule_pre_queued"] =
        &metrics->gauge("queue_schedule_pre_queued", "PRE_QUEUE queue tokens of a live schedule");
    families_["queue_schedule_active"] =
        &metrics->gauge("queue_schedule_active", "ACTIVE queue tokens of a live schedule");
    families_["queue_schedule_admitted_per_minute"] = &metrics->gauge(
        "queue_schedule_admitted_per_minute", "Queue tokens of a live schedule admitted in the last minute");
    families_["queue_schedule_wait_seconds"] =
        &metrics->gauge("queue_schedule_wait_seconds",
                        "Join-to-admission wait of a live schedule's admitted tokens, by quantile");
    families_["queue_schedule_abandoned"] = &metrics->gauge(
        "queue_schedule_abandoned",
        "Abandonment of a live schedule: tokens expired while WAITING, holds expired unpaid (kind)");
    families_["queue_schedule_conversion"] = &metrics->gauge(
        "queue_schedule_conversion", "Fans of a live schedule admitted, with a hold, and paid (stage)");
    families_["queue_schedule_seats_left"] = &metrics->gauge(
        "queue_schedule_seats_left", "Seats neither held nor sold of a live schedule, by zone");
}

asio::awaitable<ScheduleStats> Stats::read(std::int64_t schedule_id) {
    ScheduleStats s;
    const std::string prefix = key_prefix(schedule_id);
    std::vector<std::vector<std::string>> counts{{"ZCARD", prefix + "waiting"}, {"ZCARD", prefix + "active"}};
    const std::vector<redis::Reply> replies = co_await redis_.pipeline(std::move(counts));
    s.waiting = replies.at(0).or_throw().as_integer();
    s.active = replies.at(1).or_throw().as_integer();

    const db::Result q = co_await db_.query(kQueueFigures, db::params(schedule_id));
    s.pre_queued = q.get<std::int64_t>(0, "pre_queued");
    s.admitted_per_minute = q.get<std::int64_t>(0, "admitted_last_minute");
    s.admitted = q.get<std::int64_t>(0, "admitted");
    s.tokens_expired_waiting = q.get<std::int64_t>(0, "expired_waiting");
    s.wait_p50 = q.get<double>(0, "p50");
    s.wait_p95 = q.get<double>(0, "p95");

    const db::Result b = co_await db_.query(kSaleFigures, db::params(schedule_id));
    s.held = b.get<std::int64_t>(0, "fans_held");
    s.paid = b.get<std::int64_t>(0, "fans_paid");
    s.holds_expired_unpaid = b.get<std::int64_t>(0, "holds_expired");

    const db::Result z = co_await db_.query(kSeatsLeft, db::params(schedule_id));
    for (int i = 0; i < z.rows(); ++i) {
        s.seats_left.push_back({z.get<std::int64_t>(i, "zone_id"), z.get<std::string>(i, "name"),
                                z.get<std::int64_t>(i, "seats_left")});
    }
    co_return s;
}

core::Family<core::Gauge>* Stats::family(const std::string& name) const {
    const auto it = families_.find(name);
    return it == families_.end() ? nullptr : it->second;
}

void Stats::set(std::int64_t schedule_id, const ScheduleStats& s) {
    if (families_.empty()) return;
    const std::string schedule = std::to_string(schedule_id);
    std::vector<Series> now;
    const auto put = [&](const char* name, core::Labels labels, double value) {
        labels.insert(labels.begin(), {"schedule", schedule});
        core::Family<core::Gauge>* f = family(name);
        f->with(labels).set(value);
        now.push_back({f, std::move(labels)});
    };
    put("queue_schedule_waiting", {}, static_cast<double>(s.waiting));
    put("queue_schedule_pre_queued", {}, static_cast<double>(s.pre_queued));
    put("queue_schedule_active", {}, static_cast<double>(s.active));
    put("queue_schedule_admitted_per_minute", {}, static_cast<double>(s.admitted_per_minute));
    put("queue_schedule_wait_seconds", {{"quantile", "0.5"}}, s.wait_p50);
    put("queue_schedule_wait_seconds", {{"quantile", "0.95"}}, s.wait_p95);
    put("queue_schedule_abandoned", {{"kind", "tokens_expired_waiting"}},
        static_cast<double>(s.tokens_expired_waiting));
    put("queue_schedule_abandoned", {{"kind", "holds_expired_unpaid"}},
        static_cast<double>(s.holds_expired_unpaid));
    put("queue_schedule_conversion", {{"stage", "admitted"}}, static_cast<double>(s.admitted));
    put("queue_schedule_conversion", {{"stage", "held"}}, static_cast<double>(s.held));
    put("queue_schedule_conversion", {{"stage", "paid"}}, static_cast<double>(s.paid));
    for (const ZoneLeft& z : s.seats_left) {
        put("queue_schedule_seats_left", {{"zone", std::to_string(z.zone_id)}}, static_cast<double>(z.left));
    }
    // A series the schedule had and no longer has (a zone gone) is removed.
    std::vector<Series>& before = exported_[schedule_id];
    for (const Series& old : before) {
        const bool kept = std::any_of(now.begin(), now.end(), [&](const Series& n) {
            return n.family == old.family && n.labels == old.labels;
        });
        if (!kept) old.family->remove(old.labels);
    }
    before = std::move(now);
}

void Stats::drop(std::int64_t schedule_id) {
    const auto it = exported_.find(schedule_id);
    if (it == exported_.end()) return;
    for (const Series& series : it->second) series.family->remove(series.labels);
    exported_.erase(it);
}

asio::awaitable<std::size_t> Stats::export_once() {
    const std::vector<std::int64_t> live = co_await room_->schedules();
    std::vector<std::int64_t> gone;
    for (const auto& [schedule_id, series] : exported_) {
        if (std::find(live.begin(), live.end(), schedule_id) == live.end()) gone.push_back(schedule_id);
    }
    for (const std::int64_t schedule_id : gone) drop(schedule_id);
    std::size_t exported = 0;
    for (const std::int64_t schedule_id : live) {
        set(schedule_id, co_await read(schedule_id));
        ++exported;
    }
    co_return exported;
}

void Stats::start(const asio::any_io_executor& executor) {
    asio::co_spawn(
        executor, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> Stats::run() {
    auto keep = shared_from_this();
    co_await loop::run_every(
        stopping_, [this] { return period_; }, [this]() -> asio::awaitable<void> { co_await export_once(); },
        loop::warn("queue stats export failed"));
}

}  // namespace marquee::queue
