#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "services/queue/controls.hpp"
#include "services/queue/held_polls.hpp"
#include "services/queue/model.hpp"
#include "services/queue/poll_memory.hpp"

namespace marquee::core {
class Counter;
class MetricsRegistry;
}  // namespace marquee::core
namespace marquee::redis {
class Client;
class Reply;
class Script;
}  // namespace marquee::redis

namespace marquee::queue {

class Recovery;

/// The waiting room's live state in Redis (docs/architecture.md lists the keys): every step that changes a
/// token is one Lua script (scripts.hpp), so any number of queue processes may call these at once.
/// Redis down or slow: core::Problem::unavailable("redis") from the client. Thread-safe.
class WaitingRoom : public std::enable_shared_from_this<WaitingRoom> {
  public:
    WaitingRoom(redis::Client& redis, Settings settings);

    const Settings& settings() const noexcept { return settings_; }

    /// ADR 0022: with a Recovery, the room notices when Redis lost a schedule (its `epoch` marker is gone)
    /// and rebuilds it from queue.queue_tokens before answering, and a token (or a user's token) that
    /// PostgreSQL knows but Redis does not is put back instead of being refused. Without one (tests, tools),
    /// the room behaves as before ADR 0022. Set it before the room is used.
    void set_recovery(std::shared_ptr<Recovery> recovery) { recovery_ = std::move(recovery); }
    const std::shared_ptr<Recovery>& recovery() const noexcept { return recovery_; }
    /// ADR 0027: the operators' controls. A schedule's hold extension also lengthens its ACTIVE tokens' idle
    /// TTL, so that a token outlives the longer hold it is to pay for. Set before the room is used.
    void set_controls(std::shared_ptr<Controls> controls) { controls_ = std::move(controls); }

    /// The user's live (PRE_QUEUE, WAITING or ACTIVE) token for the schedule, or a new one at the back:
    /// PRE_QUEUE while the Redis clock is before `opens_at_ms` (epoch ms; 0: no pre-queue), else WAITING (ADR
    /// 0026).
    boost::asio::awaitable<Joined> join(std::string user_id, std::int64_t schedule_id,
                                        std::int64_t opens_at_ms = 0);
    /// The user's latest token for the schedule as it is now; nullopt if they never joined (or its keys
    /// have vanished, a day after it ended). Reading a WAITING token counts as polling it.
    boost::asio::awaitable<std::optional<TokenStatus>> find_status(std::string user_id,
                                                                   std::int64_t schedule_id);
    /// ADR 0039: a fan's poll. A fan this process knows to be still WAITING (memory: its place and the
    /// room's admitted counter, refreshed once per period) is answered without a Redis call; anything memory
    /// cannot decide (possibly admitted or ended, a stale view, an opening, a lost epoch) is find_status().
    /// Memory only ever answers WAITING. Callers skip it for a schedule they know is sold out.
    boost::asio::awaitable<std::optional<TokenStatus>> poll_status(std::string user_id,
                                                                   std::int64_t schedule_id);
    /// ADR 0039: every period, one read per schedule polled through memory (the view script), the
    /// last-seen times of fans answered from memory written back (batched) well before the waiting TTL,
    /// and the scan-set backstop of find_status(). Runs on `executor` until stop_memory().
    void start_memory(const boost::asio::any_io_executor& executor, core::MetricsRegistry* metrics);
    void stop_memory() noexcept {
        stopping_ = true;
        held_.stop();
    }
    /// One refresh pass (what the loop runs each period; tests call it directly).
    boost::asio::awaitable<void> refresh_memory();
    PollMemory& memory() noexcept { return memory_; }
    /// ADR 0049: the polls held until the fan's state changes; every view the memory keeps wakes the ones
    /// whose place it passed.
    HeldPolls& held_polls() noexcept { return held_; }
    /// The memory's refresh period: the tick, at most 500 ms.
    std::chrono::milliseconds memory_period() const noexcept;

    /// Whether `token` (canonical form) is ACTIVE for this user and schedule. An ACTIVE token's idle expiry
    /// slides to now + active TTL on every check that passes.
    boost::asio::awaitable<GateCheck> check(std::string user_id, std::int64_t schedule_id, std::string token);
    /// ACTIVE -> USED, freeing the slot at once (a finished purchase). False if the token was not ACTIVE.
    boost::asio::awaitable<bool> release(std::int64_t schedule_id, std::string token);

    /// One admission step for one schedule (expire, then admit within rate and maximum). An operator's
    /// controls (ADR 0027) win over the automatic or configured numbers: paused admits nobody (expiry still
    /// runs), admits/min and max ACTIVE replace the rate and the bound while set.
    boost::asio::awaitable<AdmitStep> admit(std::int64_t schedule_id, ScheduleControls controls = {});
    /// Stores the controller's next state unless another process stored a step since `at_text` was read
    /// (ADR 0016). True when stored.
    boost::asio::awaitable<bool> save_admission(std::int64_t schedule_id, std::string at_text,
                                                AdmissionState state);
    /// The rate behind etaSeconds and pollAfterMs: the fixed admits/s, or with automatic admission the
    /// schedule's measured purchases/s (the room turns over at that rate), as the last admission pass saw it.
    unsigned eta_rate(std::int64_t schedule_id) const;
    void note_throughput(std::int64_t schedule_id, double purchases_per_second);
    /// The schedules that have (or recently had) waiting or active tokens.
    boost::asio::awaitable<std::vector<std::int64_t>> schedules();
    /// Drops the schedule from the scan set unless a join has happened since `sequence` was read.
    boost::asio::awaitable<bool> try_forget(std::int64_t schedule_id, std::int64_t sequence);

    /// Takes up to `max` audit events of the schedule (each exactly once, across processes).
    boost::asio::awaitable<std::vector<std::string>> pop_audit(std::int64_t schedule_id, std::size_t max);
    /// Puts events back (after the database refused them for a while).
    boost::asio::awaitable<void> push_back_audit(std::int64_t schedule_id, std::vector<std::string> events);

  private:
    /// eval of a script that takes the schedule's epoch marker as its last key (with a Recovery): a
    /// "RECOVER" answer rebuilds the schedule and runs the script once more.
    boost::asio::awaitable<redis::Reply> eval_room(std::int64_t schedule_id, redis::Script script,
                                                   std::vector<std::string> keys,
                                                   std::vector<std::string> args);
    boost::asio::awaitable<void> add_to_scan_set(std::int64_t schedule_id, std::int64_t sequence);
    boost::asio::awaitable<void> run_memory();

    redis::Client& redis_;
    Settings settings_;
    std::shared_ptr<Recovery> recovery_;
    std::shared_ptr<Controls> controls_;
    mutable std::mutex rates_mutex_;
    std::unordered_map<std::int64_t, double> throughput_;  ///< schedule -> purchases/s
    PollMemory memory_;
    HeldPolls held_;
    std::atomic<bool> stopping_{false};
    std::int64_t seen_scanned_ms_ = 0;  ///< steady ms of the last walk for due last-seen times (refresh only)
    core::Counter* polls_from_memory_ = nullptr;
    core::Counter* polls_from_redis_ = nullptr;
};

}  // namespace marquee::queue
