#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "db/params.hpp"
#include "db/result.hpp"
#include "db/session.hpp"
#include "db/sql_error.hpp"
#include "db/transaction.hpp"

namespace marquee::db {

struct PoolOptions {
    /// libpq URL or key=value string, e.g. postgresql://marquee@127.0.0.1:5432/marquee.
    std::string url;
    /// The most connections the pool opens; opened lazily, on demand.
    std::size_t size = 8;
    /// Deadline for acquiring a connection (queueing + connecting) and, separately, for each statement.
    std::chrono::milliseconds timeout{5000};
    /// Shown in pg_stat_activity.
    std::string application_name = "marquee";
    /// Callers queued for a connection at most; one more is refused at once with 503 (load shedding):
    /// a queue longer than the pool can serve within `timeout` only turns fast failures into slow ones.
    /// Below it, what decides is the wait a new caller can expect (ADR 0040): the queue's length times the
    /// measured time between hand-overs while callers queue. A caller is refused at once when that wait
    /// exceeds half of `timeout` (the estimate is of a moment: a caller let in near the deadline times out as
    /// soon as the rate dips), and served otherwise, however long the queue: a fixed
    /// count of 512 shed callers that 8 connections would have served within a second.
    std::size_t max_waiting = 4096;
};

/// What a caller's statement is for, as the waiting bound sees it (ADR 0040).
///  - Normal: new work. Refused at once with 503 when `max_waiting` callers already queue, or when the
///    wait it can expect exceeds half of `timeout` (see PoolOptions::max_waiting).
///  - Finish: the step that completes money already moved (a gateway's answer applied to a PENDING
///    charge or payment). Never refused by the waiting bound, and queued ahead of every Normal caller (in
///    arrival order among Finish callers), still within `timeout`: shedding it would only leave the money
///    to the recovery job, while the connection it waits for is freed by the new work that shed would have
///    protected it from.
enum class Priority { Normal, Finish };

namespace detail {
class PoolState;

template <class Awaitable>
struct AwaitableValue {
    static_assert(kDependentFalse<Awaitable>,
                  "the function given to Pool::transaction must return boost::asio::awaitable<T>");
};
template <class T, class Executor>
struct AwaitableValue<boost::asio::awaitable<T, Executor>> {
    using type = T;
};
template <class F>
using TransactionValue = typename AwaitableValue<std::invoke_result_t<F&, Transaction&>>::type;
}  // namespace detail

/// PostgreSQL connections for coroutines, driven by the Asio loop without blocking it (see
/// docs/decisions/0003-async-libpq-on-asio.md). Thread-safe: use one Pool from any number of coroutines on
/// any number of threads. When every connection is busy, callers queue first-come first-served until
/// `timeout`, at most `max_waiting` of them, and no more than the pool is measured to serve within `timeout`.
/// Failures of the server or network, and every deadline, are core::Problem::unavailable
/// ("postgres", 503); an SQL error is SqlError.
///
/// Failover (docs/decisions/0021-postgres-failover.md): give `url` every node
/// (`host=a,b port=p,q target_session_attrs=read-write`); libpq walks the list to the read-write one. A
/// connection that is lost or reaches a node that cannot write (SQLSTATE 08xxx, 57P01-57P03, 25006) is
/// dropped, never reused. When a connect fails, later connects back off (100 ms doubling to 2 s, jittered)
/// and only one caller at a time tries; the rest get 503 + Retry-After at once rather than wait out their
/// deadline. A connect that only ran out of a deadline its caller had mostly (over half) spent queueing
/// fails that caller alone and starts no back-off. Nothing is retried after a statement was sent: a COMMIT
/// whose answer was lost is in doubt, and it is the caller's idempotency key that settles it.
class Pool {
  public:
    struct Stats {
        std::size_t size = 0;        ///< the most connections the pool opens
        std::size_t open = 0;        ///< connections open or being opened
        std::size_t in_use = 0;      ///< held by a query, transaction or session (or being opened for one)
        std::size_t idle = 0;        ///< open and waiting in the pool
        std::size_t waiting = 0;     ///< callers queued for a connection
        std::uint64_t acquired = 0;  ///< connections handed out so far
        std::uint64_t acquire_timeouts = 0;  ///< callers that gave up queueing
        std::uint64_t shed = 0;  ///< callers refused at once: the queue was full, or too slow to wait in
        std::uint64_t shed_expected_wait = 0;           ///< of them, refused for the wait they could expect
        std::chrono::nanoseconds handover_interval{0};  ///< measured time between hand-overs while queued
        std::uint64_t handovers = 0;        ///< hand-overs measured into handover_interval so far (ADR 0045)
        std::uint64_t finish_acquired = 0;  ///< Priority::Finish callers granted a connection
        std::uint64_t finish_over_bound = 0;       ///< Finish callers queued although the queue was full
        std::uint64_t connects = 0;                ///< connections opened so far (first opens and reconnects)
        std::uint64_t connect_errors = 0;          ///< connects that failed (no primary reachable, deadline)
        std::uint64_t refused_unreachable = 0;     ///< callers refused at once while reconnecting backs off
        bool unreachable = false;                  ///< the last connect failed; backing off
        std::chrono::nanoseconds acquire_wait{0};  ///< total time spent acquiring (queueing + connecting)
    };

