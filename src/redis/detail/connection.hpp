#pragma once
// The connection machinery under redis::Client: one pipelined connection (Connection) and a pool of them to
// one server (NodePool). Only src/redis includes this.

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <deque>
#include <mutex>
#include <new>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <hiredis/hiredis.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "core/config.hpp"
#include "core/idle_socket.hpp"
#include "core/problem.hpp"
#include "redis/client.hpp"
#include "redis/url.hpp"

namespace marquee::redis::detail {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

inline constexpr const char* kDependency = "redis";

struct ReaderFree {
    void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};

struct ReplyFree {
    void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};

inline Reply to_reply(const redisReply& raw) {
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
inline void append_command(std::string& out, const std::vector<std::string>& args) {
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

using EndpointChannel = asio::experimental::concurrent_channel<void(error_code, std::vector<tcp::endpoint>)>;

/// Runs `op` (a deferred async operation) against the deadline timer. Whichever finishes first cancels
/// the other; both have finished when this resumes. Result: (order, op results..., timer error).
template <typename Op>
auto until(asio::steady_timer& deadline, Op&& op) {
    return asio::experimental::make_parallel_group(std::forward<Op>(op), deadline.async_wait(asio::deferred))
        .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
}

inline core::Problem failure(std::string_view what, const error_code& ec, bool timed_out,
                             std::chrono::milliseconds timeout) {
    if (timed_out || ec == asio::error::operation_aborted) {
        return core::Problem::unavailable(kDependency, std::string(what) + " did not finish within " +
                                                           std::to_string(timeout.count()) + " ms");
    }
    return core::Problem::unavailable(kDependency, std::string(what) + " failed: " + ec.message());
}

/// One call: its commands, how many replies it waits for, and where they go. Shared by the caller and
/// the connection: a caller that gave up may still have replies coming, which the connection consumes.
struct Call {
    std::string payload;
    /// When the caller started waiting (its deadline counts from here).
    std::chrono::steady_clock::time_point entered = std::chrono::steady_clock::now();
    std::size_t expected = 0;
    std::vector<Reply> replies;
    std::exception_ptr failure;
    bool done = false;
    /// The caller's deadline timer, cancelled to wake it when the call is done; null once it gave up.
    asio::steady_timer* waker = nullptr;
    /// Past its deadline, waiting on while its connection answered (ADR 0053).
    bool late = false;
    /// Given up on while written (its connection kept answering): its reply, when it comes, has no taker
    /// and it no longer counts as pending.
    bool abandoned = false;
};

/// Counters shared by the Client and its connections.
struct Counters {
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> pending{0};
    std::atomic<std::uint64_t> commands{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> shed{0};
    std::atomic<std::uint64_t> late{0};
    std::atomic<std::uint64_t> abandoned{0};
};

/// One TCP connection carrying many calls: Asio owns the socket, hiredis only encodes commands and parses
/// replies. Calls wait in `unsent_`, a writer sends all of them in one write and moves them to `sent_`,
/// and a reader hands each reply to the oldest sent call. Writer and reader run only while they have
/// work, so an idle connection has no operation pending (an idle server close is seen by a peek before
/// the next call). Socket work runs on the connection's strand; the queues are guarded by `mutex_`,
/// which callers on any thread take to submit or to give up.
class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(const asio::any_io_executor& executor, Url url, std::chrono::milliseconds timeout,
               std::shared_ptr<Counters> counters)
        : strand_(asio::make_strand(executor)),
          socket_(strand_),
          reader_(redisReaderCreate()),
          url_(std::move(url)),
          timeout_(timeout),
          counters_(std::move(counters)) {
        if (!reader_) throw std::bad_alloc();
        counters_->connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~Connection() { counters_->connections.fetch_sub(1, std::memory_order_relaxed); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Connects, then reads replies until the connection fails or is closed.
    /// Connects; calls submitted meanwhile wait and are written once it is open.
    void start() { asio::co_spawn(strand_, open(shared_from_this()), asio::detached); }

    /// Queues `call` unless this connection is closed, looks dead, or already carries `limit` calls.
    enum class Submitted { Queued, Closed, Full };
    Submitted submit(const std::shared_ptr<Call>& call, std::size_t limit) {
        std::unique_lock lock(mutex_);
        if (state_ == State::Closed) return Submitted::Closed;
        if (state_ == State::Open && sent_.empty() && !peer_still_there()) {
            // Idle and the server has gone (restart, CLIENT KILL): the reader may not have seen it yet.
            close_locked(core::Problem::unavailable(kDependency, "redis closed the connection"));
            return Submitted::Closed;
        }
        if (unsent_.size() + sent_.size() >= limit) return Submitted::Full;
        unsent_.push_back(call);
        counters_->pending.fetch_add(1, std::memory_order_relaxed);
        if (claim_writer_locked()) {
            const bool all_sent = write_now_locked();
            const bool start_reader = claim_reader_locked();
            lock.unlock();
            if (start_reader) spawn(read_loop(shared_from_this()));
            if (!all_sent) spawn(write_loop(shared_from_this()));
        }
        return Submitted::Queued;
    }

    /// Starts waiting on `waker` (the call's deadline timer) for the call to be done; the completion
    /// cancels the wait under the same lock, so no completion slips between the check and the wait.
    template <typename Handler>
    void wait(Call& call, asio::steady_timer& waker, Handler&& handler) {
        std::lock_guard lock(mutex_);
        waker.async_wait(std::forward<Handler>(handler));
        if (call.done) {
            waker.cancel();
        } else {
            call.waker = &waker;
        }
    }

    /// What finish() decided about a call whose timer fired.
    struct Verdict {
        enum class Kind {
            Done,       ///< answered or failed: its replies or `failure` are in the Call
            Wait,       ///< not yet, but the connection answers: wait again until `recheck`
            Dropped,    ///< given up, this call alone: Redis stopped answering (not written yet) ...
            Abandoned,  ///< ... or `give_up_at` passed while the connection kept answering others
        };
        Kind kind = Kind::Done;
        std::chrono::steady_clock::time_point recheck{};
    };

    /// After a wait: whether the call is done (answered or failed). If not, and the connection still
    /// answers (a reply read within the last timeout, or reply bytes waiting to be read: the process is
    /// slower than Redis, ADR 0053), the call waits on until `give_up_at`, and past it fails alone
    /// (Abandoned; a written call's reply is consumed when it comes). Otherwise Redis stopped answering this
    /// connection (or a command blocks it): a call not yet written is dropped (Dropped); a written one
    /// closes the connection and fails with its other calls (Done, with `failure` set).
    Verdict finish(const std::shared_ptr<Call>& call, std::chrono::steady_clock::time_point give_up_at) {
        using Clock = std::chrono::steady_clock;
        std::lock_guard lock(mutex_);
        call->waker = nullptr;
        if (call->done) {
            if (call->late && !call->failure) counters_->late.fetch_add(1, std::memory_order_relaxed);
            return {};
        }
        const Clock::time_point now = Clock::now();
        const bool answering = answering_locked(now);
        if (answering && now < give_up_at) {
            call->late = true;
            // Checked again when the connection would count as silent, or soon while unread replies show
            // that it answers and only this process is behind.
            const Clock::time_point silent_at = progress_at_ + timeout_;
            const Clock::time_point soon = now + std::max(timeout_ / 10, std::chrono::milliseconds(1));
            return {Verdict::Kind::Wait, std::min(give_up_at, std::max(silent_at, soon))};
        }
        const auto queued = std::find(unsent_.begin(), unsent_.end(), call);
        if (queued != unsent_.end()) {
            unsent_.erase(queued);
            counters_->pending.fetch_sub(1, std::memory_order_relaxed);
            return {answering ? Verdict::Kind::Abandoned : Verdict::Kind::Dropped, {}};
        }
        if (answering) {
            // Written, its reply still behind others' on a connection that works: the reply is consumed
            // when it comes (the Call stays in sent_), and the caller fails alone.
            counters_->pending.fetch_sub(1, std::memory_order_relaxed);
            call->abandoned = true;
            return {Verdict::Kind::Abandoned, {}};
        }
        close_locked(core::Problem::unavailable(
            kDependency, "redis did not answer within " + std::to_string(timeout_.count()) + " ms"));
        return {};
    }

    /// Fails whatever is still here and ends the connection.
    void shutdown() { close(core::Problem::unavailable(kDependency, "the redis client is closing")); }

    bool closed() {
        std::lock_guard lock(mutex_);
        return state_ == State::Closed;
    }

  private:
    enum class State { Connecting, Open, Closed };

    static awaitable<void> open(std::shared_ptr<Connection> self) {
        try {
            co_await self->connect();
            std::unique_lock lock(self->mutex_);
            if (self->state_ == State::Closed) co_return;
            self->state_ = State::Open;
            if (self->claim_writer_locked()) {
                lock.unlock();
                self->spawn(write_loop(self));
            }
        } catch (const core::Problem& problem) {
            self->close(problem);
        }
    }

    awaitable<std::vector<tcp::endpoint>> resolve(asio::steady_timer& deadline) {
        error_code parse_error;
        const auto address = asio::ip::make_address(url_.host, parse_error);
        if (!parse_error) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, url_.port)};

        // getaddrinfo cannot be cancelled, so the lookup finishes on its own and reports into a channel
        // it shares with us; we wait on the channel only until the deadline.
        auto results = std::make_shared<EndpointChannel>(strand_, 1);
        auto resolver = std::make_shared<tcp::resolver>(strand_);
        resolver->async_resolve(url_.host, std::to_string(url_.port),
                                [results, resolver](error_code ec, const tcp::resolver::results_type& found) {
                                    std::vector<tcp::endpoint> endpoints;
                                    for (const auto& entry : found) endpoints.push_back(entry.endpoint());
                                    results->try_send(ec, std::move(endpoints));
                                });
        auto [order, ec, endpoints, timer_ec] =
            co_await until(deadline, results->async_receive(asio::deferred));
        if (ec) throw failure("resolving the redis host", ec, order[0] == 1, timeout_);
        if (endpoints.empty()) {
            throw core::Problem::unavailable(kDependency, "the redis host name resolved to no address");
        }
        co_return endpoints;
    }

    /// Resolves, connects and sends AUTH/SELECT, all within one timeout.
    awaitable<void> connect() {
        asio::steady_timer deadline(strand_, timeout_);
        const std::vector<tcp::endpoint> endpoints = co_await resolve(deadline);
        auto [order, ec, endpoint, timer_ec] =
            co_await until(deadline, asio::async_connect(socket_, endpoints, asio::deferred));
        if (ec) throw failure("connecting to redis", ec, order[0] == 1, timeout_);
        error_code option_error;
        socket_.set_option(tcp::no_delay(true), option_error);
        socket_.set_option(asio::socket_base::keep_alive(true), option_error);

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
        if (expected == 0) co_return;
        auto [write_order, write_ec, written, write_timer_ec] =
            co_await until(deadline, asio::async_write(socket_, asio::buffer(hello), asio::deferred));
        if (write_ec) throw failure("writing to redis", write_ec, write_order[0] == 1, timeout_);
        std::size_t answered = 0;
        while (answered < expected) {
            std::optional<Reply> reply = next_reply();
            if (reply) {
                // A refused AUTH or SELECT is configuration, but it makes redis unusable just the same.
                if (reply->is_error()) {
                    throw core::Problem::unavailable(kDependency,
                                                     "redis refused AUTH/SELECT: " + reply->as_string());
                }
                ++answered;
                continue;
            }
            auto [read_order, read_ec, received, read_timer_ec] =
                co_await until(deadline, socket_.async_read_some(asio::buffer(buffer_), asio::deferred));
            if (read_ec) throw failure("reading from redis", read_ec, read_order[0] == 1, timeout_);
            feed(received);
        }
    }

    /// The next whole reply already received, if any.
    std::optional<Reply> next_reply() {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
            throw core::Problem::unavailable(kDependency,
                                             std::string("redis protocol error: ") + reader_->errstr);
        }
        if (raw == nullptr) return std::nullopt;
        const std::unique_ptr<void, ReplyFree> owned(raw);
        return to_reply(*static_cast<const redisReply*>(raw));
    }

    void feed(std::size_t received) {
        if (redisReaderFeed(reader_.get(), buffer_.data(), received) != REDIS_OK) {
            throw core::Problem::unavailable(kDependency, "redis reply buffer could not grow");
        }
    }

    /// Reads replies until every sent call has its own.
    static awaitable<void> read_loop(std::shared_ptr<Connection> self) {
        try {
            for (;;) {
                for (std::optional<Reply> reply = self->next_reply(); reply; reply = self->next_reply()) {
                    self->deliver(std::move(*reply));
                }
                {
                    std::lock_guard lock(self->mutex_);
                    if (self->sent_.empty() || self->state_ == State::Closed) {
                        self->reading_ = false;
                        co_return;
                    }
                }
                auto [ec, received] = co_await self->socket_.async_read_some(
                    asio::buffer(self->buffer_), asio::as_tuple(asio::use_awaitable));
                if (ec) throw failure("reading from redis", ec, false, self->timeout_);
                self->feed(received);
            }
        } catch (const core::Problem& problem) {
            std::lock_guard lock(self->mutex_);
            self->reading_ = false;
            self->close_locked(problem);
        }
    }

    /// Gives a reply to the oldest sent call; completes it when it has all of its replies.
    void deliver(Reply reply) {
        std::lock_guard lock(mutex_);
        if (sent_.empty()) {
            if (state_ == State::Closed) return;  // the calls already failed; their replies have no taker
            throw core::Problem::unavailable(kDependency, "redis sent a reply nobody asked for");
        }
        progress_at_ = std::chrono::steady_clock::now();
        Call& call = *sent_.front();
        call.replies.push_back(std::move(reply));
        if (call.replies.size() < call.expected) return;
        counters_->commands.fetch_add(call.expected, std::memory_order_relaxed);
        complete_locked(call);
        sent_.pop_front();
    }

    /// Whether the caller is to start the writer: there is something to write and no writer runs.
    bool claim_writer_locked() {
        if (writing_ || unsent_.empty() || state_ != State::Open) return false;
        writing_ = true;
        return true;
    }

    /// With the writer just claimed: sends what is queued from the caller's thread, in one non-blocking
    /// send, instead of starting write_loop on the strand (a hand-off to another thread per idle call, ADR
    /// 0035). mutex_ keeps every other writer out meanwhile. True when it is all sent (or the connection
    /// failed and its calls with it); false leaves the unsent rest in leftover_ for write_loop, which the
    /// caller then starts.
    bool write_now_locked() {
        std::string joined;
        const std::string* batch = &unsent_.front()->payload;
        if (unsent_.size() > 1) {
            for (const auto& call : unsent_) joined += call->payload;
            batch = &joined;
        }
        // Sent before written, as in write_loop. The calls stay alive in sent_ while the bytes go out.
        start_answer_clock_locked();
        for (auto& call : unsent_) sent_.push_back(std::move(call));
        unsent_.clear();
        const ssize_t n =
            ::send(socket_.native_handle(), batch->data(), batch->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0 && static_cast<std::size_t>(n) == batch->size()) {
            writing_ = false;
            return true;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            const error_code ec(errno, boost::system::system_category());
            writing_ = false;
            close_locked(failure("writing to redis", ec, false, timeout_));
            return true;
        }
        leftover_.assign(*batch, n > 0 ? static_cast<std::size_t>(n) : 0);
        return false;
    }

    /// Whether the caller is to start the reader: calls await replies and no reader runs.
    bool claim_reader_locked() {
        if (reading_ || sent_.empty() || state_ != State::Open) return false;
        reading_ = true;
        return true;
    }

    /// Starts a loop on the strand. Only with mutex_ released: co_spawn may run it here and now.
    void spawn(awaitable<void> loop) { asio::co_spawn(strand_, std::move(loop), asio::detached); }

    /// Writes whatever is queued, all of it in one write, until nothing is left.
    static awaitable<void> write_loop(std::shared_ptr<Connection> self) {
        std::string batch;
        for (;;) {
            batch.clear();
            bool start_reader = false;
            {
                std::lock_guard lock(self->mutex_);
                if ((self->unsent_.empty() && self->leftover_.empty()) || self->state_ != State::Open) {
                    self->writing_ = false;
                    co_return;
                }
                // What write_now_locked could not send goes first: its calls are already in sent_.
                batch.swap(self->leftover_);
                // Sent before written: a reply can only follow its write, and the order is the reply order.
                self->start_answer_clock_locked();
                for (auto& call : self->unsent_) {
                    batch += call->payload;
                    self->sent_.push_back(std::move(call));
                }
                self->unsent_.clear();
                start_reader = self->claim_reader_locked();
            }
            if (start_reader) self->spawn(read_loop(self));
            auto [ec, written] = co_await asio::async_write(self->socket_, asio::buffer(batch),
                                                            asio::as_tuple(asio::use_awaitable));
            if (ec) {
                self->close(failure("writing to redis", ec, false, self->timeout_));
                std::lock_guard lock(self->mutex_);
                self->writing_ = false;
                co_return;
            }
        }
    }

    /// The server did not close the connection and sent nothing unasked: a non-blocking peek, no round trip.
    bool peer_still_there() { return core::peer_still_there(socket_.native_handle()); }

    void complete_locked(Call& call) {
        call.done = true;
        if (!call.abandoned) counters_->pending.fetch_sub(1, std::memory_order_relaxed);
        if (call.waker != nullptr) call.waker->cancel();  // resumes the caller on its own executor
    }

    /// With calls about to be written to an idle connection: Redis owes an answer from now on, so its
    /// silence is counted from the first of them entering (as its deadline is), not from the last reply of
    /// an earlier, long finished exchange.
    void start_answer_clock_locked() {
        if (sent_.empty() && !unsent_.empty()) progress_at_ = unsent_.front()->entered;
    }

    /// Whether Redis answers this connection: open, and a reply was read within the last timeout, or reply
    /// bytes have arrived that this process has not read yet (it is slower than Redis: the reader's turn
    /// in a long run queue). A connection without written calls owes nothing and counts as answering.
    bool answering_locked(std::chrono::steady_clock::time_point now) {
        if (state_ != State::Open) return false;
        if (sent_.empty() || now - progress_at_ < timeout_) return true;
        int unread = 0;
        return ::ioctl(socket_.native_handle(), FIONREAD, &unread) == 0 && unread > 0;
    }

    void close(const core::Problem& problem) {
        std::lock_guard lock(mutex_);
        close_locked(problem);
    }

    /// Fails every call still here and closes the socket (on the strand, where the socket is used).
    void close_locked(const core::Problem& problem) {
        if (state_ == State::Closed) return;
        state_ = State::Closed;
        for (auto* queue : {&sent_, &unsent_}) {
            for (auto& call : *queue) {
                // One exception object per call: the callers rethrow and read it on their own threads at
                // once.
                call->failure = std::make_exception_ptr(problem);
                // An abandoned call's caller has already failed and counted it.
                if (!call->abandoned) counters_->errors.fetch_add(1, std::memory_order_relaxed);
                complete_locked(*call);
            }
            queue->clear();
        }
        leftover_.clear();  // its calls, in sent_, have just failed
        // A weak pointer: a close still queued when the Client and its I/O context go away owns nothing.
        asio::post(strand_, [weak = weak_from_this()] {
            if (const auto self = weak.lock()) {
                error_code ignored;
                self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                self->socket_.close(ignored);
            }
        });
    }

    asio::strand<asio::any_io_executor> strand_;
    tcp::socket socket_;
    std::unique_ptr<redisReader, ReaderFree> reader_;
    std::array<char, std::size_t{16} * 1024> buffer_{};
    const Url url_;
    const std::chrono::milliseconds timeout_;
    const std::shared_ptr<Counters> counters_;  ///< shared: a closing connection may outlive the Client

    std::mutex mutex_;
    State state_ = State::Connecting;  ///< guarded by mutex_
    bool writing_ = false;             ///< guarded by mutex_: a write_loop is running
    bool reading_ = false;             ///< guarded by mutex_: a read_loop is running
    std::string leftover_;  ///< guarded by mutex_: the part of a batch write_now_locked could not send
    /// guarded by mutex_: the last reply read, or when the first call written to the idle connection entered
    std::chrono::steady_clock::time_point progress_at_ = std::chrono::steady_clock::now();
    std::deque<std::shared_ptr<Call>> unsent_;  ///< guarded by mutex_: queued, not yet written
    std::deque<std::shared_ptr<Call>> sent_;    ///< guarded by mutex_: written, in reply order
};

/// Connections to one Redis server, each carrying many calls at once: the whole client in single-node mode,
/// one per node in cluster mode. Thread-safe.
class NodePool {
  public:
    NodePool(asio::any_io_executor executor, Url url, const ClientOptions& options,
             std::shared_ptr<Counters> counters);
    ~NodePool();
    NodePool(const NodePool&) = delete;
    NodePool& operator=(const NodePool&) = delete;

    /// Sends `payload` (RESP, `expected` commands) on one connection and returns its replies in order. A
    /// server down or slow, or every connection full: Problem::unavailable("redis").
    awaitable<std::vector<Reply>> execute(std::string payload, std::size_t expected);

    const Url& url() const noexcept { return url_; }

  private:
    /// Queues `call` on the next connection in turn that has room, opening one where a slot has none or
    /// a closed one. Throws 503 at once when every connection is full.
    std::shared_ptr<Connection> submit(const std::shared_ptr<Call>& call);

    asio::any_io_executor executor_;
    Url url_;
    std::chrono::milliseconds timeout_;
    std::chrono::milliseconds max_wait_;  ///< at least timeout_ (ADR 0053)
    std::size_t max_pending_per_connection_;
    std::shared_ptr<Counters> counters_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<Connection>> connections_;  ///< guarded by mutex_; pool_size slots
    std::size_t next_ = 0;                                  ///< guarded by mutex_; round robin
};

}  // namespace marquee::redis::detail
