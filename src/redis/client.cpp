#include "redis/client.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <deque>
#include <mutex>
#include <new>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/config.hpp"
#include "core/problem.hpp"
#include "redis/url.hpp"

namespace marquee::redis {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr const char* kDependency = "redis";

struct ReaderFree {
    void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};

struct ReplyFree {
    void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};

Reply to_reply(const redisReply& raw) {
    switch (raw.type) {
        case REDIS_REPLY_STRING:
            return Reply::string(std::string(raw.str, raw.len));
        case REDIS_REPLY_STATUS:
            return Reply::status(std::string(raw.str, raw.len));
        case REDIS_REPLY_ERROR:
            return Reply::error(std::string(raw.str, raw.len));
        case REDIS_REPLY_INTEGER:
            return Reply::integer(raw.integer);
        case REDIS_REPLY_ARRAY: {
            std::vector<Reply> elements;
            elements.reserve(raw.elements);
            for (std::size_t i = 0; i < raw.elements; ++i) elements.push_back(to_reply(*raw.element[i]));
            return Reply::array(std::move(elements));
        }
        default:
            return Reply::nil();
    }
}

/// Appends one command in RESP (hiredis formats it; arguments are length-prefixed, so binary-safe).
void append_command(std::string& out, const std::vector<std::string>& args) {
    if (args.empty()) throw std::invalid_argument("a redis command needs at least its name");
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const std::string& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    char* formatted = nullptr;
    const int length =
        redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), lengths.data());
    if (length < 0) throw std::bad_alloc();
    out.append(formatted, static_cast<std::size_t>(length));
    redisFreeCommand(formatted);
}

/// One TCP connection: Asio owns the socket, hiredis only encodes commands and parses replies.
struct Connection {
    explicit Connection(const asio::any_io_executor& executor)
        : socket(executor), reader(redisReaderCreate()) {
        if (!reader) throw std::bad_alloc();
    }

    /// Checked before reusing a pooled connection, without a round trip: a server that restarted or
    /// dropped us (CLIENT KILL, idle timeout) has sent FIN, which a peek sees as end of stream.
    bool is_reusable() {
        if (!socket.is_open()) return false;
        char byte = 0;
        const ssize_t peeked = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peeked < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        return false;  // 0: closed by the server; > 0: bytes nobody asked for, the stream is out of step
    }

    tcp::socket socket;
    std::unique_ptr<redisReader, ReaderFree> reader;
    std::array<char, std::size_t{16} * 1024> buffer{};
};

/// A pool slot: a live connection, or empty (a permit to open one). There are always pool_size slots.
using Slot = std::unique_ptr<Connection>;
using EndpointChannel = asio::experimental::concurrent_channel<void(error_code, std::vector<tcp::endpoint>)>;

/// Runs `op` (a deferred async operation) against the deadline timer. Whichever finishes first cancels
/// the other; both have finished when this resumes. Result: (order, op results..., timer error).
template <typename Op>
auto until(asio::steady_timer& deadline, Op&& op) {
    return asio::experimental::make_parallel_group(std::forward<Op>(op), deadline.async_wait(asio::deferred))
        .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
}

}  // namespace

class Client::Impl {
  public:
    Impl(asio::any_io_executor executor, ClientOptions options)
        : executor_(std::move(executor)),
          options_(std::move(options)),
          url_(Url::parse(options_.url)),
          free_(options_.pool_size) {
        if (options_.pool_size == 0) throw core::ConfigError("redis pool size must be at least 1");
    }

    awaitable<std::vector<Reply>> execute(std::string payload, std::size_t expected);

    ClientStats stats() const {
        ClientStats stats;
        stats.in_use = in_use_.load(std::memory_order_relaxed);
        stats.idle = idle_.load(std::memory_order_relaxed);
        stats.waiting = waiting_.load(std::memory_order_relaxed);
        stats.commands = commands_.load(std::memory_order_relaxed);
        stats.errors = errors_.load(std::memory_order_relaxed);
        return stats;
    }

  private:
    /// Gives the slot back on every path; a connection goes back only after a whole round trip,
    /// so the pool never holds one with a reply still in flight.
    class Lease {
      public:
        Lease(Impl& impl, Slot slot) : impl_(impl), slot_(std::move(slot)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { impl_.release(std::move(slot_), healthy_); }

        Slot& slot() { return slot_; }
        void mark_healthy() { healthy_ = true; }

      private:
        Impl& impl_;
        Slot slot_;
        bool healthy_ = false;
    };

    /// A call waiting for a slot. Lives in the waiting coroutine's frame; listed in waiters_ while it waits.
    struct Waiter {
        asio::steady_timer* deadline;  ///< cancelled (under mutex_) to wake the waiter when a slot is granted
        Slot slot;
        bool granted = false;
    };

