// ADR 0054: each distinct statement of Pool::query / Session::query is prepared once per connection and then
// only bound and run. The server's own list of the session's prepared statements (pg_prepared_statements)
// shows it; a schema change that alters a statement's result columns, a bad statement and a failed
// transaction each still answer as an unprepared statement would.

#include <chrono>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "db/pool.hpp"
#include "db/session.hpp"
#include "db/sql_error.hpp"
#include "support/coroutines.hpp"
#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using test::run;

PoolOptions one_connection(const std::string& name) {
    PoolOptions options;
    options.url = test::database_url();
    options.size = 1;
    options.timeout = 30s;  // a deadline, not a timing
    options.application_name = test::unique_name(name);
    return options;
}

constexpr const char* kCount =
    "SELECT count(*)::bigint AS n FROM pg_prepared_statements WHERE statement = $1 AND NOT from_sql";

TEST(PreparedStatementsDbTest, AStatementIsPreparedOnceAndRunFromItsPreparedForm) {
    asio::io_context io;
    Pool pool(io.get_executor(), one_connection("prepared_once"));
    run(io, [&]() -> asio::awaitable<void> {
        Session session = co_await pool.session();
        const std::string sql = "SELECT $1::int + 1 AS next /* prepared_once */";
        for (int i = 0; i < 3; ++i) {
            const Result r = co_await session.query(sql, params(i));
            EXPECT_EQ(r.get<std::int64_t>(0, "next"), i + 1);
        }
        // The server holds it once, under a name of this connection's (protocol-level, not PREPARE).
        const Result held = co_await session.query(kCount, params(sql));
        EXPECT_EQ(held.get<std::int64_t>(0, "n"), 1);
    }());
}

TEST(PreparedStatementsDbTest, AResultTypeChangedByTheSchemaIsPreparedAgainOutsideATransaction) {
    asio::io_context io;
    Pool pool(io.get_executor(), one_connection("prepared_replan"));
    const std::string fn = "public." + test::unique_name("prepared_fn");
    run(io, [&]() -> asio::awaitable<void> {
        Session session = co_await pool.session();
        co_await session.execute("CREATE FUNCTION " + fn +
                                 "() RETURNS TABLE (a int) LANGUAGE sql AS 'SELECT 1'");
        const std::string sql = "SELECT * FROM " + fn + "()";
        EXPECT_EQ((co_await session.query(sql)).get<std::int64_t>(0, "a"), 1);
        // Another result type under the same text: the prepared form cannot run it ("cached plan must not
        // change result type"); the statement is parsed anew and answers with the new columns.
        co_await session.execute("DROP FUNCTION " + fn + "(); CREATE FUNCTION " + fn +
                                 "() RETURNS TABLE (a int, b text) LANGUAGE sql AS $$SELECT 2, 'two'$$");
        const Result changed = co_await session.query(sql);
        EXPECT_EQ(changed.get<std::int64_t>(0, "a"), 2);
        EXPECT_EQ(changed.get<std::string>(0, "b"), "two");

        // Inside a transaction block the failed Bind has aborted the transaction: the error reaches the
        // caller, and after the rollback the statement runs again.
        co_await session.execute("DROP FUNCTION " + fn + "(); CREATE FUNCTION " + fn +
                                 "() RETURNS TABLE (c bigint) LANGUAGE sql AS 'SELECT 3::bigint'");
        co_await session.execute("BEGIN");
        bool refused = false;
        try {
            co_await session.query(sql);
        } catch (const SqlError& e) {
            refused = e.is("0A000");
        }
        EXPECT_TRUE(refused);
        co_await session.execute("ROLLBACK");
        EXPECT_EQ((co_await session.query(sql)).get<std::int64_t>(0, "c"), 3);
        co_await session.execute("DROP FUNCTION " + fn + "()");
    }());
}

TEST(PreparedStatementsDbTest, ABadStatementIsRefusedAndNotKept) {
    asio::io_context io;
    Pool pool(io.get_executor(), one_connection("prepared_bad"));
    run(io, [&]() -> asio::awaitable<void> {
        Session session = co_await pool.session();
        const std::string bad = "SELECT no_such_column_here FROM pg_class LIMIT $1";
        for (int i = 0; i < 2; ++i) {
            std::string state;
            try {
                co_await session.query(bad, params(1));
            } catch (const SqlError& e) {
                state = e.sqlstate();
            }
            EXPECT_EQ(state, "42703");  // undefined_column, each time
        }
        EXPECT_EQ((co_await session.query(kCount, params(bad))).get<std::int64_t>(0, "n"), 0);
        // A failed transaction refuses the next statement with 25P02, prepared or not.
        co_await session.execute("BEGIN");
        try {
            co_await session.query(bad, params(1));
        } catch (const SqlError&) {
        }
        std::string state;
        try {
            co_await session.query("SELECT 1 AS one /* prepared_bad, after the failure */");
        } catch (const SqlError& e) {
            state = e.sqlstate();
        }
        EXPECT_EQ(state, "25P02");
        co_await session.execute("ROLLBACK");
        EXPECT_EQ((co_await session.query("SELECT 1 AS one /* prepared_bad, after the failure */"))
                      .get<std::int64_t>(0, "one"),
                  1);
    }());
}

}  // namespace
}  // namespace marquee::db
