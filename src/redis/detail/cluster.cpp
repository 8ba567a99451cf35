#include "redis/detail/cluster.hpp"

#include <algorithm>
#include <map>
#include <random>

#include <boost/asio/this_coro.hpp>

namespace marquee::redis::detail {
namespace {

/// Redirects one call follows at most (MOVED and ASK together), as hiredis-cluster's default retry cap.
constexpr int kMaxRedirects = 5;
/// First pause before sending again after TRYAGAIN / CLUSTERDOWN / LOADING; doubled up to kMaxPause.
constexpr std::chrono::milliseconds kFirstPause{20};
constexpr std::chrono::milliseconds kMaxPause{250};

std::string format(const std::vector<std::string>& args) {
    std::string payload;
    append_command(payload, args);
    return payload;
}

std::string asking_prefix() {
    return format(std::vector<std::string>{"ASKING"});
}

std::string script_load(const Script& script) {
    return format(std::vector<std::string>{"SCRIPT", "LOAD", script.source()});
}

std::string cluster_command(const char* subcommand) {
    return format(std::vector<std::string>{"CLUSTER", subcommand});
}

NodeAddress address_of(const Url& url) {
    return NodeAddress{url.host, url.port};
}

}  // namespace

Cluster::Cluster(asio::any_io_executor executor, std::vector<Url> seeds, ClientOptions options,
                 std::shared_ptr<Counters> counters)
    : executor_(std::move(executor)),
      seeds_(std::move(seeds)),
      options_(std::move(options)),
      counters_(std::move(counters)) {
    if (seeds_.empty()) throw core::ConfigError("redis cluster: no seed node");
    if (options_.pool_size == 0) throw core::ConfigError("redis pool size must be at least 1");
    if (options_.max_pending_per_connection == 0) {
        throw core::ConfigError("redis max pending calls per connection must be at least 1");
    }
    base_ = seeds_.front();
}

awaitable<Reply> Cluster::command(std::vector<std::string> args, const Script* script) {
    const std::optional<std::size_t> key = first_key_index(args);
    std::optional<std::uint16_t> slot;
    if (key) slot = key_slot(args[*key]);
    std::string payload = format(args);
    const Clock::time_point deadline = Clock::now() + options_.timeout;
    co_return co_await route(slot, std::move(payload), script, deadline);
}

awaitable<std::vector<Reply>> Cluster::pipeline(std::vector<std::vector<std::string>> commands) {
    const Clock::time_point deadline = Clock::now() + options_.timeout;
    struct Group {
        std::shared_ptr<NodePool> pool;
        NodeAddress node;
        std::vector<std::size_t> members;
        std::string payload;
    };
    std::vector<std::optional<std::uint16_t>> slots(commands.size());
    std::vector<std::string> payloads(commands.size());
    std::map<std::string, Group> groups;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        if (const auto key = first_key_index(commands[i])) slots[i] = key_slot(commands[i][*key]);
        payloads[i] = format(commands[i]);
        Target target = co_await primary_for(slots[i], deadline);
        Group& group = groups[target.node.text()];
        if (!group.pool) {
            group.pool = std::move(target.pool);
            group.node = std::move(target.node);
        }
        group.members.push_back(i);
        group.payload += payloads[i];
    }
    std::vector<Reply> replies(commands.size());
    // One node after the other: Marquee's pipelines keep to one hash tag, so there is one group.
    for (auto& [name, group] : groups) {
        std::vector<Reply> answered;
        try {
            answered = co_await group.pool->execute(std::move(group.payload), group.members.size());
        } catch (const core::Problem&) {
            request_refresh(group.node);
            throw;
        }
        for (std::size_t j = 0; j < group.members.size(); ++j) {
            replies[group.members[j]] = std::move(answered[j]);
        }
    }
    // A command redirected or told to wait is sent again alone, in the caller's order.
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (replies[i].is_error() && classify_error(replies[i].as_string()) != ClusterError::None) {
            std::string again = payloads[i];
            replies[i] = co_await route(slots[i], std::move(again), nullptr, deadline);
        }
    }
    co_return replies;
}

