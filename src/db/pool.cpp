#include "db/pool.hpp"

#include <algorithm>
#include <cassert>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "db/detail/connection.hpp"
#include "db/detail/pool_state.hpp"

namespace marquee::db {

namespace asio = boost::asio;

namespace detail {

struct PoolState::Waiter {
    enum class Outcome { Pending, Granted, TimedOut, Closed };

    explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
    // A grant whose coroutine was destroyed before it resumed (its context shut down) still owns a
    // connection or slot: hand it back so the pool's counts stay right.
    ~Waiter() {
        if (outcome == Outcome::Granted && !taken) {
            if (auto state = pool.lock()) state->release(std::move(connection), false);
        }
    }

    asio::steady_timer timer;
    std::weak_ptr<PoolState> pool;
    Outcome outcome = Outcome::Pending;
    bool taken = false;
    std::unique_ptr<Connection> connection;
    Parked handler;
    std::list<std::shared_ptr<Waiter>>::iterator position;
};

PoolState::PoolState(asio::any_io_executor executor, PoolOptions options)
    : executor_(std::move(executor)),
      options_([&options] {
          options.size = std::max<std::size_t>(options.size, 1);
          return std::move(options);
      }()),
      // The server stops a statement a second after the caller's deadline: the caller has given up by then,
      // and the server's stop is the one that never ends a COMMIT's wait for the standby (ADR 0021).
      settings_(make_connect_settings(options_.url, options_.application_name,
                                      options_.timeout + std::chrono::seconds(1))) {
    idle_.reserve(options_.size);  // release() must not allocate
}

PoolState::~PoolState() = default;

asio::awaitable<Session> PoolState::acquire() {
    const auto start = Clock::now();
    const auto deadline = start + options_.timeout;
    Grant grant;
    {
        std::lock_guard lock(mutex_);
        if (closed_) throw core::Problem::unavailable("postgres", "the connection pool is closed");
        grant = try_take_locked();
        if (!grant.granted && waiters_.size() >= options_.max_waiting) {
            ++shed_;
            throw core::Problem::unavailable(
                "postgres", "the database is busy: " + std::to_string(waiters_.size()) +
                                " callers already wait for one of " + std::to_string(options_.size) +
                                " connections");
        }
    }
    if (!grant.granted) grant = co_await wait(deadline);
    // From here the session owns the slot: if connecting fails, its destructor frees the slot.
    Session session(shared_from_this(), std::move(grant.connection), options_.timeout);
    if (session.connection_ && !session.connection_->is_alive()) session.connection_.reset();
    if (!session.connection_) session.connection_ = co_await connect(deadline);
    {
        std::lock_guard lock(mutex_);
        ++acquired_;
        acquire_wait_ += Clock::now() - start;
    }
    co_return session;
}

asio::awaitable<std::unique_ptr<Connection>> PoolState::connect(Clock::time_point deadline) {
    {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now();
        if (connect_failures_ > 0 && (probing_ || now < retry_at_)) {
            ++refused_unreachable_;
            const auto wait = std::max(retry_at_ - now, Clock::duration{0});
            const auto seconds = std::max<long>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
            throw core::Problem::unavailable("postgres",
                                             "the database is unreachable (reconnecting after " +
                                                 std::to_string(connect_failures_) + " failed attempts)",
                                             std::chrono::seconds(seconds));
        }
        if (connect_failures_ > 0) probing_ = true;
    }
    std::exception_ptr failure;
    std::unique_ptr<Connection> connection;
    try {
        connection = co_await Connection::open(executor_, settings_, deadline);
    } catch (...) {
        failure = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    probing_ = false;
    if (connection) {
        ++connects_;
        if (connect_failures_ > 0) {
            core::log_info("postgres reachable again", {{"failed_attempts", connect_failures_}});
        }
        connect_failures_ = 0;
        co_return connection;
    }
    ++connect_errors_;
    ++connect_failures_;
    // 100 ms, 200 ms, ... up to 2 s, each between half and all of it, so a pool keeps knocking at least
    // every 2 s for as long as the failover takes, and replicas do not knock in lockstep.
    thread_local std::minstd_rand random{std::random_device{}()};
    const long ceiling_ms = std::min(100L << std::min(connect_failures_ - 1, 5), 2'000L);
    std::uniform_int_distribution<long> pick(ceiling_ms / 2, ceiling_ms);
    retry_at_ = Clock::now() + std::chrono::milliseconds(pick(random));
    std::rethrow_exception(failure);
}

PoolState::Grant PoolState::try_take_locked() {
    // Nobody overtakes a queued caller (release() hands everything to the queue first, so this holds
    // anyway; checking keeps FIFO true by construction).
    if (!waiters_.empty()) return {};
    if (!idle_.empty()) {
        Grant grant{true, std::move(idle_.back())};
        idle_.pop_back();
        ++in_use_;
        return grant;
    }
    if (open_ < options_.size) {
        ++open_;
        ++in_use_;
        return {true, nullptr};
    }
    return {};
}

asio::awaitable<PoolState::Grant> PoolState::wait(Clock::time_point deadline) {
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiter->pool = weak_from_this();
    waiter->timer.expires_at(deadline);
    // A named initiation, not a temporary inside the co_await expression: GCC 12 mishandles the lifetime of
    // such temporaries with non-trivial captures (double destruction).
    auto park = [this, waiter](auto handler) {
        std::unique_lock lock(mutex_);
        // Something may have been released since acquire() looked.
        Grant grant = closed_ ? Grant{} : try_take_locked();
        if (closed_ || grant.granted) {
            waiter->outcome = closed_ ? Waiter::Outcome::Closed : Waiter::Outcome::Granted;
            waiter->connection = std::move(grant.connection);
            lock.unlock();
            Parked(std::move(handler), executor_).resume();
            return;
        }
        waiter->handler = Parked(std::move(handler), executor_);
        waiter->position = waiters_.insert(waiters_.end(), waiter);
        // Started under the mutex, so it happens before any grant, and the resumed waiter's cancel()
        // below never races this call.
        waiter->timer.async_wait(
            [self = shared_from_this(), waiter](boost::system::error_code) { self->expire(waiter); });
    };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(std::move(park),
                                                                         asio::use_awaitable);
    waiter->timer.cancel();
    switch (waiter->outcome) {
        case Waiter::Outcome::Granted:
            waiter->taken = true;
            co_return Grant{true, std::move(waiter->connection)};
        case Waiter::Outcome::TimedOut:
            throw core::Problem::unavailable("postgres", "no database connection became free within " +
                                                             std::to_string(options_.timeout.count()) +
                                                             " ms (all " + std::to_string(options_.size) +
                                                             " busy)");
        case Waiter::Outcome::Closed:
        case Waiter::Outcome::Pending:
            break;
    }
    assert(waiter->outcome == Waiter::Outcome::Closed);
    throw core::Problem::unavailable("postgres", "the connection pool is closed");
}

void PoolState::expire(const std::shared_ptr<Waiter>& waiter) noexcept {
    Parked handler;
    {
        std::lock_guard lock(mutex_);
        if (waiter->outcome != Waiter::Outcome::Pending) return;  // granted first: the grant wins
        waiters_.erase(waiter->position);
        waiter->outcome = Waiter::Outcome::TimedOut;
        ++acquire_timeouts_;
        handler = std::move(waiter->handler);
    }
    handler.resume();
}

void PoolState::release(std::unique_ptr<Connection> connection, bool discard) noexcept {
    std::unique_ptr<Connection> doomed;
    std::shared_ptr<Waiter> next;
    Parked handler;
    {
        std::lock_guard lock(mutex_);
        if (connection && (discard || closed_ || !connection->is_reusable())) doomed = std::move(connection);
        if (!closed_ && !waiters_.empty()) {
            // The first waiter gets the connection, or the freed slot to open a new one in.
            next = std::move(waiters_.front());
            waiters_.pop_front();
            next->outcome = Waiter::Outcome::Granted;
            next->connection = std::move(connection);
            handler = std::move(next->handler);
        } else {
            --in_use_;
            if (connection) {
                idle_.push_back(std::move(connection));
            } else {
                --open_;
            }
        }
    }
    doomed.reset();  // outside the lock: closing may start a cancel request
    if (handler) handler.resume();
}

void PoolState::close() noexcept {
    std::vector<std::unique_ptr<Connection>> idle;
    std::vector<Parked> handlers;
    std::list<std::shared_ptr<Waiter>> waiters;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        idle.swap(idle_);
        open_ -= idle.size();
        waiters.swap(waiters_);
        for (auto& waiter : waiters) {
            waiter->outcome = Waiter::Outcome::Closed;
            handlers.push_back(std::move(waiter->handler));
        }
    }
    idle.clear();
    for (auto& handler : handlers) handler.resume();
}

Pool::Stats PoolState::stats() const {
    std::lock_guard lock(mutex_);
    Pool::Stats stats;
    stats.size = options_.size;
    stats.open = open_;
    stats.in_use = in_use_;
    stats.idle = idle_.size();
    stats.waiting = waiters_.size();
    stats.acquired = acquired_;
    stats.acquire_timeouts = acquire_timeouts_;
    stats.shed = shed_;
    stats.connects = connects_;
    stats.connect_errors = connect_errors_;
    stats.refused_unreachable = refused_unreachable_;
    stats.unreachable = connect_failures_ > 0;
    stats.acquire_wait = std::chrono::duration_cast<std::chrono::nanoseconds>(acquire_wait_);
    return stats;
}

}  // namespace detail

Pool::Pool(asio::any_io_executor executor, PoolOptions options)
    : state_(std::make_shared<detail::PoolState>(std::move(executor), std::move(options))) {}

Pool::~Pool() {
    state_->close();
}

asio::awaitable<Result> Pool::query(std::string sql, Params params) {
    Session held = co_await session();
    co_return co_await held.connection().query(sql, params, held.timeout());
}

asio::awaitable<Session> Pool::session() {
    const auto state = state_;  // the pool may be destroyed while this waits
    co_return co_await state->acquire();
}

asio::awaitable<bool> Pool::ping() {
    bool answered = false;
    try {
        const Result result = co_await query("SELECT 1");
        answered = result.rows() == 1;
    } catch (...) {  // readiness is a yes or no: any failure is a no
        answered = false;
    }
    co_return answered;
}

Pool::Stats Pool::stats() const {
    return state_->stats();
}

const PoolOptions& Pool::options() const noexcept {
    return state_->options();
}

asio::awaitable<Transaction> Pool::begin(Isolation isolation, int attempt) {
    const char* statement = "BEGIN ISOLATION LEVEL READ COMMITTED";
    switch (isolation) {
        case Isolation::ReadCommitted:
            break;
        case Isolation::RepeatableRead:
            statement = "BEGIN ISOLATION LEVEL REPEATABLE READ";
            break;
        case Isolation::Serializable:
            statement = "BEGIN ISOLATION LEVEL SERIALIZABLE";
            break;
    }
    Session held = co_await session();
    co_await held.connection().query(statement, Params{}, held.timeout());
    co_return Transaction(std::move(held), isolation, attempt);
}

bool Pool::is_retryable(const SqlError& error) noexcept {
    return error.is(sqlstate::kSerializationFailure) || error.is(sqlstate::kDeadlockDetected);
}

asio::awaitable<void> Pool::backoff(int failed_attempts) {
    // Jittered exponential pause (2.5-5 ms, 5-10 ms, ... up to 50-100 ms) so the transactions that just
    // collided do not collide again in lockstep.
    thread_local std::minstd_rand random{std::random_device{}()};
    const long ceiling_us = std::min(5'000L << std::min(failed_attempts - 1, 5), 100'000L);
    std::uniform_int_distribution<long> pick(ceiling_us / 2, ceiling_us);
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::microseconds(pick(random)));
    co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace marquee::db