    awaitable<Slot> acquire(asio::steady_timer& deadline);
    void release(Slot slot, bool healthy);
    awaitable<Slot> connect(asio::steady_timer& deadline);
    awaitable<std::vector<tcp::endpoint>> resolve(asio::steady_timer& deadline);
    awaitable<void> write(Connection& connection, const std::string& payload, asio::steady_timer& deadline);
    awaitable<std::vector<Reply>> read(Connection& connection, std::size_t expected,
                                       asio::steady_timer& deadline);
    core::Problem failure(std::string_view what, const error_code& ec, bool timed_out) const;

    asio::any_io_executor executor_;
    ClientOptions options_;
    Url url_;
    std::mutex mutex_;
    std::vector<Slot> free_;  ///< guarded by mutex_; used as a stack, so the warmest connection goes first
    std::deque<Waiter*> waiters_;  ///< guarded by mutex_; first come, first served
    std::atomic<std::size_t> in_use_{0};
    std::atomic<std::size_t> idle_{0};
    std::atomic<std::size_t> waiting_{0};
    std::atomic<std::uint64_t> commands_{0};
    std::atomic<std::uint64_t> errors_{0};
};

awaitable<std::vector<Reply>> Client::Impl::execute(std::string payload, std::size_t expected) {
    // One deadline for the whole call: waiting in the pool, connecting and the round trip share it.
    asio::steady_timer deadline(executor_, options_.timeout);
    try {
        Lease lease(*this, co_await acquire(deadline));
        Slot& connection = lease.slot();
        if (connection && !connection->is_reusable()) connection.reset();
        if (!connection) connection = co_await connect(deadline);
        co_await write(*connection, payload, deadline);
        std::vector<Reply> replies = co_await read(*connection, expected, deadline);
        lease.mark_healthy();
        commands_.fetch_add(expected, std::memory_order_relaxed);
        co_return replies;
    } catch (const core::Problem&) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        throw;
    }
}

awaitable<Slot> Client::Impl::acquire(asio::steady_timer& deadline) {
    Waiter waiter{&deadline};
    {
        std::lock_guard lock(mutex_);
        if (!free_.empty()) {
            waiter.slot = std::move(free_.back());
            free_.pop_back();
            waiter.granted = true;
        }
    }
    if (!waiter.granted) {
        waiting_.fetch_add(1, std::memory_order_relaxed);
        // Wait on the call's own deadline timer; release() cancels that wait to hand over a slot. The
        // wait starts under mutex_, the same lock release() holds to cancel it, so a slot freed between
        // the check above and the wait cannot slip past us. (Not an Asio channel: Boost 1.81's
        // channel turns a buffered channel unbuffered once a waiting receive is cancelled.)
        auto token = asio::as_tuple(asio::use_awaitable);
        co_await asio::async_initiate<decltype(token), void(error_code)>(
            [this, &waiter](auto handler) {
                std::lock_guard lock(mutex_);
                waiter.deadline->async_wait(std::move(handler));
                if (!free_.empty()) {
                    waiter.slot = std::move(free_.back());
                    free_.pop_back();
                    waiter.granted = true;
                    waiter.deadline->cancel();
                } else {
                    waiters_.push_back(&waiter);
                }
            },
            token);
        waiting_.fetch_sub(1, std::memory_order_relaxed);
        std::lock_guard lock(mutex_);
        // Granted just as the deadline passed still counts: the slot is ours and must go back via a Lease.
        if (!waiter.granted) {
            waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &waiter));
            throw core::Problem::unavailable(
                kDependency, "no redis connection free within " + std::to_string(options_.timeout.count()) +
                                 " ms (pool of " + std::to_string(options_.pool_size) + ")");
        }
    }
    in_use_.fetch_add(1, std::memory_order_relaxed);
    if (waiter.slot) idle_.fetch_sub(1, std::memory_order_relaxed);
    co_return std::move(waiter.slot);
}

void Client::Impl::release(Slot slot, bool healthy) {
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    if (!healthy) slot.reset();  // state unknown (timed out, I/O error, bad reply): close it
    if (slot) idle_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    if (waiters_.empty()) {
        free_.push_back(std::move(slot));
        return;
    }
    Waiter* first = waiters_.front();
    waiters_.pop_front();
    first->slot = std::move(slot);
    first->granted = true;
    first->deadline->cancel();  // resumes the waiter on its own executor
}

awaitable<std::vector<tcp::endpoint>> Client::Impl::resolve(asio::steady_timer& deadline) {
    error_code parse_error;
    const auto address = asio::ip::make_address(url_.host, parse_error);
    if (!parse_error) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, url_.port)};

    // getaddrinfo cannot be cancelled, so the lookup finishes on its own and reports into a channel
    // it shares with us; we wait on the channel only until the deadline.
    auto results = std::make_shared<EndpointChannel>(executor_, 1);
    auto resolver = std::make_shared<tcp::resolver>(executor_);
    resolver->async_resolve(url_.host, std::to_string(url_.port),
                            [results, resolver](error_code ec, const tcp::resolver::results_type& found) {
                                std::vector<tcp::endpoint> endpoints;
                                for (const auto& entry : found) endpoints.push_back(entry.endpoint());
                                results->try_send(ec, std::move(endpoints));
                            });
    auto [order, ec, endpoints, timer_ec] = co_await until(deadline, results->async_receive(asio::deferred));
    if (ec) throw failure("resolving the redis host", ec, order[0] == 1);
    if (endpoints.empty()) {
        throw core::Problem::unavailable(kDependency, "the redis host name resolved to no address");
    }
    co_return endpoints;
}