awaitable<Reply> Cluster::route(std::optional<std::uint16_t> slot, std::string payload, const Script* script,
                                Clock::time_point deadline) {
    std::optional<NodeAddress> ask;
    int redirects = 0;
    bool loaded = false;
    std::chrono::milliseconds pause = kFirstPause;
    for (;;) {
        Target target;
        if (ask) {
            std::lock_guard lock(mutex_);
            target = Target{pool_of_locked(*ask), *ask};
        } else {
            target = co_await primary_for(slot, deadline);
        }
        std::vector<Reply> replies;
        try {
            if (ask) {
                std::string asking = asking_prefix();
                asking += payload;
                replies = co_await target.pool->execute(std::move(asking), 2);
            } else {
                replies = co_await target.pool->execute(payload, 1);
            }
        } catch (const core::Problem&) {
            // The node is down or stuck: nobody will send MOVED for it, so ask another node for the map. The
            // call fails (503): it may have been a write that reached the node, so it is not sent again.
            request_refresh(target.node, true);
            throw;
        }
        Reply reply = std::move(replies.back());
        if (!reply.is_error()) co_return reply;
        const std::string& text = reply.as_string();
        const ClusterError kind = classify_error(text);
        if (kind == ClusterError::None) {
            if (script != nullptr && !loaded && text.starts_with("NOSCRIPT")) {
                // Script caches are per node and not replicated: a promoted replica has none. Load it there.
                loaded = true;
                std::string load_payload = script_load(*script);
                std::vector<Reply> loaded_replies = co_await target.pool->execute(std::move(load_payload), 1);
                Reply load = std::move(loaded_replies.front());
                if (load.is_error()) co_return load;
                continue;  // to the same node (the slot's primary, or the ASK target again)
            }
            co_return reply;
        }
        if (kind == ClusterError::Moved || kind == ClusterError::Ask) {
            const std::optional<Redirect> redirect = parse_redirect(text, target.node.host);
            if (!redirect || ++redirects > kMaxRedirects) {
                request_refresh();
                throw core::Problem::unavailable(kDependency,
                                                 "redis cluster: too many redirects (last: " + text + ")");
            }
            if (redirect->kind == Redirect::Kind::Moved) {
                cluster_counters_.moved.fetch_add(1, std::memory_order_relaxed);
                ask.reset();
                {
                    std::lock_guard lock(mutex_);
                    const std::uint16_t index = table_.assign(redirect->slot, redirect->to);
                    if (owner_pools_.size() <= index) owner_pools_.resize(std::size_t{index} + 1);
                    if (!owner_pools_[index]) owner_pools_[index] = pool_of_locked(redirect->to);
                }
                if (!slot) slot = redirect->slot;
                // A failover or a reshard moves more than this slot: refresh the whole map (throttled).
                request_refresh();
            } else {
                cluster_counters_.asked.fetch_add(1, std::memory_order_relaxed);
                ask = redirect->to;  // once, to that node, and the map stays as it is
            }
            continue;
        }
        // TRYAGAIN (a multi-key call during a slot migration), CLUSTERDOWN (no quorum or an unserved slot),
        // READONLY (we reached a demoted primary), MASTERDOWN, LOADING: wait a little and send again, until
        // the deadline; then 503, as for an unreachable Redis.
        cluster_counters_.retried.fetch_add(1, std::memory_order_relaxed);
        if (kind == ClusterError::ReadOnly) {
            request_refresh(target.node, true);
        } else if (kind != ClusterError::TryAgain) {
            request_refresh();
        }
        ask.reset();
        if (Clock::now() + pause >= deadline) {
            counters_->errors.fetch_add(1, std::memory_order_relaxed);
            throw core::Problem::unavailable(kDependency, "redis cluster: " + text);
        }
        co_await sleep_for(pause);
        pause = std::min(pause * 2, kMaxPause);
    }
}

