#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "services/queue/model.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::queue {

/// A token's row in queue.queue_tokens as a rebuild reads it. Times are epoch ms, 0 = NULL.
struct TokenRow {
    std::string id;
    std::string user_id;
    std::int64_t schedule_id = 0;
    TokenState state = TokenState::Waiting;
    std::int64_t position = 0;  ///< arrival number
    std::int64_t issued_at = 0;
    std::int64_t admitted_at = 0;
    std::int64_t expires_at = 0;  ///< as PostgreSQL last heard of it (ADR 0022: within an audit step)
};

struct RecoveryOptions {
    std::chrono::milliseconds lease{15'000};  ///< how long one rebuilder owns a schedule's rebuild
    std::chrono::milliseconds wait{2'000};    ///< how long a call waits for another's rebuild before its 503
    std::chrono::milliseconds poll{20};       ///< how often it looks meanwhile
};

/// How far a gate check must slide an ACTIVE token's expiry past the last audited one before the slide is
/// audited too: an eighth of the active TTL (75 s of 10 min), at least a second.
std::chrono::milliseconds audit_step(const Settings& settings);
/// What a rebuild adds to an ACTIVE token's recorded expiry (or to now, if later): a quarter of the active
/// TTL, twice the audit step, so a fan never loses time to a rebuild (ADR 0022).
std::chrono::milliseconds restore_grace(const Settings& settings);

/// ADR 0022: putting a schedule's waiting room back from queue.queue_tokens when Redis comes back empty
/// (the schedule's `epoch` marker is gone) or behind (a token PostgreSQL knows is missing from Redis).
/// - rebuild(): one caller across every process wins a lease (`queue:{S}:rebuild`, SET NX PX) and restores
///   every WAITING and ACTIVE row, then sets `queue:{S}:epoch`; the others wait for the marker (up to
///   `wait`), then answer 503 with Retry-After. Every key is in the schedule's hash slot.
/// - restore(): the idempotent restore script (scripts::restore) in batches; a token Redis has is left alone.
/// Thread-safe.
class Recovery {
  public:
    Recovery(redis::Client& redis, db::Pool& db, Settings settings, RecoveryOptions options = {});

    const Settings& settings() const noexcept { return settings_; }

    /// Makes sure the schedule's room is in Redis: returns once its epoch marker is there (rebuilt by this
    /// call or another). Problem 503 (Retry-After 1 s) if another process's rebuild did not finish within
    /// `wait`, or PostgreSQL is unavailable.
    boost::asio::awaitable<void> rebuild(std::int64_t schedule_id);

    /// The token's row, if PostgreSQL has it (`token` in canonical form).
    boost::asio::awaitable<std::optional<TokenRow>> find_token(std::string token);
    /// The user's latest token for the schedule (highest arrival number), if PostgreSQL has one.
    boost::asio::awaitable<std::optional<TokenRow>> find_latest(std::int64_t schedule_id,
                                                                std::string user_id);
    /// Puts the WAITING and ACTIVE rows back where Redis has no hash for them (others are skipped), raises
    /// the arrival counter to at least `floor`, and puts the schedule in the scan set. Returns how many
    /// tokens were put back.
    boost::asio::awaitable<std::int64_t> restore(std::int64_t schedule_id, std::vector<TokenRow> rows,
                                                 std::int64_t floor = 0);

    /// Rebuilds this object completed (each one the lease's winner).
    std::int64_t rebuilds() const noexcept { return rebuilds_.load(); }

  private:
    boost::asio::awaitable<std::int64_t> put_back(std::int64_t schedule_id, std::vector<TokenRow> rows,
                                                  std::int64_t floor);

    redis::Client& redis_;
    db::Pool& db_;
    Settings settings_;
    RecoveryOptions options_;
    std::atomic<std::int64_t> rebuilds_{0};
};

}  // namespace marquee::queue
