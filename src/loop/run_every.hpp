#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace marquee::loop {

/// The period of the next pass, asked after each pass (a setting may change between passes).
using Period = std::function<std::chrono::steady_clock::duration()>;
/// One pass: a refresh, an export, a check.
using Pass = std::function<boost::asio::awaitable<void>()>;
/// Told of a pass that threw; the loop goes on.
using OnFailure = std::function<void(const std::exception&)>;

/// The background loop of the services' refreshers: runs `pass` until `stopping` is true, a pass every
/// `period()` counted from each pass's start on a steady timer (a pass that took longer than the period is
/// followed at once by the next). A pass that throws a std::exception is reported to `on_failure` and the
/// next pass comes at its time: a refresher outlives a PostgreSQL or Redis that is away. `stopping` is read
/// before each pass, so a stop takes effect within one period. The caller keeps `stopping` (and whatever the
/// callables use) alive until the loop returns: the usual `auto keep = shared_from_this();`.
boost::asio::awaitable<void> run_every(const std::atomic<bool>& stopping, Period period, Pass pass,
                                       OnFailure on_failure);

/// An OnFailure that logs `message` as a warning with the exception's text as "error".
OnFailure warn(std::string message);

}  // namespace marquee::loop
