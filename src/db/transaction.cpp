#include "db/transaction.hpp"

#include <utility>

#include "db/detail/connection.hpp"
#include "db/sql_error.hpp"

namespace marquee::db {

Transaction::Transaction(Session session, Isolation isolation, int attempt) noexcept
    : session_(std::move(session)), isolation_(isolation), attempt_(attempt) {}

boost::asio::awaitable<Result> Transaction::query(std::string sql, Params params) {
    co_return co_await session_.connection().query(sql, params, session_.timeout());
}

boost::asio::awaitable<void> Transaction::commit() {
    // COMMIT of a transaction that already failed is answered "ROLLBACK" without an error; a caller that
    // swallowed an SqlError inside the transaction must not believe its work was saved.
    if (session_.connection().transaction_failed()) {
        throw SqlError(
            "25P02",
            "the transaction failed earlier (an SQL error was caught inside it) and was rolled back");
    }
    co_await session_.connection().query("COMMIT", Params{}, session_.timeout());
}

boost::asio::awaitable<void> Transaction::rollback() {
    detail::Connection& connection = session_.connection();
    if (!connection.in_transaction()) co_return;  // COMMIT ended it, or the connection is gone
    bool rolled_back = false;
    try {
        co_await connection.query("ROLLBACK", Params{}, session_.timeout());
        rolled_back = true;
    } catch (...) {
        rolled_back = false;
    }
    // Closing the connection ends the transaction on the server too.
    if (!rolled_back) session_.discard();
}

}  // namespace marquee::db