std::optional<Cluster::Target> Cluster::lookup(std::optional<std::uint16_t> slot) {
    bool due = false;
    std::optional<Target> found = lookup_locked(slot, due);
    // The periodic refresh: started by the first call after the interval, so an idle client keeps no timer.
    if (due) request_refresh();
    return found;
}

std::optional<Cluster::Target> Cluster::lookup_locked(std::optional<std::uint16_t> slot, bool& due) {
    std::lock_guard lock(mutex_);
    due = !refreshing_ && Clock::now() - last_refresh_ >= options_.cluster_refresh_interval;
    const auto& nodes = table_.nodes();
    if (nodes.empty()) return std::nullopt;
    std::uint16_t index = SlotTable::kNoNode;
    if (slot) {
        index = table_.owner(*slot);
    } else {
        // Keyless: a primary that serves some slot, in turn.
        for (std::size_t tried = 0; tried < nodes.size() && index == SlotTable::kNoNode; ++tried) {
            const std::size_t candidate = next_any_++ % nodes.size();
            if (candidate < owner_pools_.size() && owner_pools_[candidate]) {
                index = static_cast<std::uint16_t>(candidate);
            }
        }
    }
    if (index == SlotTable::kNoNode) return std::nullopt;
    if (owner_pools_.size() <= index) owner_pools_.resize(std::size_t{index} + 1);
    if (!owner_pools_[index]) owner_pools_[index] = pool_of_locked(nodes[index]);
    return Target{owner_pools_[index], nodes[index]};
}

awaitable<Cluster::Target> Cluster::primary_for(std::optional<std::uint16_t> slot,
                                                Clock::time_point deadline) {
    if (auto target = lookup(slot)) co_return std::move(*target);
    // No primary for the slot: the map is not loaded yet, or the slot's primary failed and no replica took
    // over yet. Refresh (or wait for the refresh running) once, then fail at once: the caller answers 503 +
    // Retry-After rather than holding the request while the cluster elects.
    bool stale = false;
    {
        std::lock_guard lock(mutex_);
        stale = table_.empty() || refreshing_ ||
                Clock::now() - last_refresh_ >= options_.cluster_refresh_throttle;
    }
    if (stale && Clock::now() < deadline) {
        co_await refresh();
        if (auto target = lookup(slot)) co_return std::move(*target);
    }
    cluster_counters_.unserved.fetch_add(1, std::memory_order_relaxed);
    counters_->errors.fetch_add(1, std::memory_order_relaxed);
    throw core::Problem::unavailable(kDependency,
                                     slot ? "redis cluster: hash slot " + std::to_string(*slot) +
                                                " has no primary (failover in progress); try again shortly"
                                          : std::string("redis cluster: no primary reachable"));
}

std::shared_ptr<NodePool> Cluster::pool_of_locked(const NodeAddress& node) {
    std::shared_ptr<NodePool>& pool = pools_[node.text()];
    if (!pool) {
        Url url = base_;
        url.host = node.host;
        url.port = node.port;
        url.db = 0;
        pool = std::make_shared<NodePool>(executor_, std::move(url), options_, counters_);
    }
    return pool;
}

awaitable<void> Cluster::sleep_for(std::chrono::milliseconds pause) {
    asio::steady_timer timer(co_await asio::this_coro::executor, pause);
    co_await timer.async_wait(asio::use_awaitable);
}

awaitable<void> Cluster::refresh() {
    bool mine = false;
    {
        std::lock_guard lock(mutex_);
        if (!refreshing_) {
            refreshing_ = true;
            mine = true;
        }
    }
    if (mine) {
        co_await run_refresh(std::nullopt);
        co_return;
    }
    // Another call refreshes: wait for it (a round trip or a few), up to one call's deadline.
    const Clock::time_point until = Clock::now() + options_.timeout;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (!refreshing_) co_return;
        }
        if (Clock::now() >= until) co_return;
        co_await sleep_for(std::chrono::milliseconds(2));
    }
}

