#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "redis/reply.hpp"
#include "redis/script.hpp"

namespace marquee::redis {

struct ClientOptions {
    std::string url;  ///< redis://[[user]:password@]host[:port][/db]; ignored in cluster mode
    /// Connections; every one carries many calls at once (pipelined), so a few are enough.
    std::size_t pool_size = 8;
    /// Deadline of one call, from entry to reply: connecting, waiting behind earlier calls, the round trip.
    /// Past it a call waits on only while its connection keeps answering (a reply read, or reply bytes
    /// unread, within the last `timeout`), up to `max_wait`; a connection silent for `timeout` with calls
    /// written is closed and its calls fail (docs/decisions/0053-redis-calls-wait-while-redis-answers.md).
    std::chrono::milliseconds timeout{1000};
    /// The longest a call waits for its reply while its connection keeps answering others (a burst queued
    /// behind it); past it the call alone fails with 503 and the connection stays. At most `timeout`
    /// (or 0): no call outwaits its deadline, but a late call on an answering connection still fails alone.
    std::chrono::milliseconds max_wait{0};
    /// Calls queued or in flight on one connection at most; beyond that on every connection a call is
    /// refused at once with 503 (load shedding) instead of waiting for a reply that would come too late.
    std::size_t max_pending_per_connection = 2048;
    /// Redis Cluster seed nodes, `host:port[,host:port...]` (redis/url.hpp parse_cluster_seeds); non-empty:
    /// cluster mode, every call routed to its key's slot's primary
    /// (docs/decisions/0020-redis-cluster-routing.md). `pool_size` and `max_pending_per_connection` then
    /// apply per node.
    std::string cluster;
    /// Cluster mode: the slot map is read again after this long (by the first call after it).
    std::chrono::milliseconds cluster_refresh_interval{5000};
    /// Cluster mode: at most one map refresh per this after MOVED or an unserved slot (a quarter of it after
    /// a connection failure).
    std::chrono::milliseconds cluster_refresh_throttle{500};
};

/// A snapshot for the metrics endpoint.
struct ClientStats {
    std::size_t connections = 0;  ///< connections open (or being opened)
    std::size_t pending = 0;      ///< calls queued or sent, waiting for their replies
    std::uint64_t commands = 0;   ///< commands answered (a pipeline counts each command)
    std::uint64_t errors = 0;     ///< calls that ended in Problem 503 (connect, I/O, timeout, shed)
    std::uint64_t shed = 0;       ///< of those, calls refused at once because every connection was full
    /// Calls answered after their deadline, because their connection kept answering (ADR 0053).
    std::uint64_t late = 0;
    /// Calls that failed at `max_wait` on a connection that kept answering; the connection stayed open.
    std::uint64_t abandoned = 0;
    // Cluster mode only (0 otherwise):
    std::uint64_t moved = 0;      ///< MOVED redirects followed
    std::uint64_t asked = 0;      ///< ASK redirects followed
    std::uint64_t retried = 0;    ///< TRYAGAIN / CLUSTERDOWN / READONLY / LOADING answers waited out
    std::uint64_t refreshes = 0;  ///< slot maps read
    std::uint64_t unserved = 0;   ///< calls refused at once: their slot had no primary (failover)
};

/// Redis connections driven by Asio, each carrying many calls at once: no call blocks an I/O thread, and
/// no call waits for another to give a connection back (RESP replies come in request order, so calls
/// are written back to back and matched with their replies first in, first out).
///
/// Failures, one rule each:
/// - Redis unreachable, an I/O error, the deadline passing on a connection that stopped answering,
///   `max_wait` passing on one that still answers, or every connection full: a
///   `core::Problem::unavailable("redis", ...)` (503 + Retry-After). A connection whose reply stream
///   fails, or that answered nothing for `timeout` while a written call waited, is closed and its other
///   calls fail too; the next call opens a fresh one, so Marquee works again by itself after Redis
///   restarts. A call past its deadline on a connection that keeps answering (a burst queued ahead of it,
///   or a process too busy to read what has arrived) waits on for its reply, up to `max_wait`, and then
///   fails alone: one late call never closes a connection that works (ADR 0053).
/// - An error reply from Redis (WRONGTYPE, a Lua error): command(), pipeline() and eval() RETURN it as
///   a Reply of kind Error (the caller decides; Reply::or_throw() turns it into CommandError). The typed
///   helpers (get, set, incr, ...) throw CommandError, since they promise a shape.
///
/// Cluster mode (ClientOptions::cluster): the same calls, each routed to the primary of its first key's slot;
/// a multi-key command, script or pipeline must keep its keys in one slot (one hash tag), except del(), which
/// deletes per slot. A primary lost and not yet replaced: its slots' calls fail at once with 503 +
/// Retry-After, and work again by themselves once the map shows the promoted replica.
///
/// Not for blocking commands (BLPOP, SUBSCRIBE, WAIT): they would stall every call behind them on their
/// connection. Thread-safe: any number of coroutines on any number of threads may call it at once.
/// Connections open lazily. The Client must outlive every call it started.
class Client {
  public:
    /// Throws core::ConfigError for a bad URL. Connects nothing yet.
    Client(boost::asio::any_io_executor executor, ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// One command; arguments are binary-safe (embedded NUL, CR/LF).
    boost::asio::awaitable<Reply> command(std::vector<std::string> args);
    /// The same with the arguments spelled out: `co_await redis.command("INCRBY", key, "5")`.
    /// (Also the way around GCC 12, which rejects a braced list inside a co_await expression.)
    template <typename... Args>
    requires(sizeof...(Args) > 0 && (std::convertible_to<const Args&, std::string_view> &&
                                     ...)) boost::asio::awaitable<Reply> command(const Args&... args) {
        return command(std::vector<std::string>{std::string(std::string_view(args))...});
    }
    /// Sends every command in one write on one connection; replies in the same order.
    boost::asio::awaitable<std::vector<Reply>> pipeline(std::vector<std::vector<std::string>> commands);
    /// EVALSHA, falling back to EVAL on NOSCRIPT.
    boost::asio::awaitable<Reply> eval(Script script, std::vector<std::string> keys,
                                       std::vector<std::string> args);

    boost::asio::awaitable<std::optional<std::string>> get(std::string key);
    /// SET, with PX when `ttl` is given.
    boost::asio::awaitable<void> set(std::string key, std::string value,
                                     std::optional<std::chrono::milliseconds> ttl = std::nullopt);
    /// SET NX PX: whether the key was absent and is now set.
    boost::asio::awaitable<bool> try_set(std::string key, std::string value, std::chrono::milliseconds ttl);
    /// DEL: how many of the keys existed. In cluster mode one DEL per slot (not atomic across slots).
    boost::asio::awaitable<std::int64_t> del(std::vector<std::string> keys);
    boost::asio::awaitable<std::int64_t> incr(std::string key);
    /// PEXPIRE: whether the key exists (and now has the TTL).
    boost::asio::awaitable<bool> expire(std::string key, std::chrono::milliseconds ttl);

    /// For /readyz: PING answered PONG within the deadline (cluster mode: by one of up to 3 primaries tried
    /// in turn). Never throws.
    boost::asio::awaitable<bool> ping();

    ClientStats stats() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace marquee::redis
