#include "services/queue/controls.hpp"

#include <exception>
#include <functional>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "db/pool.hpp"
#include "loop/run_every.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// Every PATCH takes this transaction-level advisory lock before drawing its version, so versions commit in
// the order they are drawn and a poll that saw version v has seen every version below it.
constexpr std::int64_t kChangeLock = 0x6d7167636f6e7472;  // "mqgcontr"

constexpr const char* kColumns =
    "schedule_id, paused, admits_per_minute, max_active, queue_everyone, sales_closed, "
    "hold_extension_seconds, pow_difficulty, version";

ScheduleControls from_row(const db::Result& r, int row) {
    ScheduleControls c;
    c.paused = r.get<bool>(row, "paused");
    c.admits_per_minute = r.get<std::optional<std::int32_t>>(row, "admits_per_minute");
    c.max_active = r.get<std::optional<std::int32_t>>(row, "max_active");
    c.queue_everyone = r.get<bool>(row, "queue_everyone");
    c.sales_closed = r.get<bool>(row, "sales_closed");
    c.hold_extension_seconds = r.get<std::int32_t>(row, "hold_extension_seconds");
    c.pow_difficulty = r.get<std::optional<std::int32_t>>(row, "pow_difficulty");
    return c;
}

}  // namespace

Controls::Controls(db::Pool& db, core::MetricsRegistry* metrics, std::chrono::milliseconds poll)
    : db_(db), poll_(poll) {
    if (metrics == nullptr) return;
    auto& changes = metrics->counter("queue_control_changes_total",
                                     "Operator control changes this process made, by field (ADR 0027)");
    for (const char* field : kControlFields) changes_[field] = &changes.with({{"field", field}});
    // One series per controlled schedule and control; a schedule back at every default drops its series.
    gauges_ = &metrics->gauge("queue_control_value",
                              "An operator control's value per schedule (booleans 0/1, automatic 0), as this "
                              "process applies it");
}

ScheduleControls Controls::get(std::int64_t schedule_id) const {
    std::lock_guard lock(mutex_);
    const auto it = copy_.find(schedule_id);
    return it == copy_.end() ? ScheduleControls{} : it->second;
}

void Controls::on_pause_change(std::function<void(std::int64_t)> listener) {
    std::lock_guard lock(mutex_);
    pause_listeners_.push_back(std::move(listener));
}

void Controls::remember(std::int64_t schedule_id, const ScheduleControls& controls, std::int64_t version) {
    std::vector<std::function<void(std::int64_t)>> listeners;
    {
        std::lock_guard lock(mutex_);
        const auto it = copy_.find(schedule_id);
        const bool was_paused = it != copy_.end() && it->second.paused;
        if (was_paused != controls.paused) listeners = pause_listeners_;
        if (controls == ScheduleControls{}) {
            copy_.erase(schedule_id);
        } else {
            copy_[schedule_id] = controls;
        }
        if (version > seen_version_) seen_version_ = version;
    }
    export_gauges(schedule_id, controls);
    for (const auto& listener : listeners) listener(schedule_id);
}

void Controls::export_gauges(std::int64_t schedule_id, const ScheduleControls& c) {
    if (gauges_ == nullptr) return;
    const std::string schedule = std::to_string(schedule_id);
    const std::pair<const char*, double> values[] = {
        {"paused", c.paused ? 1 : 0},
        {"admitsPerMinute", static_cast<double>(c.admits_per_minute.value_or(0))},
        {"maxActive", static_cast<double>(c.max_active.value_or(0))},
        {"queueEveryone", c.queue_everyone ? 1 : 0},
        {"salesClosed", c.sales_closed ? 1 : 0},
        {"holdExtensionSeconds", static_cast<double>(c.hold_extension_seconds)},
        {"powDifficulty", static_cast<double>(c.pow_difficulty.value_or(0))}};
    const bool defaults = c == ScheduleControls{};
    for (const auto& [field, value] : values) {
        const core::Labels labels{{"schedule", schedule}, {"control", field}};
        if (defaults) {
            gauges_->remove(labels);
        } else {
            gauges_->with(labels).set(value);
        }
    }
}

asio::awaitable<ScheduleControls> Controls::read(std::int64_t schedule_id) {
    const db::Result r = co_await db_.query(
        std::string("SELECT ") + kColumns + " FROM queue.schedule_controls WHERE schedule_id = $1",
        db::params(schedule_id));
    co_return r.empty() ? ScheduleControls{} : from_row(r, 0);
}

