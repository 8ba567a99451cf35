#pragma once

// One libpq connection driven by the Asio loop: non-blocking libpq, waits on the socket with
// stream_descriptor::async_wait. Only db/ includes this header.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "db/detail/pg_fwd.hpp"
#include "db/params.hpp"
#include "db/result.hpp"

namespace marquee::db::detail {

/// libpq connection keywords derived once from PoolOptions; `error` is set when the URL does not parse
/// (reported as 503 on each connect, like any other reason the database cannot be reached).
struct ConnectSettings {
    std::vector<std::pair<std::string, std::string>> keywords;
    std::string error;
};

/// `statement_timeout` becomes the server's statement_timeout (0: none): the server, not the client, stops a
/// statement that runs too long, because a client-side cancel would also end a COMMIT's wait for the
/// synchronous standby and make that commit visible on one node only (docs/decisions/0021).
ConnectSettings make_connect_settings(const std::string& url, const std::string& application_name,
                                      std::chrono::milliseconds statement_timeout = std::chrono::milliseconds{
                                          0});

using Keywords = std::vector<std::pair<std::string, std::string>>;

/// connect_timeout from the URL, which Connection::open applies to each host (libpq enforces it only in its
/// blocking connect); at least 2 s, as libpq does; none when absent or not a positive number.
std::optional<std::chrono::seconds> per_host_timeout(const Keywords& keywords);

/// `keywords` with the host, hostaddr and port lists cut to the hosts after the one libpq was trying
/// (PQhost/PQport/PQhostaddr); nullopt when it was the last or cannot be found.
std::optional<Keywords> hosts_after(Keywords keywords, std::string_view host, std::string_view port,
                                    std::string_view address);

/// What became of the server-side cancel of a statement past its deadline inside a transaction
/// (Connection::cancel_in_background, db/cancels.hpp).
enum class CancelStart {
    Sent,             ///< a cancel thread was started
    AlreadySent,      ///< one was started for this connection before
    TooManyInFlight,  ///< kMaxCancelsInFlight were in flight: skipped
    NoCancelHandle,   ///< libpq's PQgetCancel gave none (the connection has no socket)
    NoThread,         ///< the thread could not be started
};

/// The 503's detail for a statement inside a transaction past its `timeout`, saying what became of its
/// cancel (when none was sent, the server's statement_timeout stops the statement).
std::string past_deadline_detail(std::chrono::milliseconds timeout, CancelStart start);

class Connection {
  public:
    using Clock = std::chrono::steady_clock;

    /// Connects without blocking: async DNS, then PQconnectStartParams/PQconnectPoll on the socket.
    /// Throws core::Problem::unavailable("postgres", ...) on failure or when `deadline` passes.
    static boost::asio::awaitable<std::unique_ptr<Connection>> open(boost::asio::any_io_executor executor,
                                                                    ConnectSettings settings,
                                                                    Clock::time_point deadline);

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    /// Cancels a statement still running on the server, then closes.
    ~Connection();

    /// One statement, extended protocol ($1..$n, text format). SqlError for an SQL error;
    /// Problem::unavailable when the connection fails or `timeout` passes (the statement is then cancelled
    /// and the connection is no longer reusable).
    boost::asio::awaitable<Result> query(const std::string& sql, const Params& params,
                                         std::chrono::milliseconds timeout);
    /// Any number of statements, simple-query protocol, no parameters; returns the last statement's result
    /// and throws the first error.
    boost::asio::awaitable<Result> execute(const std::string& script, std::chrono::milliseconds timeout);

    /// Idle, healthy and in no transaction: safe to hand to the next user.
    bool is_reusable() const noexcept;
    /// For an idle connection: false when the server closed it meanwhile (restart, idle kill).
    bool is_alive() noexcept;
    /// Inside BEGIN ... (including a failed transaction that still needs ROLLBACK).
    bool in_transaction() const noexcept;
    /// Inside a transaction that an error aborted: only ROLLBACK will do.
    bool transaction_failed() const noexcept;

  private:
    enum class Wait { Ready, DeadlineExceeded };

    Connection(boost::asio::any_io_executor executor, pg_conn* conn);

    /// Watches libpq's current socket; true when it is a new one (libpq moved to another address or host).
    bool track_socket();
    /// Until the socket is ready or `deadline` passes. The race runs on `strand_` (wait_on_strand).
    boost::asio::awaitable<Wait> wait(bool for_write, Clock::time_point deadline);
    boost::asio::awaitable<Wait> wait_on_strand(bool for_write, Clock::time_point deadline);
    boost::asio::awaitable<Result> finish(std::chrono::milliseconds timeout);
    /// The name of `sql`'s prepared statement on this connection, prepared now if it is new (ADR 0054); null
    /// when it is sent unnamed instead (the cache is full, or the transaction has failed).
    boost::asio::awaitable<const std::string*> prepared(const std::string& sql, int parameters,
                                                        Clock::time_point deadline);
    static std::chrono::milliseconds remaining(Clock::time_point deadline);
    [[noreturn]] void fail(std::string what);
    [[noreturn]] void throw_error(const ResultPtr& error);
    /// Starts a server-side cancel of the statement in flight on a thread of its own, unless one was sent
    /// already or kMaxCancelsInFlight are in flight (db/cancels.hpp); says which.
    CancelStart cancel_in_background() noexcept;

    boost::asio::any_io_executor executor_;
    // The socket's waits, and the deadline timers raced against them, complete only here, and the race is
    // started here too: Boost 1.81's parallel_group may otherwise still emit its cancellations into a timer
    // or a socket that a resumed caller on another thread has already destroyed (docs/reliability.md, Issue
    // 15).
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    pg_conn* conn_;
    // A dup of libpq's socket: Asio owns (and closes) its own descriptor, so libpq closing or replacing its
    // socket never leaves a stale fd number registered with the reactor.
    boost::asio::posix::stream_descriptor socket_;
    unsigned long socket_inode_ = 0;
    bool broken_ = false;
    bool cancel_sent_ = false;
    // The statement in flight may be committing (auto-commit, or COMMIT itself): never cancelled from here.
    bool may_be_committing_ = false;
    // ADR 0054: each distinct statement text of query() is prepared once per connection (named mq1, mq2,
    // ...), up to kMaxPrepared of them; the server keeps their parse trees and plans for the session.
    static constexpr std::size_t kMaxPrepared = 256;
    static constexpr std::string_view kCachedPlanChanged = "0A000";
    std::unordered_map<std::string, std::string> prepared_;
    std::uint64_t statements_named_ = 0;
};

}  // namespace marquee::db::detail
