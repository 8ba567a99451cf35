#pragma once

#include "load/scenario.hpp"

namespace marquee::load {

/// The `fans` scenario (issue 15, ADR 0018): --users fans (up to 100,000 and more) for --seats seats, sharing
/// a bounded pool of --connections keep-alive connections. Fans log in before the sale opens (paced at
/// --login-rate), then join the waiting room at once (or over --arrival-ms) and poll it; an admitted fan
/// buys one seat (availability, hold, top-up, points payment). Reports every seat sold exactly once (read
/// back from PostgreSQL) and how long after the last seat sold each waiting fan was told the sale is over.
Result run_fans(const Options& options);

}  // namespace marquee::load