asio::awaitable<ScheduleControls> Controls::change(std::int64_t schedule_id, std::string actor,
                                                   ControlsPatch patch) {
    struct Outcome {
        ScheduleControls after;
        std::vector<ControlChange> changes;
        std::int64_t version = 0;
    };
    const Outcome outcome = co_await db_.transaction([&](db::Transaction& tx) -> asio::awaitable<Outcome> {
        co_await tx.query("SELECT pg_advisory_xact_lock($1)", db::params(kChangeLock));
        const db::Result row = co_await tx.query(
            std::string("SELECT ") + kColumns + " FROM queue.schedule_controls WHERE schedule_id = $1",
            db::params(schedule_id));
        const ScheduleControls before = row.empty() ? ScheduleControls{} : from_row(row, 0);
        Outcome out;
        out.after = apply_patch(before, patch);
        out.changes = diff_controls(before, out.after);
        if (out.changes.empty()) co_return out;
        const ScheduleControls& a = out.after;
        const db::Result written = co_await tx.query(
            "INSERT INTO queue.schedule_controls AS c (schedule_id, paused, admits_per_minute, max_active, "
            "queue_everyone, sales_closed, hold_extension_seconds, pow_difficulty, version, updated_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nextval('queue.schedule_controls_version'), $9::uuid) "
            "ON CONFLICT (schedule_id) DO UPDATE SET paused = EXCLUDED.paused, "
            "admits_per_minute = EXCLUDED.admits_per_minute, max_active = EXCLUDED.max_active, "
            "queue_everyone = EXCLUDED.queue_everyone, sales_closed = EXCLUDED.sales_closed, "
            "hold_extension_seconds = EXCLUDED.hold_extension_seconds, "
            "pow_difficulty = EXCLUDED.pow_difficulty, version = EXCLUDED.version, updated_at = now(), "
            "updated_by = EXCLUDED.updated_by RETURNING version",
            db::params(schedule_id, a.paused, a.admits_per_minute, a.max_active, a.queue_everyone,
                       a.sales_closed, a.hold_extension_seconds, a.pow_difficulty, actor));
        out.version = written.get<std::int64_t>(0, "version");
        json::array rows;
        for (const ControlChange& change : out.changes) {
            rows.push_back(json::object{{"field", change.field},
                                        {"before", json::serialize(change.before)},
                                        {"after", json::serialize(change.after)}});
        }
        co_await tx.query(
            "INSERT INTO queue.control_audit (schedule_id, actor, field, before, after) "
            "SELECT $1, $2::uuid, r.field, r.before::jsonb, r.after::jsonb "
            "FROM jsonb_to_recordset($3::jsonb) AS r(field text, before text, after text)",
            db::params(schedule_id, actor, json::serialize(rows)));
        // Payments degraded: the live holds get the added seconds now; new holds get them from booking's
        // copy of the controls (ADR 0027). A smaller extension leaves the live holds as they are.
        const int added = a.hold_extension_seconds - before.hold_extension_seconds;
        if (added > 0) {
            co_await tx.query("SELECT booking.extend_holds($1, $2)", db::params(schedule_id, added));
        }
        co_return out;
    });
    if (!outcome.changes.empty()) {
        remember(schedule_id, outcome.after, outcome.version);
        for (const ControlChange& change : outcome.changes) {
            if (const auto it = changes_.find(change.field); it != changes_.end()) it->second->inc();
            core::log_info("queue control changed", {{"schedule_id", schedule_id},
                                                     {"actor", actor},
                                                     {"field", change.field},
                                                     {"before", json::serialize(change.before)},
                                                     {"after", json::serialize(change.after)}});
        }
    }
    co_return outcome.after;
}

asio::awaitable<std::vector<ControlAudit>> Controls::audit(std::int64_t schedule_id, int limit) {
    const db::Result r = co_await db_.query(
        "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at, actor::text AS "
        "actor, "
        "field, before::text AS before, after::text AS after FROM queue.control_audit "
        "WHERE schedule_id = $1 ORDER BY id DESC LIMIT $2",
        db::params(schedule_id, limit));
    std::vector<ControlAudit> rows;
    rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        rows.push_back({r.get<std::string>(i, "at"), r.get<std::string>(i, "actor"),
                        r.get<std::string>(i, "field"), json::parse(r.get<std::string>(i, "before")),
                        json::parse(r.get<std::string>(i, "after"))});
    }
    co_return rows;
}

asio::awaitable<std::size_t> Controls::refresh() {
    std::int64_t seen = 0;
    {
        std::lock_guard lock(mutex_);
        seen = seen_version_;
    }
    const db::Result r =
        co_await db_.query(std::string("SELECT ") + kColumns +
                               " FROM queue.schedule_controls WHERE version > $1 ORDER BY version",
                           db::params(seen));
    for (int i = 0; i < r.rows(); ++i) {
        remember(r.get<std::int64_t>(i, "schedule_id"), from_row(r, i), r.get<std::int64_t>(i, "version"));
    }
    co_return static_cast<std::size_t>(r.rows());
}

void Controls::start(const asio::any_io_executor& executor) {
    if (started_.exchange(true)) return;
    asio::co_spawn(
        executor, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> Controls::run() {
    auto keep = shared_from_this();
    // PostgreSQL away: the copy stays as it was (the last controls seen keep applying).
    co_await loop::run_every(
        stopping_, [this] { return poll_; }, [this]() -> asio::awaitable<void> { co_await refresh(); },
        loop::warn("queue controls refresh failed"));
}

}  // namespace marquee::queue
