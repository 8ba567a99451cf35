#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"
#include "services/booking/model.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::booking {

/// Adds the reservation routes to `router` and starts the hold-expiry sweeper on `executor`. `queue_check`
/// is the queue's ACTIVE-token check (app passes queue's Gate::as_function(); booking never includes queue).
/// Returns what must stay alive while the server runs. (Services may not include app/.)
std::shared_ptr<void> install(const core::Config& config, http::Router& router,
                              core::MetricsRegistry& metrics, db::Pool& db, redis::Client& redis,
                              QueueCheck queue_check, const boost::asio::any_io_executor& executor,
                              SaleControls sale_controls = {});

}  // namespace marquee::booking
