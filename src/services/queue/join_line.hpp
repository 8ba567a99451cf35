#pragma once

#include <cstddef>

#include "loop/lane.hpp"

namespace marquee::queue {

/// ADR 0036: the joins one process works on at once, the rest waiting in arrival order (a loop::Lane, whose
/// comment tells the why). Beyond `max_waiting` waiting joins, enter() throws 503 + Retry-After (queue-busy);
/// concurrency 0 turns the line off (every join goes in at once, as before).
class JoinLine : public loop::Lane {
  public:
    JoinLine(std::size_t concurrency, std::size_t max_waiting)
        : loop::Lane(concurrency, max_waiting, "queue", "Too many fans are joining at once; retry shortly.") {
    }
};

}  // namespace marquee::queue
