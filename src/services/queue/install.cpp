#include "services/queue/install.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#include "db/pool.hpp"
#include "services/queue/join_line.hpp"
#include "services/queue/opening.hpp"
#include "services/queue/pow.hpp"
#include "services/queue/recovery.hpp"
#include "services/queue/secret.hpp"

namespace marquee::queue {

Installed::~Installed() {
    // The loop holds its own reference; tell it to end after its current pass.
    if (scheduler) scheduler->stop();
    if (sold_out) sold_out->stop();
    if (room) room->stop_memory();
    if (stats) stats->stop();
    // The copy's poll ends too; a booking service in this process keeps reading the last copy (shutdown
    // only).
    if (controls) controls->stop();
}

std::shared_ptr<Controls> shared_controls(db::Pool& db, core::MetricsRegistry& metrics,
                                          const boost::asio::any_io_executor& executor) {
    static std::mutex mutex;
    static std::map<db::Pool*, std::weak_ptr<Controls>> copies;
    std::lock_guard lock(mutex);
    if (auto existing = copies[&db].lock()) return existing;
    auto controls = std::make_shared<Controls>(db, &metrics);
    controls->start(executor);
    copies[&db] = controls;
    return controls;
}

namespace {

/// The operators' per-schedule proof-of-work difficulty (ADR 0027), from the copy every replica keeps.
boost::asio::awaitable<std::optional<int>> pow_difficulty_of(std::shared_ptr<Controls> controls,
                                                             std::int64_t schedule_id) {
    co_return controls->get(schedule_id).pow_difficulty;
}

}  // namespace

Settings settings_from(const core::Config& config) {
    Settings settings;
    // An operator's fixed number wins; otherwise the controller sizes it (ADR 0016).
    settings.auto_admit_rate = !config.queue_admit_per_second.has_value();
    settings.auto_max_active = !config.queue_max_active.has_value();
    settings.admit_per_second = config.queue_admit_per_second.value_or(config.queue_admission_start);
    settings.max_active = config.queue_max_active.value_or(config.queue_admission_start);
    settings.admission.floor = config.queue_admission_floor;
    settings.admission.ceiling = config.queue_admission_ceiling;
    settings.admission.start = config.queue_admission_start;
    settings.admission.interval = config.queue_admission_interval;
    settings.law.budget_ms = static_cast<double>(config.queue_admission_budget.count());
    settings.active_ttl = config.queue_active_ttl;
    settings.waiting_ttl = config.queue_waiting_ttl;
    settings.tick = config.queue_tick;
    settings.schedules_key = config.queue_schedules_key;
    return settings;
}

std::shared_ptr<WaitingRoom> make_room(const core::Config& config, db::Pool& db, redis::Client& redis) {
    Settings settings = settings_from(config);
    auto room = std::make_shared<WaitingRoom>(redis, settings);
    room->set_recovery(std::make_shared<Recovery>(redis, db, std::move(settings)));
    return room;
}

std::shared_ptr<Installed> install(const core::Config& config, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                                   const boost::asio::any_io_executor& executor) {
    auto installed = std::make_shared<Installed>();
    installed->room = make_room(config, db, redis);
    installed->store = std::make_shared<Store>(db);
    installed->gate = std::make_shared<Gate>(*installed->room);
    Routes::ScheduleCheck exists = [store = installed->store](std::int64_t schedule_id) {
        return store->schedule_exists(schedule_id);
    };
    installed->routes = std::make_shared<Routes>(installed->room, std::move(exists));
    installed->sold_out =
        std::make_shared<SoldOut>(redis, db, installed->room, config.queue_sold_out_check, &metrics);
    installed->routes->set_sold_out(installed->sold_out);
    installed->controls = shared_controls(db, metrics, executor);
    installed->room->set_controls(installed->controls);
    installed->routes->set_controls(installed->controls);
    installed->gate->set_controls(installed->controls);
    // ADR 0026: the fair start (pre-queue, one shuffle at the opening) and proof of work at the door.
    const std::string secret = load_queue_secret(config);
    installed->routes->set_opening([store = installed->store](std::int64_t schedule_id) {
        return store->schedule_opens_at(schedule_id);
    });
    installed->pow = std::make_shared<ProofOfWork>(secret, config.queue_pow_difficulty, config.queue_pow_ttl);
    installed->pow->set_difficulty_override_source(
        [controls = installed->controls](std::int64_t schedule_id) {
            return pow_difficulty_of(controls, schedule_id);
        });
    installed->routes->set_pow(installed->pow);
    if (config.queue_join_concurrency > 0) {
        installed->join_line =
            std::make_shared<JoinLine>(config.queue_join_concurrency, config.queue_join_line);
        installed->routes->set_join_line(installed->join_line);
    }
    installed->routes->add_to(router);
    installed->stats = std::make_shared<Stats>(db, redis, installed->room, &metrics);
    AdminRoutes::ScheduleCheck known = [store = installed->store](std::int64_t schedule_id) {
        return store->schedule_exists(schedule_id);
    };
    installed->admin = std::make_shared<AdminRoutes>(installed->controls, installed->stats, std::move(known));
    installed->admin->add_to(router);
    // The pressure signal: this process's PostgreSQL callers refused (each a 503), read at each step.
    PressureSource pressure = [&db] {
        const db::Pool::Stats stats = db.stats();
        return stats.shed + stats.acquire_timeouts;
    };
    // ADR 0045: the pool's capacity, once it has measured enough hand-overs to queued callers to mean it.
    CapacitySource capacity = [&db] {
        const db::Pool::Stats stats = db.stats();
        if (stats.handovers < 32) return 0.0;
        return std::chrono::duration<double, std::milli>(stats.handover_interval).count();
    };
    installed->scheduler = std::make_shared<Scheduler>(installed->room, installed->store, &metrics,
                                                       std::move(pressure), std::move(capacity));
    installed->scheduler->set_controls(installed->controls);
    installed->scheduler->set_opener(std::make_shared<Opener>(redis, db, installed->store, secret, &metrics));
    installed->sold_out->start(executor);
    installed->room->start_memory(executor, &metrics);  // ADR 0039
    installed->stats->start(executor);
    installed->scheduler->start(executor);
    return installed;
}

}  // namespace marquee::queue
