#include "services/queue/scheduler.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "db/sql_error.hpp"
#include "loop/run_every.hpp"
#include "services/queue/admission.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/model.hpp"
#include "services/queue/opening.hpp"
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
                     core::MetricsRegistry* metrics, PressureSource pressure, CapacitySource capacity)
    : room_(std::move(room)),
      store_(std::move(store)),
      pressure_(std::move(pressure)),
      capacity_(std::move(capacity)) {
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
    bound_ =
        &metrics
             ->gauge("queue_admission_bound",
                     "ACTIVE bound in force for the schedule with the most WAITING and ACTIVE tokens, at "
                     "the last tick (automatic or fixed)")
             .with({});
    rate_ =
        &metrics
             ->gauge("queue_admission_rate",
                     "Admits per second in force for the schedule with the most WAITING and ACTIVE tokens, "
                     "at the last tick")
             .with({});
    purchase_seconds_ = &metrics
                             ->gauge("queue_purchase_seconds",
                                     "Mean purchase time (first passed queue-token check to USED) of the "
                                     "last automatic-admission "
                                     "step this process took")
                             .with({});
    handover_seconds_ = &metrics
                             ->gauge("queue_admission_handover_seconds",
                                     "PostgreSQL pool's time between hand-overs to queued callers that the "
                                     "last automatic-admission step this process took used (ADR 0045)")
                             .with({});
    capped_total_ = &metrics
                         ->counter("queue_admission_capped_total",
                                   "Automatic-admission slow starts this process stopped at the pool's "
                                   "capacity (ADR 0045)")
                         .with({});
    auto& steps = metrics->counter("queue_admission_steps_total",
                                   "Automatic-admission controller steps this process stored, by move");
    for (const AdmissionMove move :
         {AdmissionMove::Start, AdmissionMove::Hold, AdmissionMove::Increase, AdmissionMove::Decrease}) {
        const std::string name(to_string(move));
        steps_[name] = &steps.with({{"move", name}});
    }
}

asio::awaitable<void> Scheduler::open_beside(std::shared_ptr<Opener> opener,
                                             std::shared_ptr<Openings> openings, std::int64_t schedule_id,
                                             std::int64_t now_ms) {
    try {
        co_await opener->open_if_due(schedule_id, now_ms);
    } catch (const std::exception& e) {
        core::log_warn("queue pre-queue opening failed", {{"schedule_id", schedule_id}, {"error", e.what()}});
    }
    const std::lock_guard lock(openings->mutex);
    openings->running.erase(schedule_id);
}

asio::awaitable<TickReport> Scheduler::tick() {
    TickReport report;
    std::int64_t busiest = -1;
    const std::vector<std::int64_t> schedules = co_await room_->schedules();
    for (const std::int64_t schedule_id : schedules) {
        const ScheduleControls controls = controls_ ? controls_->get(schedule_id) : ScheduleControls{};
        const AdmitStep step = co_await room_->admit(schedule_id, controls);
        ++report.schedules;
        report.admitted += step.admitted;
        report.expired += step.expired;
        report.waiting += step.waiting;
        report.active += step.active;
        // The gauges show the busiest schedule's bound and rate (a sum over every schedule would mean
        // nothing, and a label per schedule would grow without bound).
        if (step.waiting + step.active >= busiest) {
            busiest = step.waiting + step.active;
            report.bound = step.bound;
            report.rate = step.rate;
        }
        if (step.automatic) {
            try {
                if (co_await control(schedule_id, step, controls.max_active)) ++report.steps;
            } catch (const core::Problem& problem) {
                core::log_warn("queue admission step failed",
                               {{"schedule_id", schedule_id}, {"error", problem.detail()}});
            }
        }
        // ADR 0026: a pre-queue whose opening has come is shuffled once (one process wins; see opening.hpp).
        // ADR 0033: beside the ticks (one at a time per schedule in this process), so that the next ticks
        // admit the lowest places while the opening still moves the others.
        if (step.pre_queued > 0 && opener_) {
            bool start = false;
            {
                const std::lock_guard lock(openings_->mutex);
                start = openings_->running.insert(schedule_id).second;
            }
            if (start) {
                asio::co_spawn(co_await asio::this_coro::executor,
                               open_beside(opener_, openings_, schedule_id, step.now), asio::detached);
            }
        }
        const std::int64_t audited = co_await write_audit(schedule_id);
        report.audited += audited;
        if (step.waiting == 0 && step.active == 0 && step.pre_queued == 0 && audited >= 0) {
            co_await room_->try_forget(schedule_id, step.sequence);
        }
    }
    if (admitted_total_ != nullptr) {
        admitted_total_->inc(static_cast<std::uint64_t>(report.admitted));
        expired_total_->inc(static_cast<std::uint64_t>(report.expired));
        waiting_->set(static_cast<double>(report.waiting));
        active_->set(static_cast<double>(report.active));
        bound_->set(static_cast<double>(report.bound));
        rate_->set(report.rate);
    }
    co_return report;
}

