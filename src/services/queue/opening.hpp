#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}
namespace marquee::core {
class Counter;
class MetricsRegistry;
}  // namespace marquee::core

namespace marquee::queue {

class Store;

/// What one opening did.
struct OpeningReport {
    bool shuffled = false;        ///< this call won the schedule's one shuffle (its queue.shuffles row)
    std::int64_t pre_queued = 0;  ///< tokens found in the pre-queue
    std::int64_t moved = 0;       ///< tokens this call moved to WAITING in Redis
    std::string seed_sha256;      ///< of the seed used (when shuffled)
};

/// ADR 0026: opens a schedule's pre-queue at its opening. The pre-queued tokens are read from Redis in
/// arrival order, shuffled once from HMAC-SHA256(secret, schedule) (shuffle.hpp), and the shuffle is recorded
/// in PostgreSQL first, in one statement: the schedule's queue.shuffles row (its primary key makes exactly
/// one caller, in any process, the winner) and every token's row WAITING at its shuffled place with its
/// arrival number kept. Then the tokens move in Redis (scripts::open_pre, idempotent) to the places
/// PostgreSQL holds: a caller that lost the race, or retries after a crash between the two steps, reads them
/// back instead of shuffling again. A token pre-queued after the recorded shuffle (the opening moved later)
/// goes to WAITING at its own arrival number, first come first served.
class Opener {
  public:
    /// `store` answers the schedule's opening (catalog's door); `metrics` may be null.
    Opener(redis::Client& redis, db::Pool& db, std::shared_ptr<Store> store, std::string secret,
           core::MetricsRegistry* metrics = nullptr);

    /// Opens the pre-queue if `now_ms` (the Redis clock, from the admission step) is at or past the opening.
    /// A schedule the catalog does not know is never opened: its pre-queue waits (a warning once per schedule
    /// and process). Such a pre-queue is another database's schedule in a shared Redis, or a schedule removed
    /// after fans joined; opening it would admit fans before an opening nobody can read.
    boost::asio::awaitable<bool> open_if_due(std::int64_t schedule_id, std::int64_t now_ms);
    /// Opens the pre-queue now, whatever the time (tests; open_if_due decides in production).
    boost::asio::awaitable<OpeningReport> open(std::int64_t schedule_id);

  private:
    redis::Client& redis_;
    db::Pool& db_;
    std::shared_ptr<Store> store_;
    std::string secret_;
    core::Counter* shuffles_total_ = nullptr;
    core::Counter* shuffled_total_ = nullptr;
    std::mutex unknown_mutex_;
    std::unordered_set<std::int64_t> unknown_logged_;  ///< schedules warned about (bounded)
};

}  // namespace marquee::queue
