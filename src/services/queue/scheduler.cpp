#include "services/queue/scheduler.hpp"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "db/sql_error.hpp"
#include "services/queue/store.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kAuditBatch = 500;
constexpr int kAuditBatchesPerTick = 20;
}  // namespace

Scheduler::Scheduler(std::shared_ptr<WaitingRoom> room, std::shared_ptr<Store> store,
                     core::MetricsRegistry* metrics)
    : room_(std::move(room)), store_(std::move(store)) {
    if (metrics == nullptr) return;
    // Totals only: a label per schedule would grow without bound.
    admitted_total_ =
        &metrics->counter("queue_admitted_total", "Queue tokens admitted (WAITING to ACTIVE)").with({});
    expired_total_ =
        &metrics->counter("queue_expired_total", "Queue tokens expired by the scheduler").with({});
    waiting_ = &metrics->gauge("queue_waiting", "WAITING queue tokens over all schedules, at the last tick")
                    .with({});
    active_ =
        &metrics->gauge("queue_active", "ACTIVE queue tokens over all schedules, at the last tick").with({});
}

asio::awaitable<TickReport> Scheduler::tick() {
    TickReport report;
    const std::vector<std::int64_t> schedules = co_await room_->schedules();
    for (const std::int64_t schedule_id : schedules) {
        const AdmitStep step = co_await room_->admit(schedule_id);
        ++report.schedules;
        report.admitted += step.admitted;
        report.expired += step.expired;
        report.waiting += step.waiting;
        report.active += step.active;
        const std::int64_t audited = co_await write_audit(schedule_id);
        report.audited += audited;
        if (step.waiting == 0 && step.active == 0 && audited >= 0) {
            co_await room_->try_forget(schedule_id, step.sequence);
        }
    }
    if (admitted_total_ != nullptr) {
        admitted_total_->inc(static_cast<std::uint64_t>(report.admitted));
        expired_total_->inc(static_cast<std::uint64_t>(report.expired));
        waiting_->set(static_cast<double>(report.waiting));
        active_->set(static_cast<double>(report.active));
    }
    co_return report;
}

// Returns the events written, or -1 when PostgreSQL refused them (they are back in Redis then).
asio::awaitable<std::int64_t> Scheduler::write_audit(std::int64_t schedule_id) {
    std::int64_t written = 0;
    for (int batch = 0; batch < kAuditBatchesPerTick; ++batch) {
        std::vector<std::string> events = co_await room_->pop_audit(schedule_id, kAuditBatch);
        if (events.empty()) break;
        const bool last = events.size() < kAuditBatch;
        std::vector<AuditRecord> records;
        records.reserve(events.size());
        for (const auto& event : events) {
            if (auto record = parse_audit_event(event)) records.push_back(std::move(*record));
        }
        bool refused = false;
        try {
            std::vector<AuditRecord> merged = merge_batch(std::move(records));
            co_await store_->record(std::move(merged));
            written += static_cast<std::int64_t>(events.size());
        } catch (const core::Problem& problem) {
            // PostgreSQL down or slow: keep the events for the next tick.
            core::log_warn("queue audit deferred",
                           {{"schedule_id", schedule_id}, {"error", problem.detail()}});
            refused = true;
        } catch (const db::SqlError& error) {
            // A batch the table refuses (e.g. a user id that is not a uuid) would be refused forever:
            // log it and drop it rather than block the schedule's audit.
            core::log_error(
                "queue audit dropped",
                {{"schedule_id", schedule_id}, {"events", events.size()}, {"error", error.what()}});
        }
        if (refused) {
            co_await room_->push_back_audit(schedule_id, std::move(events));
            co_return -1;
        }
        if (last) break;
    }
    co_return written;
}

void Scheduler::start(asio::any_io_executor executor) {
    asio::co_spawn(
        std::move(executor), [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> Scheduler::run() {
    auto keep = shared_from_this();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopping_) {
        const auto started = std::chrono::steady_clock::now();
        // Each tick has a trace of its own, so the lines one admission pass logs can be read together.
        const auto context =
            core::make_log_context(core::TraceContext::start(), {{"job", "queue-admission"}});
        const auto traced = core::with_log_context(timer.get_executor(), context);
        try {
            auto pass = tick();
            co_await asio::co_spawn(traced, std::move(pass), asio::use_awaitable);
        } catch (const std::exception& e) {
            // Redis down: try again next tick; the queue's HTTP calls answer 503 meanwhile.
            const core::LogContextScope scope(context);
            core::log_warn("queue scheduler tick failed", {{"error", e.what()}});
        }
        timer.expires_at(started + room_->settings().tick);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace marquee::queue
