#pragma once
// Redis Cluster routing under redis::Client (docs/decisions/0020-redis-cluster-routing.md). Only src/redis
// includes this.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "redis/client.hpp"
#include "redis/cluster_map.hpp"
#include "redis/detail/connection.hpp"
#include "redis/script.hpp"
#include "redis/url.hpp"

namespace marquee::redis::detail {

/// Counters of the routing, for ClientStats.
struct ClusterCounters {
    std::atomic<std::uint64_t> moved{0};
    std::atomic<std::uint64_t> asked{0};
    std::atomic<std::uint64_t> retried{0};  ///< TRYAGAIN / CLUSTERDOWN / READONLY / LOADING waits
    std::atomic<std::uint64_t> refreshes{0};
    std::atomic<std::uint64_t> unserved{0};  ///< calls refused at once: their slot had no primary
};

/// The slot map and one NodePool per primary. Each call goes to its slot's primary; MOVED patches the map and
/// schedules a full refresh, ASK sends ASKING + the command once to the named node, TRYAGAIN/CLUSTERDOWN are
/// retried until the call's deadline, a connection failure refreshes the map from another node (or the seeds)
/// and fails the call (503: a write may have reached the dead node), and a slot without a live primary fails
/// at once with 503 until a refresh shows its promoted replica. Shared (enable_shared_from_this): a refresh
/// in flight keeps it alive.
class Cluster : public std::enable_shared_from_this<Cluster> {
  public:
    Cluster(asio::any_io_executor executor, std::vector<Url> seeds, ClientOptions options,
            std::shared_ptr<Counters> counters);
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    /// One command, routed by its first key (keyless commands go to any primary). `script`: the command is
    /// EVALSHA of it, and a NOSCRIPT answer loads it on that node (SCRIPT LOAD) and sends it again, once.
    awaitable<Reply> command(std::vector<std::string> args, const Script* script = nullptr);
    /// Commands grouped per node, one write each; every command keeps its slot, and one redirected or told
    /// to try again is sent again alone. Replies in the caller's order.
    awaitable<std::vector<Reply>> pipeline(std::vector<std::vector<std::string>> commands);

    /// Refreshes the map now (at most one refresh at a time; others wait for it).
    awaitable<void> refresh();

    const ClusterCounters& counters() const noexcept { return cluster_counters_; }

  private:
    using Clock = std::chrono::steady_clock;

    struct Target {
        std::shared_ptr<NodePool> pool;
        NodeAddress node;
    };

    /// One command's route, with redirects, retries and the NOSCRIPT load.
    awaitable<Reply> route(std::optional<std::uint16_t> slot, std::string payload, const Script* script,
                           Clock::time_point deadline);
    /// The primary of `slot` (any primary when nullopt); refreshes first when the map has none and may be
    /// stale; 503 when there still is none.
    awaitable<Target> primary_for(std::optional<std::uint16_t> slot, Clock::time_point deadline);
    std::optional<Target> lookup(std::optional<std::uint16_t> slot);
    std::optional<Target> lookup_locked(std::optional<std::uint16_t> slot, bool& due);
    std::shared_ptr<NodePool> pool_of_locked(const NodeAddress& node);
    /// Starts a refresh in the background unless one runs or ran within the throttle. `failed`: a node not
    /// to ask first (it just failed a call).
    void request_refresh(std::optional<NodeAddress> failed = std::nullopt, bool soon = false);
    awaitable<void> run_refresh(std::optional<NodeAddress> failed);
    static awaitable<void> refresh_in_background(std::shared_ptr<Cluster> self,
                                                 std::optional<NodeAddress> failed);
    awaitable<bool> refresh_from(NodeAddress node);
    void install(const std::vector<SlotRange>& ranges);
    static awaitable<void> sleep_for(std::chrono::milliseconds pause);

    asio::any_io_executor executor_;
    std::vector<Url> seeds_;
    Url base_;  ///< credentials every node connection uses
    ClientOptions options_;
    std::shared_ptr<Counters> counters_;
    ClusterCounters cluster_counters_;

    std::mutex mutex_;
    SlotTable table_;                                                   ///< guarded by mutex_
    std::vector<std::shared_ptr<NodePool>> owner_pools_;                ///< guarded; by table_ index
    std::unordered_map<std::string, std::shared_ptr<NodePool>> pools_;  ///< guarded; "host:port"
    bool refreshing_ = false;                                           ///< guarded by mutex_
    Clock::time_point last_refresh_{};                                  ///< guarded by mutex_
    std::size_t next_any_ = 0;                                          ///< guarded; keyless round robin
};

}  // namespace marquee::redis::detail