    /// I/O objects (sockets, timers) belong to `executor`'s context; callers may run on other executors
    /// and resume on their own. Connects nothing until first used.
    Pool(boost::asio::any_io_executor executor, PoolOptions options);
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;
    /// Closes idle connections and fails queued callers; connections still held close when released.
    ~Pool();

    /// One statement in its own (auto-commit) transaction, with $1..$n parameters. `priority` Finish is for
    /// the statement that applies a payment gateway's answer (see Priority).
    boost::asio::awaitable<Result> query(std::string sql, Params params = {},
                                         Priority priority = Priority::Normal);

    /// Runs `fn(Transaction&) -> awaitable<R>` between BEGIN ISOLATION LEVEL ... and COMMIT and returns its
    /// R. A serialization failure (40001) or deadlock (40P01), in `fn` or at COMMIT, rolls back and runs `fn`
    /// again on a fresh transaction after a short jittered pause, up to `max_attempts` tries in all; any
    /// other exception rolls back and propagates. `fn` is owned here across every try; it must be safe to
    /// run more than once and must not make network calls (they cannot be rolled back). Capture by
    /// reference (see the GCC 12 note in the body):
    ///   co_await pool.transaction([&](db::Transaction& tx) -> asio::awaitable<Hold> { ... });
    template <class F>
    boost::asio::awaitable<detail::TransactionValue<F>> transaction(
        F fn, Isolation isolation = Isolation::ReadCommitted, int max_attempts = 5);

    /// Holds one connection for session-level work (advisory locks, scripts); see Session.
    boost::asio::awaitable<Session> session(Priority priority = Priority::Normal);

    /// SELECT 1 within the timeout: true when PostgreSQL answers, false instead of throwing (/readyz).
    boost::asio::awaitable<bool> ping();

    Stats stats() const;
    const PoolOptions& options() const noexcept;

  private:
    boost::asio::awaitable<Transaction> begin(Isolation isolation, int attempt);
    static bool is_retryable(const SqlError& error) noexcept;
    static boost::asio::awaitable<void> backoff(int failed_attempts);

    std::shared_ptr<detail::PoolState> state_;
};

template <class F>
boost::asio::awaitable<detail::TransactionValue<F>> Pool::transaction(F fn, Isolation isolation,
                                                                      int max_attempts) {
    using Value = detail::TransactionValue<F>;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
    // GCC 12 destroys a lambda temporary that appears inside a co_await expression twice, so
    // `co_await pool.transaction([s = std::string(...)](Transaction&) ...)` would free `s` twice.
    // Capture by reference instead: the awaiting coroutine's locals outlive the transaction.
    static_assert(std::is_trivially_destructible_v<F>,
                  "Pool::transaction: capture by reference ([&]), not by value: GCC 12 destroys lambda "
                  "temporaries in a co_await expression twice");
#endif
    for (int attempt = 1;; ++attempt) {
        std::exception_ptr failure;
        {
            Transaction tx = co_await begin(isolation, attempt);
            // co_await is not allowed inside a handler: decide there, roll back after it.
            try {
                if constexpr (std::is_void_v<Value>) {
                    co_await fn(tx);
                    co_await tx.commit();
                    co_return;
                } else {
                    Value value = co_await fn(tx);
                    co_await tx.commit();
                    co_return value;
                }
            } catch (const SqlError& error) {
                if (!is_retryable(error) || attempt >= max_attempts) failure = std::current_exception();
            } catch (...) {
                failure = std::current_exception();
            }
            co_await tx.rollback();
        }  // the connection goes back to the pool before any pause
        if (failure) std::rethrow_exception(failure);
        co_await backoff(attempt);
    }
}

}  // namespace marquee::db