awaitable<Slot> Client::Impl::connect(asio::steady_timer& deadline) {
    const std::vector<tcp::endpoint> endpoints = co_await resolve(deadline);
    auto connection = std::make_unique<Connection>(executor_);
    auto [order, ec, endpoint, timer_ec] =
        co_await until(deadline, asio::async_connect(connection->socket, endpoints, asio::deferred));
    if (ec) throw failure("connecting to redis", ec, order[0] == 1);
    error_code option_error;
    connection->socket.set_option(tcp::no_delay(true), option_error);
    connection->socket.set_option(asio::socket_base::keep_alive(true), option_error);

    std::string hello;
    std::size_t expected = 0;
    if (!url_.password.empty()) {
        append_command(hello, url_.username.empty()
                                  ? std::vector<std::string>{"AUTH", url_.password}
                                  : std::vector<std::string>{"AUTH", url_.username, url_.password});
        ++expected;
    }
    if (url_.db != 0) {
        append_command(hello, {"SELECT", std::to_string(url_.db)});
        ++expected;
    }
    if (expected > 0) {
        co_await write(*connection, hello, deadline);
        for (const Reply& reply : co_await read(*connection, expected, deadline)) {
            // A refused AUTH or SELECT is configuration, but it makes redis unusable just the same.
            if (reply.is_error()) {
                throw core::Problem::unavailable(kDependency,
                                                 "redis refused AUTH/SELECT: " + reply.as_string());
            }
        }
    }
    co_return connection;
}

awaitable<void> Client::Impl::write(Connection& connection, const std::string& payload,
                                    asio::steady_timer& deadline) {
    auto [order, ec, written, timer_ec] =
        co_await until(deadline, asio::async_write(connection.socket, asio::buffer(payload), asio::deferred));
    if (ec) throw failure("writing to redis", ec, order[0] == 1);
}

awaitable<std::vector<Reply>> Client::Impl::read(Connection& connection, std::size_t expected,
                                                 asio::steady_timer& deadline) {
    std::vector<Reply> replies;
    replies.reserve(expected);
    while (replies.size() < expected) {
        void* raw = nullptr;
        if (redisReaderGetReply(connection.reader.get(), &raw) != REDIS_OK) {
            throw core::Problem::unavailable(
                kDependency, std::string("redis protocol error: ") + connection.reader->errstr);
        }
        if (raw != nullptr) {
            const std::unique_ptr<void, ReplyFree> owned(raw);
            replies.push_back(to_reply(*static_cast<const redisReply*>(raw)));
            continue;
        }
        auto [order, ec, received, timer_ec] = co_await until(
            deadline, connection.socket.async_read_some(asio::buffer(connection.buffer), asio::deferred));
        if (ec) throw failure("reading from redis", ec, order[0] == 1);
        if (redisReaderFeed(connection.reader.get(), connection.buffer.data(), received) != REDIS_OK) {
            throw core::Problem::unavailable(kDependency, "redis reply buffer could not grow");
        }
    }
    co_return replies;
}

core::Problem Client::Impl::failure(std::string_view what, const error_code& ec, bool timed_out) const {
    if (timed_out || ec == asio::error::operation_aborted) {
        return core::Problem::unavailable(kDependency, std::string(what) + " did not finish within " +
                                                           std::to_string(options_.timeout.count()) + " ms");
    }
    return core::Problem::unavailable(kDependency, std::string(what) + " failed: " + ec.message());
}

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(options))) {}

Client::~Client() = default;

awaitable<Reply> Client::command(std::vector<std::string> args) {
    std::string payload;
    append_command(payload, args);
    std::vector<Reply> replies = co_await impl_->execute(std::move(payload), 1);
    co_return std::move(replies.front());
}

awaitable<std::vector<Reply>> Client::pipeline(std::vector<std::vector<std::string>> commands) {
    if (commands.empty()) co_return std::vector<Reply>{};
    std::string payload;
    for (const auto& args : commands) append_command(payload, args);
    co_return co_await impl_->execute(std::move(payload), commands.size());
}

awaitable<Reply> Client::eval(Script script, std::vector<std::string> keys, std::vector<std::string> args) {
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(script.sha());
    argv.push_back(std::to_string(keys.size()));
    for (std::string& key : keys) argv.push_back(std::move(key));
    for (std::string& arg : args) argv.push_back(std::move(arg));

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
