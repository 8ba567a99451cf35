// Issue 15: the cancel inside a transaction (docs/reliability.md, "Late 2026-12-07"). A statement that
// reaches its deadline inside a transaction (not COMMIT) is cancelled on the server from a thread of its own
// (db::detail::Connection::cancel_in_background) while the connection is dropped; an auto-commit statement
// or a COMMIT is only closed (ADR 0021). The storms of Issue 15 never reached this path. Run these under
// `scripts/sanitize asan -R PoolCancelDbTest` to see a lifetime bug as a report; here they check that the
// cancel reaches the server and that every call ends while it happens on many threads at once.

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "db/pool.hpp"
#include "support/coroutines.hpp"
#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

PoolOptions pool_options(std::size_t size, std::chrono::milliseconds timeout, std::string application_name) {
    PoolOptions options;
    options.url = test::database_url();
    options.size = size;
    options.timeout = timeout;
    options.application_name = std::move(application_name);
    return options;
}

asio::awaitable<void> pause_for(std::chrono::milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

TEST(PoolCancelDbTest, AStatementPastItsDeadlineInsideATransactionIsCancelledOnTheServer) {
    asio::io_context io;
    const std::string schema = test::unique_name("pool_cancel");
    const std::string victim_name = test::unique_name("pool_cancel_victim");
    Pool admin(io.get_executor(), pool_options(2, 10s, test::unique_name("pool_cancel_admin")));
    Pool victim(io.get_executor(), pool_options(1, 200ms, victim_name));
    int status = 0;
    std::string detail;
    int waiting_on_the_lock = -1;
    int answer = 0;
    test::run_here(io, [&]() -> asio::awaitable<void> {
        co_await admin.query("CREATE SCHEMA " + schema);
        co_await admin.query("CREATE TABLE " + schema + ".seats (id int PRIMARY KEY, state text NOT NULL)");
        co_await admin.query("INSERT INTO " + schema + ".seats VALUES (1, 'FREE')");
        {
            Session holder = co_await admin.session();
            co_await holder.execute("BEGIN; LOCK TABLE " + schema + ".seats IN ACCESS EXCLUSIVE MODE");
            try {
                co_await victim.transaction([&](Transaction& tx) -> asio::awaitable<void> {
                    // Only the client's cancel can end the statement now, not the server's statement_timeout.
                    co_await tx.query("SET LOCAL statement_timeout = 0");
                    co_await tx.query("UPDATE " + schema + ".seats SET state = 'HELD' WHERE id = 1");
                });
            } catch (const core::Problem& problem) {
                status = problem.status();
                detail = problem.detail();
            }
            // The lock is still held. PostgreSQL notices a client that closed only when it next reads or
            // writes, so a backend blocked on a lock leaves its wait only when the cancel reaches it. Each
            // look is an auto-commit statement on the admin pool's other connection: a fresh snapshot of
            // pg_stat_activity (a transaction would keep reading its first one).
            for (int look = 0; look < 400; ++look) {
                const Result waiting = co_await admin.query(
                    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 "
                    "AND wait_event_type = 'Lock'",
                    params(victim_name));
                waiting_on_the_lock = waiting.get<int>(0, "n");
                if (waiting_on_the_lock == 0) break;
                co_await pause_for(25ms);
            }
            co_await holder.execute("ROLLBACK");
        }
        const Result again = co_await victim.query("SELECT 42 AS answer");
        answer = again.get<int>(0, "answer");
        co_await admin.query("DROP SCHEMA " + schema + " CASCADE");
    }());
    EXPECT_EQ(status, 503);
    EXPECT_NE(detail.find("was cancelled"), std::string::npos) << detail;
    EXPECT_EQ(waiting_on_the_lock, 0) << "the cancelled statement still waits on the server";
    EXPECT_EQ(answer, 42);
    const Pool::Stats stats = victim.stats();
    EXPECT_EQ(stats.connects, 2u);  // the cancelled connection was dropped, never reused
    EXPECT_EQ(stats.in_use, 0u);
}

TEST(PoolCancelDbTest, EveryTransactionEndsWhileItsStatementsAreCancelledOnManyThreads) {
    // 24 callers on 4 threads (half of them on strands) update rows of one table in transactions over 3
    // connections with a 200 ms deadline, while one more caller takes the whole table in ACCESS EXCLUSIVE
    // mode for 300 ms at a time: the updates it blocks reach their deadline inside their transactions and are
    // cancelled from background threads while their connections close and new ones open.
    //
    // The deadline also bounds each connect (PoolOptions::timeout), and every cancel costs one: a connect
    // took 40-100 ms at a load average of 10 on 2 cores (100 ms was the deadline until 2026-12-08), and
    // a connect that misses it makes the pool back off and refuse every caller for up to 2 s. A fixed 3 s
    // run could then end with nothing committed and nothing cancelled. So the run lasts at least 3 s and
    // until both a commit and a cancel inside a transaction were seen, for at most 60 s.
    asio::io_context io;
    const std::string schema = test::unique_name("pool_cancels");
    Pool admin(io.get_executor(), pool_options(2, 10s, test::unique_name("pool_cancels_admin")));
    test::run_here(io, [&]() -> asio::awaitable<void> {
        co_await admin.query("CREATE SCHEMA " + schema);
        co_await admin.query("CREATE TABLE " + schema + ".seats (id int PRIMARY KEY, state text NOT NULL)");
        co_await admin.query("INSERT INTO " + schema +
                             ".seats SELECT g, 'FREE' FROM generate_series(0, 7) g");
    }());
    constexpr auto kDeadline = 200ms;
    PoolOptions options = pool_options(3, kDeadline, test::unique_name("pool_cancels_victim"));
    options.max_waiting = 24;
    Pool pool(io.get_executor(), options);
    io.restart();  // run_here left it stopped; run_workers runs it as it is
    const std::string table = schema + ".seats";

    std::atomic<bool> stop{false};
    std::atomic<int> committed{0};
    std::atomic<int> cancelled{0};
    std::atomic<int> unavailable{0};
    std::atomic<int> other{0};
    std::atomic<int> locks{0};
    auto locker = [&]() -> asio::awaitable<void> {
        while (!stop) {
            {
                Session holder = co_await admin.session();
                co_await holder.execute("BEGIN; LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE");
                ++locks;
                co_await pause_for(kDeadline * 3 / 2);
                co_await holder.execute("ROLLBACK");
            }
            co_await pause_for(kDeadline);
        }
    };
    auto worker = [&](int id) -> asio::awaitable<void> {
        if (id == 0) {
            co_await locker();
            co_return;
        }
        for (int i = 0; !stop; ++i) {
            bool refused = false;
            try {
                const int row = (id + i) % 8;
                co_await pool.transaction([&](Transaction& tx) -> asio::awaitable<void> {
                    co_await tx.query("SELECT state FROM " + table + " WHERE id = $1 FOR UPDATE",
                                      params(row));
                    co_await tx.query("UPDATE " + table + " SET state = $2 WHERE id = $1",
                                      params(row, "HELD-" + std::to_string(id)));
                });
                ++committed;
            } catch (const core::Problem& problem) {
                if (problem.status() != 503) {
                    ++other;
                } else if (problem.detail().find("was cancelled") != std::string::npos) {
                    ++cancelled;
                } else {
                    ++unavailable;
                }
                refused = true;
            } catch (...) {
                ++other;
            }
            if (refused) {
                co_await pause_for(std::chrono::milliseconds(1 + id % 4));
            }
        }
    };
    test::run_workers(io, 25, 4, worker, [&] {
        const auto start = std::chrono::steady_clock::now();
        const auto seen = [&] { return committed > 0 && cancelled > 0; };
        std::this_thread::sleep_for(3s);
        while (!seen() && std::chrono::steady_clock::now() - start < 60s) {
            std::this_thread::sleep_for(50ms);
        }
        stop = true;
    });
    test::run_here(
        io, [&]() -> asio::awaitable<void> { co_await admin.query("DROP SCHEMA " + schema + " CASCADE"); }());

    RecordProperty("committed", committed.load());
    RecordProperty("cancelled", cancelled.load());
    RecordProperty("unavailable", unavailable.load());
    RecordProperty("locks", locks.load());
    const Pool::Stats stats = pool.stats();
    RecordProperty("connects", static_cast<int>(stats.connects));
    RecordProperty("connect_errors", static_cast<int>(stats.connect_errors));
    RecordProperty("refused_unreachable", static_cast<int>(stats.refused_unreachable));
    RecordProperty("acquire_timeouts", static_cast<int>(stats.acquire_timeouts));
    RecordProperty("shed", static_cast<int>(stats.shed));
    EXPECT_EQ(other.load(), 0);
    EXPECT_GT(locks.load(), 0);
    EXPECT_GT(committed.load(), 0);
    EXPECT_GT(cancelled.load(), 0) << "no statement was cancelled inside its transaction";
    EXPECT_EQ(stats.in_use, 0u);
    EXPECT_EQ(stats.waiting, 0u);
    EXPECT_LE(stats.open, options.size);
}

}  // namespace
}  // namespace marquee::db
