#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "db/params.hpp"
#include "db/result.hpp"
#include "db/session.hpp"

namespace marquee::db {

enum class Isolation { ReadCommitted, RepeatableRead, Serializable };

/// The open transaction handed to the function given to Pool::transaction, which begins it and then
/// commits or rolls it back. Statements run one after another: do not run two at once.
class Transaction {
  public:
    Transaction(Transaction&&) noexcept = default;
    Transaction& operator=(Transaction&&) noexcept = default;

    /// One statement inside the transaction. An SqlError leaves the transaction failed: let it propagate
    /// (Pool::transaction rolls back, and retries serialization failures and deadlocks).
    boost::asio::awaitable<Result> query(std::string sql, Params params = {});

    Isolation isolation() const noexcept { return isolation_; }
    /// 1 on the first try; 2 after one serialization failure or deadlock; ...
    int attempt() const noexcept { return attempt_; }

  private:
    friend class Pool;

    Transaction(Session session, Isolation isolation, int attempt) noexcept;
    boost::asio::awaitable<void> commit();
    /// Never throws: a connection that cannot roll back is closed instead, which rolls back too.
    boost::asio::awaitable<void> rollback();

    Session session_;
    Isolation isolation_;
    int attempt_;
};

}  // namespace marquee::db
