#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "services/queue/admin_routes.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/gate.hpp"
#include "services/queue/join_line.hpp"
#include "services/queue/model.hpp"
#include "services/queue/pow.hpp"
#include "services/queue/routes.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/sold_out.hpp"
#include "services/queue/stats.hpp"
#include "services/queue/store.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::queue {

/// The queue service as installed in one process; keep it alive as long as the server runs.
struct Installed {
    std::shared_ptr<WaitingRoom> room;
    std::shared_ptr<Store> store;
    std::shared_ptr<Gate> gate;  ///< booking and payment get gate->as_function() from app
    std::shared_ptr<Routes> routes;
    std::shared_ptr<Scheduler> scheduler;
    std::shared_ptr<SoldOut> sold_out;   ///< the sold-out signal (ADR 0018)
    std::shared_ptr<Controls> controls;  ///< the operators' controls (ADR 0027)
    std::shared_ptr<Stats> stats;
    std::shared_ptr<AdminRoutes> admin;
    /// Proof of work at the door (ADR 0026); its per-schedule difficulty comes from `controls` (ADR 0027).
    std::shared_ptr<ProofOfWork> pow;
    std::shared_ptr<JoinLine> join_line;  ///< ADR 0036: joins in arrival order, a bounded number at once
    ~Installed();
};

Settings settings_from(const core::Config& config);

/// A WaitingRoom with its Recovery (ADR 0022): what the queue service and booking's and payment's
/// queue-token checks use, so that each of them notices a Redis that lost the queue and rebuilds it.
std::shared_ptr<WaitingRoom> make_room(const core::Config& config, db::Pool& db, redis::Client& redis);

/// This process's copy of the operators' controls (ADR 0027), one per pool, refreshing on `executor` from
/// the first call: the queue service and booking's hold check share it.
std::shared_ptr<Controls> shared_controls(db::Pool& db, core::MetricsRegistry& metrics,
                                          const boost::asio::any_io_executor& executor);

/// Adds the queue routes to `router` and starts the admission scheduler on `executor`. (Services may not
/// include app/, so app's `install_queue(ServiceContext&)` calls this with the context's parts.)
std::shared_ptr<Installed> install(const core::Config& config, http::Router& router,
                                   core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                                   const boost::asio::any_io_executor& executor);

}  // namespace marquee::queue
