#include "app/service_registry.hpp"

#include <cassert>

#include "app/queue_token_schedules.hpp"
#include "db/cancels.hpp"
#include "db/pool.hpp"
#include "outbox/relay.hpp"
#include "redis/client.hpp"
#include "services/auth/install.hpp"
#include "services/booking/install.hpp"
#include "services/catalog/install.hpp"
#include "services/gateway/install.hpp"
#include "services/payment/install.hpp"
#include "services/queue/install.hpp"
#include "services/wallet/install.hpp"

namespace marquee::app {

namespace {

void install_auth(ServiceContext& ctx) {
    ctx.keep_alive.push_back(auth::install(ctx.config, ctx.router, ctx.db, ctx.redis, ctx.token_issued));
}

void install_queue(ServiceContext& ctx) {
    ctx.keep_alive.push_back(
        queue::install(ctx.config, ctx.router, ctx.metrics, ctx.db, ctx.redis, ctx.executor));
}

void install_catalog(ServiceContext& ctx) {
    ctx.keep_alive.push_back(
        catalog::install(ctx.config, ctx.router, ctx.metrics, ctx.db, ctx.redis, ctx.nats, ctx.executor));
}

void install_wallet(ServiceContext& ctx) {
    ctx.keep_alive.push_back(wallet::install(ctx.config, ctx.router, ctx.metrics, ctx.db, ctx.executor));
}

/// A WaitingRoom on the shared Redis, for booking and payment even in a process of their own: the queue-token
/// check and a token's end need nothing more (no routes, no scheduler), except PostgreSQL to rebuild a room
/// Redis lost (ADR 0022).
std::shared_ptr<queue::WaitingRoom> waiting_room(ServiceContext& ctx) {
    auto room = queue::make_room(ctx.config, ctx.db, ctx.redis);
    // ADR 0027: a hold extension lengthens the queue token's idle TTL in the checks too.
    room->set_controls(queue::shared_controls(ctx.db, ctx.metrics, ctx.executor));
    return room;
}

/// Queue's Gate as the function booking and payment call (they never include queue). It owns the room and
/// the gate, so they live exactly as long as the function does.
/// The schedules queue tokens passed a check for in this process, shared by booking's and payment's checks:
/// payment's hint (ADR 0013). Process-wide: tokens are random UUIDs and the entry is only ever a hint.
std::shared_ptr<QueueTokenSchedules> token_schedules() {
    static const auto schedules = std::make_shared<QueueTokenSchedules>();
    return schedules;
}

boost::asio::awaitable<std::string> checked(queue::Gate::Function fn,
                                            std::shared_ptr<QueueTokenSchedules> seen, std::string user_id,
                                            std::int64_t schedule_id, std::string token) {
    std::string id = co_await fn(user_id, schedule_id, token);
    seen->remember(user_id, token, schedule_id);
    co_return id;
}

std::function<boost::asio::awaitable<std::string>(std::string, std::int64_t, std::string)> queue_check(
    const std::shared_ptr<queue::WaitingRoom>& room) {
    auto gate = std::make_shared<queue::Gate>(*room);
    return [room, gate, fn = gate->as_function(), seen = token_schedules()](
               std::string user_id, std::int64_t schedule_id, std::string token) {
        return checked(fn, seen, std::move(user_id), schedule_id, std::move(token));
    };
}

/// Publishes `table`'s rows (`<schema>.outbox`) to the MARQUEE stream as `marquee.<event_type>`; one relay
/// per table works at a time across replicas (src/outbox).
void start_outbox_relay(ServiceContext& ctx, std::string table) {
    outbox::RelayOptions options;
    options.table = std::move(table);
    options.stream_replicas = ctx.config.nats_stream_replicas;
    ctx.keep_alive.push_back(
        outbox::start_relay(ctx.executor, ctx.db, ctx.nats, ctx.metrics, std::move(options)));
}

/// Booking's view of the operators' controls (ADR 0027): this process's copy, shared with the queue service.
booking::SaleControls sale_controls(ServiceContext& ctx) {
    auto controls = queue::shared_controls(ctx.db, ctx.metrics, ctx.executor);
    return [controls](std::int64_t schedule_id) {
        const queue::ScheduleControls c = controls->get(schedule_id);
        return booking::SaleControl{c.sales_closed, std::chrono::seconds(c.hold_extension_seconds)};
    };
}

void install_booking(ServiceContext& ctx) {
    ctx.keep_alive.push_back(booking::install(ctx.config, ctx.router, ctx.metrics, ctx.db, ctx.redis,
                                              queue_check(waiting_room(ctx)), ctx.executor,
                                              sale_controls(ctx)));
    start_outbox_relay(ctx, "booking.outbox");
}

/// The edge: what Marquee itself serves that no business service owns, i.e. the web app's static files.
void install_gateway(ServiceContext& ctx) {
    ctx.keep_alive.push_back(gateway::install(ctx.config, ctx.router));
}

void install_payment(ServiceContext& ctx) {
    auto room = waiting_room(ctx);
    payment::QueueRelease release = [room](std::int64_t schedule_id, std::string token) {
        return room->release(schedule_id, std::move(token));
    };
    payment::ScheduleHint hint = [seen = token_schedules()](const std::string& user,
                                                            const std::string& token) {
        return seen->find(user, token);
    };
    ctx.keep_alive.push_back(payment::install(ctx.config, ctx.router, ctx.metrics, ctx.db, queue_check(room),
                                              std::move(release), ctx.executor, std::move(hint)));
    start_outbox_relay(ctx, "payment.outbox");
}

}  // namespace

const std::vector<ServiceEntry>& service_entries() {
    static const std::vector<ServiceEntry> kEntries = {
        {"auth", "issue 3", install_auth},       {"queue", "issue 3", install_queue},
        {"catalog", "issue 4", install_catalog}, {"wallet", "issue 5", install_wallet},
        {"booking", "issue 5", install_booking}, {"payment", "issue 5", install_payment},
        {"gateway", "issue 9", install_gateway},
    };
    assert(kEntries.size() == std::size(core::kServiceNames));
    return kEntries;
}

std::vector<std::string> install_services(ServiceContext& ctx) {
    std::vector<std::string> placeholders;
    for (const auto& entry : service_entries()) {
        if (!ctx.config.runs(entry.name)) continue;
        if (entry.install == nullptr) {
            placeholders.emplace_back(entry.name);
            continue;
        }
        entry.install(ctx);
    }
    return placeholders;
}

void register_pool_metrics(core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis) {
    auto& db_connections = metrics.gauge("db_pool_connections", "PostgreSQL pool connections by state");
    auto& db_waiting = metrics.gauge("db_pool_waiting", "Calls waiting for a PostgreSQL connection").with({});
    auto& db_shed =
        metrics
            .counter("db_calls_shed_total", "PostgreSQL calls refused at once because too many were waiting")
            .with({});
    // Server-side cancels of statements past their deadline, bounded process-wide (db/cancels.hpp).
    auto& db_cancels = metrics.counter(
        "db_cancels_total",
        "Statements past their deadline in a transaction: server-side cancel sent, skipped (too many in "
        "flight) or failed (libpq made no cancel request, or no thread started)");
    auto& cancels_sent = db_cancels.with({{"outcome", "sent"}});
    auto& cancels_skipped = db_cancels.with({{"outcome", "skipped"}});
    auto& cancels_failed = db_cancels.with({{"outcome", "failed"}});
    auto& db_cancels_in_flight =
        metrics.gauge("db_cancels_in_flight", "Server-side cancels still waiting for PostgreSQL").with({});
    auto& redis_connections = metrics.gauge("redis_connections", "Redis connections open").with({});
    auto& redis_pending =
        metrics.gauge("redis_pending_calls", "Redis calls queued or sent, waiting for their replies")
            .with({});
    auto& redis_shed = metrics
                           .counter("redis_calls_shed_total",
                                    "Redis calls refused at once because every connection was full")
                           .with({});
    // ADR 0053: calls that waited past their deadline while their connection kept answering.
    auto& redis_late =
        metrics
            .counter("redis_calls_late_total",
                     "Redis calls answered after their deadline: their connection kept answering")
            .with({});
    auto& redis_abandoned =
        metrics
            .counter("redis_calls_abandoned_total",
                     "Redis calls failed (503) at the longest wait while their connection kept answering")
            .with({});
    // Redis Cluster routing (ADR 0020); zero in single-node mode.
    auto& redirects =
        metrics.counter("redis_cluster_redirects_total", "Redis Cluster MOVED and ASK redirects followed");
    auto& redis_unserved =
        metrics
            .counter("redis_cluster_unserved_total",
                     "Redis calls refused at once (503): their slot had no primary (failover)")
            .with({});
    auto& redis_refreshes =
        metrics.counter("redis_cluster_map_refreshes_total", "Redis Cluster slot maps read").with({});
    metrics.on_scrape([&, in_use = &db_connections.with({{"state", "in_use"}}),
                       idle = &db_connections.with({{"state", "idle"}}),
                       moved = &redirects.with({{"kind", "moved"}}),
                       asked = &redirects.with({{"kind", "ask"}})] {
        const auto d = db.stats();
        in_use->set(static_cast<double>(d.in_use));
        idle->set(static_cast<double>(d.idle));
        db_waiting.set(static_cast<double>(d.waiting));
        db_shed.advance_to(d.shed);
        const auto c = db::cancel_stats();
        cancels_sent.advance_to(c.sent);
        cancels_skipped.advance_to(c.skipped);
        cancels_failed.advance_to(c.failed);
        db_cancels_in_flight.set(static_cast<double>(c.in_flight));
        const auto r = redis.stats();
        redis_connections.set(static_cast<double>(r.connections));
        redis_pending.set(static_cast<double>(r.pending));
        redis_shed.advance_to(r.shed);
        redis_late.advance_to(r.late);
        redis_abandoned.advance_to(r.abandoned);
        moved->advance_to(r.moved);
        asked->advance_to(r.asked);
        redis_unserved.advance_to(r.unserved);
        redis_refreshes.advance_to(r.refreshes);
    });
}

}  // namespace marquee::app
