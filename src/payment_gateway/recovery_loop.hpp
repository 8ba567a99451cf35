#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace marquee::payment_gateway {

/// The loop of every recovery job that asks the gateway about outcomes it never heard (payments, refunds,
/// top-ups): runs `pass()` every `period`, the first one a period after the start, until `stopped()` says so
/// or the timer is cancelled (the executor stops). Each pass runs under a trace of its own with the log field
/// `job` = `job`, so its log lines, gateway calls and outbox rows share it. A pass that throws is logged as
/// "<job, '-' read as ' '> pass failed" with the error, and the next pass comes a period later.
boost::asio::awaitable<void> run_recovery_passes(std::string job, std::chrono::milliseconds period,
                                                 std::function<bool()> stopped,
                                                 std::function<boost::asio::awaitable<void>()> pass);

}  // namespace marquee::payment_gateway