void Cluster::request_refresh(std::optional<NodeAddress> failed, bool soon) {
    {
        std::lock_guard lock(mutex_);
        if (refreshing_) return;
        // A failed node may be replaced right away; MOVED and periodic refreshes wait for the throttle.
        const auto throttle =
            soon ? options_.cluster_refresh_throttle / 4 : options_.cluster_refresh_throttle;
        if (Clock::now() - last_refresh_ < throttle) return;
        refreshing_ = true;
    }
    asio::co_spawn(executor_, refresh_in_background(shared_from_this(), std::move(failed)), asio::detached);
}

awaitable<void> Cluster::refresh_in_background(std::shared_ptr<Cluster> self,
                                               std::optional<NodeAddress> failed) {
    co_await self->run_refresh(std::move(failed));
}

awaitable<void> Cluster::run_refresh(std::optional<NodeAddress> failed) {
    // Ask the known primaries and replicas first, in random order and the failed node last, then the seeds.
    std::vector<NodeAddress> candidates;
    {
        std::lock_guard lock(mutex_);
        candidates = table_.nodes();
        candidates.insert(candidates.end(), table_.replicas().begin(), table_.replicas().end());
    }
    static thread_local std::minstd_rand random(std::random_device{}());
    std::shuffle(candidates.begin(), candidates.end(), random);
    for (const Url& seed : seeds_) {
        const NodeAddress address = address_of(seed);
        if (std::find(candidates.begin(), candidates.end(), address) == candidates.end()) {
            candidates.push_back(address);
        }
    }
    if (failed) {
        const auto it = std::find(candidates.begin(), candidates.end(), *failed);
        if (it != candidates.end()) std::rotate(it, it + 1, candidates.end());
    }
    bool done = false;
    for (const NodeAddress& candidate : candidates) {
        try {
            if (co_await refresh_from(candidate)) {
                done = true;
                break;
            }
        } catch (const std::exception&) {
            // That node is down or answered nonsense: the next one.
        }
    }
    std::lock_guard lock(mutex_);
    refreshing_ = false;
    last_refresh_ = Clock::now();
    if (done) cluster_counters_.refreshes.fetch_add(1, std::memory_order_relaxed);
}

awaitable<bool> Cluster::refresh_from(NodeAddress node) {
    std::shared_ptr<NodePool> pool;
    {
        std::lock_guard lock(mutex_);
        pool = pool_of_locked(node);
    }
    std::vector<SlotRange> ranges;
    std::string shards_payload = cluster_command("SHARDS");
    std::vector<Reply> shards_replies = co_await pool->execute(std::move(shards_payload), 1);
    const Reply& shards = shards_replies.front();
    if (!shards.is_error()) ranges = parse_cluster_shards(shards, node.host);
    if (ranges.empty()) {
        // Servers before 7.0 have no CLUSTER SHARDS; some 7.x answer it with an empty array after a failure.
        std::string slots_payload = cluster_command("SLOTS");
        std::vector<Reply> slots_replies = co_await pool->execute(std::move(slots_payload), 1);
        const Reply& slots = slots_replies.front();
        if (slots.is_error()) co_return false;
        ranges = parse_cluster_slots(slots, node.host);
    }
    if (ranges.empty()) co_return false;
    install(ranges);
    co_return true;
}

void Cluster::install(const std::vector<SlotRange>& ranges) {
    SlotTable fresh(ranges);
    std::lock_guard lock(mutex_);
    table_ = std::move(fresh);
    owner_pools_.assign(table_.nodes().size(), nullptr);
    for (std::size_t i = 0; i < table_.nodes().size(); ++i) {
        owner_pools_[i] = pool_of_locked(table_.nodes()[i]);
    }
}

}  // namespace marquee::redis::detail
