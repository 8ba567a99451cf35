#include "redis/client.hpp"

#include <map>
#include <utility>

#include "core/problem.hpp"
#include "redis/cluster_map.hpp"
#include "redis/detail/cluster.hpp"
#include "redis/detail/connection.hpp"
#include "redis/url.hpp"

namespace marquee::redis {

namespace asio = boost::asio;
using asio::awaitable;

/// One NodePool (a single Redis), or a Cluster; Client's calls branch once on which.
class Client::Impl {
  public:
    Impl(asio::any_io_executor executor, ClientOptions options) {
        if (options.cluster.empty()) {
            Url url = Url::parse(options.url);
            single =
                std::make_unique<detail::NodePool>(std::move(executor), std::move(url), options, counters);
        } else {
            std::vector<Url> seeds = parse_cluster_seeds(options.cluster);
            cluster = std::make_shared<detail::Cluster>(std::move(executor), std::move(seeds),
                                                        std::move(options), counters);
        }
    }

    ClientStats stats() const {
        ClientStats stats;
        stats.connections = counters->connections.load(std::memory_order_relaxed);
        stats.pending = counters->pending.load(std::memory_order_relaxed);
        stats.commands = counters->commands.load(std::memory_order_relaxed);
        stats.errors = counters->errors.load(std::memory_order_relaxed);
        stats.shed = counters->shed.load(std::memory_order_relaxed);
        stats.late = counters->late.load(std::memory_order_relaxed);
        stats.abandoned = counters->abandoned.load(std::memory_order_relaxed);
        if (cluster) {
            const auto& c = cluster->counters();
            stats.moved = c.moved.load(std::memory_order_relaxed);
            stats.asked = c.asked.load(std::memory_order_relaxed);
            stats.retried = c.retried.load(std::memory_order_relaxed);
            stats.refreshes = c.refreshes.load(std::memory_order_relaxed);
            stats.unserved = c.unserved.load(std::memory_order_relaxed);
        }
        return stats;
    }

    std::shared_ptr<detail::Counters> counters = std::make_shared<detail::Counters>();
    std::unique_ptr<detail::NodePool> single;  ///< single-node mode
    std::shared_ptr<detail::Cluster> cluster;  ///< cluster mode
};

namespace {

/// A single Redis that answers LOADING (reading its AOF or RDB after a restart) or MASTERDOWN (a replica cut
/// off from its primary) refuses every command for a while: the dependency is unavailable (503 with
/// Retry-After), not a bug in the caller (which an error reply would become: 500). Cluster mode waits these
/// out per node (detail::Cluster).
void throw_if_not_serving(const Reply& reply) {
    if (!reply.is_error()) return;
    const ClusterError kind = classify_error(reply.as_string());
    if (kind == ClusterError::Loading || kind == ClusterError::MasterDown) {
        throw core::Problem::unavailable(detail::kDependency,
                                         "redis is not serving yet: " + reply.as_string());
    }
}

}  // namespace

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(options))) {}

Client::~Client() = default;

awaitable<Reply> Client::command(std::vector<std::string> args) {
    if (impl_->cluster) {
        co_return co_await impl_->cluster->command(args);
    }
    std::string payload;
    detail::append_command(payload, args);
    std::vector<Reply> replies = co_await impl_->single->execute(std::move(payload), 1);
    throw_if_not_serving(replies.front());
    co_return std::move(replies.front());
}

awaitable<std::vector<Reply>> Client::pipeline(std::vector<std::vector<std::string>> commands) {
    if (commands.empty()) co_return std::vector<Reply>{};
    if (impl_->cluster) {
        co_return co_await impl_->cluster->pipeline(commands);
    }
    std::string payload;
    for (const auto& args : commands) detail::append_command(payload, args);
    std::vector<Reply> replies = co_await impl_->single->execute(std::move(payload), commands.size());
    for (const Reply& reply : replies) throw_if_not_serving(reply);
    co_return replies;
}