// The automatic-admission step of one schedule, when due: the controller (pure) on the counters the admit
// script returned, stored with a compare-and-set so that of several schedulers exactly one step counts.
asio::awaitable<bool> Scheduler::control(std::int64_t schedule_id, const AdmitStep& step,
                                         std::optional<int> fixed_bound) {
    const Settings& settings = room_->settings();
    AdmissionLimits limits = settings.admission;
    if (fixed_bound) {
        // ADR 0027: an operator's max ACTIVE of this schedule; the controller works with it.
        limits.floor = limits.ceiling = limits.start = static_cast<unsigned>(std::max(*fixed_bound, 1));
    } else if (!settings.auto_max_active) {
        // Only the rate is automatic: the controller works with the operator's bound.
        limits.floor = limits.ceiling = limits.start = std::max(settings.max_active, 1u);
    }
    if (!admission_due(step.admission, step.now, limits)) co_return false;
    AdmissionSample sample;
    sample.now = step.now;
    sample.used = step.used;
    sample.busy_ms = step.busy_ms;
    sample.active_ms = step.active_ms;
    sample.waiting = step.waiting;
    sample.active = step.active;
    const std::uint64_t total = pressure_ ? pressure_() : 0;
    const auto [seen, first] = pressure_seen_.try_emplace(schedule_id, total);
    sample.shed = !first && total > seen->second ? total - seen->second : 0;
    sample.handover_ms = capacity_ ? capacity_() : 0.0;
    const AdmissionDecision decision = admission_step(step.admission, sample, limits, settings.law);
    const bool saved = co_await room_->save_admission(schedule_id, step.at_text, decision.next);
    if (!saved) co_return false;
    seen->second = total;
    if (pressure_seen_.size() > 10'000) pressure_seen_.clear();  // bounded; a lost baseline costs one step
    if (const auto it = steps_.find(std::string(to_string(decision.move))); it != steps_.end()) {
        it->second->inc();
    }
    if (purchase_seconds_ != nullptr && decision.purchase_ms > 0) {
        purchase_seconds_->set(decision.purchase_ms / 1000.0);
    }
    if (handover_seconds_ != nullptr) handover_seconds_->set(decision.next.handover_ms / 1000.0);
    if (capped_total_ != nullptr && decision.capped) capped_total_->inc();
    core::log_debug("queue admission step", {{"schedule_id", schedule_id},
                                             {"move", std::string(to_string(decision.move))},
                                             {"bound", decision.next.bound},
                                             {"rate", decision.next.rate},
                                             {"purchase_ms", decision.purchase_ms},
                                             {"base_ms", decision.next.base_ms},
                                             {"purchases_per_s", decision.next.throughput},
                                             {"waiting", step.waiting},
                                             {"active", step.active},
                                             {"shed", sample.shed},
                                             {"handover_ms", decision.next.handover_ms},
                                             {"pool_cap", decision.pool_cap},
                                             {"capped", decision.capped}});
    co_return true;
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

void Scheduler::start(const asio::any_io_executor& executor) {
    asio::co_spawn(
        executor, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> Scheduler::run() {
    auto keep = shared_from_this();
    const auto executor = co_await asio::this_coro::executor;
    // Each tick has a trace of its own, so the lines one admission pass logs can be read together.
    std::shared_ptr<const core::LogContext> context;
    co_await loop::run_every(
        stopping_, [this] { return room_->settings().tick; },
        [this, &executor, &context]() -> asio::awaitable<void> {
            context = core::make_log_context(core::TraceContext::start(), {{"job", "queue-admission"}});
            auto pass = tick();
            co_await asio::co_spawn(core::with_log_context(executor, context), std::move(pass),
                                    asio::use_awaitable);
        },
        [&context](const std::exception& e) {
            // Redis down: try again next tick; the queue's HTTP calls answer 503 meanwhile.
            const core::LogContextScope scope(context);
            core::log_warn("queue scheduler tick failed", {{"error", e.what()}});
        });
}

}  // namespace marquee::queue
