#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>

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
    /// cost the database one query per schedule and process every few seconds.
    boost::asio::awaitable<std::optional<std::int64_t>> schedule_opens_at(std::int64_t schedule_id);
    std::chrono::milliseconds opening_memory{5'000};

  private:
    db::Pool& db_;
    std::mutex known_mutex_;
    std::unordered_set<std::int64_t> known_schedules_;
    struct Opening {
        std::int64_t opens_at_ms = 0;
        std::chrono::steady_clock::time_point read;
    };
    std::unordered_map<std::int64_t, Opening> openings_;  ///< guarded by known_mutex_
};

/// Folds events of the same token into one record each (one statement may not update a row twice).
std::vector<AuditRecord> merge_batch(std::vector<AuditRecord> records);

}  // namespace marquee::queue
