#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "services/payment/model.hpp"

namespace marquee::db {
class Pool;
}

namespace marquee::payment {

/// Adds the payment routes to `router` and starts the recovery job on `executor`. `queue_check` and
/// `queue_release` are the queue's ACTIVE-token check and token end (app wires them from queue's Gate and
/// WaitingRoom; payment never includes queue); `schedule_hint` the schedules those checks found (ADR 0013).
/// Returns what must stay alive while the server runs.
std::shared_ptr<void> install(const core::Config& config, http::Router& router,
                              core::MetricsRegistry& metrics, db::Pool& db, QueueCheck queue_check,
                              QueueRelease queue_release, const boost::asio::any_io_executor& executor,
                              ScheduleHint schedule_hint = {});

}  // namespace marquee::payment
