#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/single_flight.hpp"
#include "services/queue/model.hpp"

namespace marquee::db {
class Pool;
}

namespace marquee::queue {

/// queue.queue_tokens, the audit copy of the tokens (Redis holds the live state).
class Store {
  public:
    explicit Store(db::Pool& db) : db_(db) {}

    /// Upserts the records in one statement; a row only ever moves forward (WAITING < ACTIVE <
    /// USED|EXPIRED), so late, repeated or concurrent batches are harmless. Records of one token must be
    /// merged first (see merge_batch).
    boost::asio::awaitable<void> record(std::vector<AuditRecord> records);

    /// Whether catalog has this schedule (catalog.schedule_exists). Schedules are never deleted, so a yes is
    /// remembered and a flash sale's joins cost the database one query per schedule and process.
    boost::asio::awaitable<bool> schedule_exists(std::int64_t schedule_id);

    /// ADR 0026: when booking opens for the schedule (catalog.schedule_opens_at), epoch ms; nullopt when
    /// catalog has no such schedule. Remembered for `opening_memory` per process, so a flash sale's joins
    /// cost the database one query per schedule and process every few seconds. ADR 0036: one query at a
    /// time per schedule; the joins that miss the memory while it runs wait for its answer instead of each
    /// sending the same query (a burst of 10,000 joins used to send 10,000 and fill the pool's line).
    boost::asio::awaitable<std::optional<std::int64_t>> schedule_opens_at(std::int64_t schedule_id);
    std::chrono::milliseconds opening_memory{5'000};
    /// Queries of schedule_opens_at sent to the database (for tests: concurrent misses share one).
    std::uint64_t opening_queries() const;

  private:
    db::Pool& db_;
    std::mutex known_mutex_;
    std::unordered_set<std::int64_t> known_schedules_;
    struct Opening {
        std::int64_t opens_at_ms = 0;
        std::chrono::steady_clock::time_point read;
    };
    std::unordered_map<std::int64_t, Opening> openings_;  ///< guarded by known_mutex_
    /// One query of a schedule's opening in flight at a time (keyed by the schedule's id); the joins that
    /// miss the memory meanwhile wait for its answer (or its error).
    db::SingleFlight<std::optional<std::int64_t>> openings_in_flight_;
    std::atomic<std::uint64_t> opening_queries_{0};
    boost::asio::awaitable<std::optional<std::int64_t>> query_opens_at(std::int64_t schedule_id);
};

/// Folds events of the same token into one record each (one statement may not update a row twice).
std::vector<AuditRecord> merge_batch(std::vector<AuditRecord> records);

}  // namespace marquee::queue