awaitable<Reply> Client::eval(Script script, std::vector<std::string> keys, std::vector<std::string> args) {
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(script.sha());
    argv.push_back(std::to_string(keys.size()));
    for (std::string& key : keys) argv.push_back(std::move(key));
    for (std::string& arg : args) argv.push_back(std::move(arg));

    if (impl_->cluster) {
        // NOSCRIPT (a promoted replica has no script cache): SCRIPT LOAD on that node, then EVALSHA again.
        co_return co_await impl_->cluster->command(argv, &script);
    }
    Reply reply = co_await command(argv);
    if (reply.is_error() && reply.as_string().starts_with("NOSCRIPT")) {
        // Not cached (restart, SCRIPT FLUSH, another replica): EVAL runs it and caches it again.
        argv[0] = "EVAL";
        argv[1] = script.source();
        reply = co_await command(std::move(argv));
    }
    co_return reply;
}

awaitable<std::optional<std::string>> Client::get(std::string key) {
    std::vector<std::string> args{"GET", std::move(key)};
    const Reply reply = co_await command(std::move(args));
    if (reply.is_nil()) co_return std::nullopt;
    co_return reply.or_throw().as_string();
}

awaitable<void> Client::set(std::string key, std::string value,
                            std::optional<std::chrono::milliseconds> ttl) {
    std::vector<std::string> args{"SET", std::move(key), std::move(value)};
    if (ttl) {
        args.push_back("PX");
        args.push_back(std::to_string(ttl->count()));
    }
    (co_await command(std::move(args))).or_throw();
}

awaitable<bool> Client::try_set(std::string key, std::string value, std::chrono::milliseconds ttl) {
    std::vector<std::string> args{"SET", std::move(key), std::move(value),
                                  "NX",  "PX",           std::to_string(ttl.count())};
    const Reply reply = co_await command(std::move(args));
    co_return !reply.or_throw().is_nil();
}

awaitable<std::int64_t> Client::del(std::vector<std::string> keys) {
    if (keys.empty()) co_return 0;
    if (impl_->cluster && keys.size() > 1) {
        // One DEL per slot: a DEL of keys in different slots would be refused (CROSSSLOT).
        std::map<std::uint16_t, std::vector<std::string>> by_slot;
        for (std::string& key : keys) {
            const std::uint16_t slot = key_slot(key);
            auto& command = by_slot[slot];
            if (command.empty()) command.push_back("DEL");
            command.push_back(std::move(key));
        }
        std::int64_t deleted = 0;
        for (auto& [slot, command] : by_slot) {
            deleted += (co_await this->command(std::move(command))).as_integer();
        }
        co_return deleted;
    }
    keys.insert(keys.begin(), "DEL");
    co_return (co_await command(std::move(keys))).as_integer();
}

awaitable<std::int64_t> Client::incr(std::string key) {
    std::vector<std::string> args{"INCR", std::move(key)};
    co_return (co_await command(std::move(args))).as_integer();
}

awaitable<bool> Client::expire(std::string key, std::chrono::milliseconds ttl) {
    std::vector<std::string> args{"PEXPIRE", std::move(key), std::to_string(ttl.count())};
    co_return (co_await command(std::move(args))).as_integer() == 1;
}

awaitable<bool> Client::ping() {
    if (impl_->cluster) {
        // Ready while the cluster answers: PING goes to the primaries in turn, so a primary that just died
        // (its slots answer 503 until the failover) does not take every replica of every service out of
        // rotation.
        for (int attempt = 0; attempt < 3; ++attempt) {
            try {
                std::vector<std::string> args{"PING"};
                const Reply reply = co_await command(std::move(args));
                if (reply.kind() == Reply::Kind::Status && reply.as_string() == "PONG") co_return true;
            } catch (const std::exception&) {
                // the next primary
            }
        }
        co_return false;
    }
    try {
        std::vector<std::string> args{"PING"};
        const Reply reply = co_await command(std::move(args));
        co_return reply.kind() == Reply::Kind::Status&& reply.as_string() == "PONG";
    } catch (const std::exception&) {
        co_return false;
    }
}

ClientStats Client::stats() const {
    return impl_->stats();
}

}  // namespace marquee::redis
