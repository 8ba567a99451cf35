#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "db/params.hpp"
#include "db/result.hpp"

namespace marquee::db {

namespace detail {
class Connection;
class PoolState;
}  // namespace detail

/// One pooled connection held exclusively until the Session is destroyed, for work that needs one server
/// session across statements (advisory locks, scripts). Everyday code uses Pool::query and
/// Pool::transaction instead. Statements run one at a time: never share a Session between coroutines.
class Session {
  public:
    Session(Session&& other) noexcept;
    Session& operator=(Session&& other) noexcept;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    /// Returns the connection to the pool, or closes it if it is broken, busy, inside a transaction or
    /// discarded.
    ~Session();

    /// One statement with $1..$n parameters; see Pool::query.
    boost::asio::awaitable<Result> query(std::string sql, Params params = {});
    /// Several statements separated by semicolons, without parameters (simple-query protocol). Returns the
    /// last statement's result; the first failing statement throws SqlError and stops the rest.
    boost::asio::awaitable<Result> execute(std::string script);

    /// Deadline for each later statement (default: PoolOptions::timeout).
    void set_timeout(std::chrono::milliseconds timeout) noexcept { timeout_ = timeout; }
    std::chrono::milliseconds timeout() const noexcept { return timeout_; }
    /// Close the connection on release instead of pooling it. Use it after changing session state
    /// (advisory locks, SET): closing drops all of it, even when the holder fails half-way.
    void discard() noexcept { discard_ = true; }

  private:
    friend class detail::PoolState;
    friend class Pool;
    friend class Transaction;

    Session(std::shared_ptr<detail::PoolState> pool, std::unique_ptr<detail::Connection> connection,
            std::chrono::milliseconds timeout) noexcept;
    detail::Connection& connection() const noexcept;
    void release() noexcept;

    std::shared_ptr<detail::PoolState> pool_;
    std::unique_ptr<detail::Connection> connection_;  // null while the slot is still being connected
    std::chrono::milliseconds timeout_;
    bool discard_ = false;
};

}  // namespace marquee::db
