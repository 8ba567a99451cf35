#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"

namespace marquee::db {
class Pool;
}

namespace marquee::wallet {

/// Adds the wallet routes to `router` and starts the charge-recovery job on `executor`. Returns what must
/// stay alive while the server runs. (Services may not include app/; app's install_wallet calls this.)
std::shared_ptr<void> install(const core::Config& config, http::Router& router,
                              core::MetricsRegistry& metrics, db::Pool& db,
                              const boost::asio::any_io_executor& executor);

}  // namespace marquee::wallet
