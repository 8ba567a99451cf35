#include "db/pool.hpp"

#include <algorithm>
#include <cassert>
#include <map>
#include <random>
#include <string_view>

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
    std::string_view label;  // the caller's statement (it outlives the wait), for the shed log
    Priority priority = Priority::Normal;
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

asio::awaitable<Session> PoolState::acquire(std::string_view label, Priority priority) {
    const auto start = Clock::now();
    const auto deadline = start + options_.timeout;
    Grant grant;
    std::string refusal;
    boost::json::object shed_report;
    {
        std::lock_guard lock(mutex_);
        if (closed_) throw core::Problem::unavailable("postgres", "the connection pool is closed");
        grant = try_take_locked();
        const auto expected = grant.granted ? Clock::duration{0} : expected_wait_locked(start);
        const bool full = !grant.granted && waiters_.size() >= options_.max_waiting;
        // Half the deadline: the estimate is of a moment, and a caller admitted near the deadline times out
        // (a slow failure) as soon as the rate dips; refused at once, it retries or the room slows down.
        const bool too_slow = !grant.granted && expected > options_.timeout / 2;
        if (full || too_slow) {
            if (priority == Priority::Finish) {
                // Completes money already moved: queued past the bound, ahead of new work (ADR 0040).
                ++finish_over_bound_;
            } else {
                ++shed_;
                if (!full) ++shed_expected_wait_;
                refusal = "the database is busy: " + std::to_string(waiters_.size()) +
                          " callers already wait for one of " + std::to_string(options_.size) +
                          " connections";
                if (!full) {
                    refusal +=
                        " (about " +
                        std::to_string(std::chrono::ceil<std::chrono::milliseconds>(expected).count()) +
                        " ms at the measured rate, beyond half the " +
                        std::to_string(options_.timeout.count()) + " ms deadline)";
                }
                shed_report = shed_report_locked(label, expected);
            }
        }
    }
    if (!refusal.empty()) {
        if (!shed_report.empty()) core::log_warn("database pool shedding callers", shed_report);
        throw core::Problem::unavailable("postgres", refusal);
    }
    if (!grant.granted) {
        grant = co_await wait(deadline, label, priority);
    }
    // From here the session owns the slot: if connecting fails, its destructor frees the slot.
    Session session(shared_from_this(), std::move(grant.connection), options_.timeout);
    if (session.connection_ && !session.connection_->is_alive()) session.connection_.reset();
    if (!session.connection_) {
        session.connection_ = co_await connect(deadline);
    }
    {
        std::lock_guard lock(mutex_);
        ++acquired_;
        if (priority == Priority::Finish) ++finish_acquired_;
        acquire_wait_ += Clock::now() - start;
    }
    co_return session;
}

namespace {

/// What a queued caller waits to run, in a word: its statement's first schema-qualified function
/// (`wallet.settle_charge`), else the statement's first 48 characters.
std::string_view work_of(std::string_view sql) {
    for (std::size_t open = sql.find('('); open != std::string_view::npos; open = sql.find('(', open + 1)) {
        std::size_t begin = open;
        while (begin > 0) {
            const char c = sql[begin - 1];
            const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '_' || c == '.';
            if (!word) break;
            --begin;
        }
        const auto name = sql.substr(begin, open - begin);
        const auto dot = name.find('.');
        if (dot != std::string_view::npos && dot > 1) return name;
    }
    return sql.substr(0, 48);
}

}  // namespace

boost::json::object PoolState::shed_report_locked(std::string_view label, Clock::duration expected) {
    const auto now = Clock::now();
    if (now - shed_logged_ < std::chrono::seconds(1)) return {};
    std::map<std::string_view, std::uint64_t> counts;
    for (const auto& waiter : waiters_) ++counts[work_of(waiter->label)];
    std::vector<std::pair<std::string_view, std::uint64_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string waiting_for;
    for (std::size_t i = 0; i < sorted.size() && i < 12; ++i) {
        if (!waiting_for.empty()) waiting_for += ", ";
        waiting_for += std::string(sorted[i].first) + "=" + std::to_string(sorted[i].second);
    }
    boost::json::object report{
        {"waiting", static_cast<std::uint64_t>(waiters_.size())},
        {"handover_interval_us",
         std::chrono::duration_cast<std::chrono::microseconds>(handovers_.interval()).count()},
        {"expected_wait_ms", std::chrono::duration_cast<std::chrono::milliseconds>(expected).count()},
        {"in_use", static_cast<std::uint64_t>(in_use_)},
        {"shed_total", shed_},
        {"shed_since_last_report", shed_ - shed_at_last_report_},
        {"shed_caller", std::string(work_of(label))},
        {"waiting_for", std::move(waiting_for)}};
    shed_logged_ = now;
    shed_at_last_report_ = shed_;
    return report;
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
    const auto started = Clock::now();
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
    // A connect that ran out of its caller's deadline, after the caller had spent most of it queueing, says
    // nothing about the server: it was handed a slot freed by a dropped connection too late to connect in.
    // While the server is believed reachable it does not start the back-off, which would refuse every caller
    // as "unreachable" for up to 2 s (seen at a load average of 8-10: 6 of 9 failed connects had 0-21 ms of a
    // 200 ms deadline left). Once the pool backs off, every failure counts.
    const bool starved = Clock::now() >= deadline && deadline - started < options_.timeout / 2;
    if (starved && connect_failures_ == 0) std::rethrow_exception(failure);
    ++connect_failures_;
    // 100 ms, 200 ms, ... up to 2 s, each between half and all of it, so a pool keeps knocking at least
    // every 2 s for as long as the failover takes, and replicas do not knock in lockstep.
    thread_local std::minstd_rand random{std::random_device{}()};
    const long ceiling_ms = std::min(100L << std::min(connect_failures_ - 1, 5), 2'000L);
    std::uniform_int_distribution<long> pick(ceiling_ms / 2, ceiling_ms);
    retry_at_ = Clock::now() + std::chrono::milliseconds(pick(random));
    std::rethrow_exception(failure);
}

PoolState::Clock::duration PoolState::expected_wait_locked(Clock::time_point now) const {
    // A queue shorter than the pool: no estimate (only max_waiting applies).
    if (waiters_.size() < options_.size) return Clock::duration{0};
    return handovers_.expected_wait(waiters_.size(), now);
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

asio::awaitable<PoolState::Grant> PoolState::wait(Clock::time_point deadline, std::string_view label,
                                                  Priority priority) {
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiter->pool = weak_from_this();
    waiter->label = label;
    waiter->priority = priority;
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
        if (waiter->priority == Priority::Finish) {
            // Behind the Finish callers already queued, ahead of every Normal one.
            waiter->position = waiters_.insert(
                std::next(waiters_.begin(), static_cast<std::ptrdiff_t>(finish_waiting_)), waiter);
            ++finish_waiting_;
        } else {
            waiter->position = waiters_.insert(waiters_.end(), waiter);
        }
        if (waiters_.size() == 1) handovers_.queue_formed(Clock::now());  // the gap counts from here
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
        if (waiter->priority == Priority::Finish) --finish_waiting_;
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
            // The queue's service rate: the time between hand-overs (ADR 0056).
            handovers_.handover(Clock::now());
            next = std::move(waiters_.front());
            waiters_.pop_front();
            if (next->priority == Priority::Finish) --finish_waiting_;
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
        finish_waiting_ = 0;
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
    stats.shed_expected_wait = shed_expected_wait_;
    stats.handover_interval = std::chrono::duration_cast<std::chrono::nanoseconds>(handovers_.interval());
    stats.handovers = handovers_.measured();
    stats.finish_acquired = finish_acquired_;
    stats.finish_over_bound = finish_over_bound_;
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

asio::awaitable<Result> Pool::query(std::string sql, Params params, Priority priority) {
    const auto state = state_;  // the pool may be destroyed while this waits
    Session held = co_await state->acquire(sql, priority);
    co_return co_await held.connection().query(sql, params, held.timeout());
}

asio::awaitable<Session> Pool::session(Priority priority) {
    const auto state = state_;  // the pool may be destroyed while this waits
    co_return co_await state->acquire("session", priority);
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
    const auto state = state_;
    Session held = co_await state->acquire("transaction");
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
