#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/problem.hpp"
#include "db/pool.hpp"
#include "support/coroutines.hpp"
#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using test::run;

/// The HTTP status of the core::Problem `action` throws; fails the test if it throws nothing or else.
int problem_status(const std::function<void()>& action) {
    try {
        action();
    } catch (const core::Problem& problem) {
        return problem.status();
    } catch (const std::exception& other) {
        ADD_FAILURE() << "expected core::Problem, got: " << other.what();
        return 0;
    }
    ADD_FAILURE() << "expected core::Problem, nothing was thrown";
    return 0;
}

/// A port nothing listens on: bind an ephemeral one, then close it.
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ADD_FAILURE() << "cannot find a free port";
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

/// Lets other coroutines run until `pool` has `count` callers queued (no timing involved).
asio::awaitable<void> until_waiting(Pool& pool, std::size_t count) {
    auto executor = co_await asio::this_coro::executor;
    while (pool.stats().waiting < count) {
        co_await asio::post(executor, asio::use_awaitable);
    }
}

asio::awaitable<void> take_turn(Pool& pool, std::vector<int>& order, int turn) {
    Session session = co_await pool.session();
    order.push_back(turn);
    co_await session.query("SELECT 1");
}

asio::awaitable<void> note_executor(Pool& pool, asio::strand<asio::io_context::executor_type> strand,
                                    std::atomic<bool>& resumed_on_strand) {
    Session session = co_await pool.session();
    resumed_on_strand = strand.running_in_this_thread();
}

class PoolDbTest : public ::testing::Test {
  protected:
    void SetUp() override {
        schema_ = test::unique_name("dbtest");
        Pool admin(io_.get_executor(), options());
        run(io_, [&]() -> asio::awaitable<void> { co_await admin.query("CREATE SCHEMA " + schema_); }());
    }
    void TearDown() override {
        Pool admin(io_.get_executor(), options());
        run(io_, [&]() -> asio::awaitable<void> {
            co_await admin.query("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
        }());
    }

    PoolOptions options(std::size_t size = 4, std::chrono::milliseconds timeout = 5000ms) const {
        PoolOptions o;
        o.url = test::database_url();
        o.size = size;
        o.timeout = timeout;
        o.application_name = app_name_;
        return o;
    }
    std::string table(const std::string& name) const { return schema_ + "." + name; }

    asio::io_context io_;  // declared first: destroyed after every pool a test makes
    std::string schema_;
    std::string app_name_ = test::unique_name("pooltest");
};

TEST_F(PoolDbTest, QueryRoundTripsTypedValuesAndNulls) {
    Pool pool(io_.get_executor(), options());
    const Result r = run(io_, [&]() -> asio::awaitable<Result> {
        co_return co_await pool.query(
            "SELECT $1::bigint AS id, $2::text AS name, $3::bool AS active, $4::text AS note, "
            "$5::timestamptz AS at, $6::float8 AS ratio, NULL::int AS missing",
            params(std::int64_t{9007199254740993}, "Ada", true, std::nullopt,
                   core::TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 11 / 26}} + 90min, 0.5));
    }());
    ASSERT_EQ(r.rows(), 1);
    EXPECT_EQ(r.get<std::int64_t>(0, "id"), 9007199254740993);
    EXPECT_EQ(r.get<std::string>(0, "name"), "Ada");
    EXPECT_TRUE(r.get<bool>(0, "active"));
    EXPECT_EQ(r.get<std::optional<std::string>>(0, "note"), std::nullopt);
    EXPECT_EQ(r.get<core::TimePoint>(0, "at"),
              core::TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 11 / 26}} + 90min);
    EXPECT_DOUBLE_EQ(r.get<double>(0, "ratio"), 0.5);
    EXPECT_TRUE(r.is_null(0, "missing"));
    EXPECT_THROW(r.get<std::int32_t>(0, "missing"), ResultError);
    EXPECT_THROW(r.get<std::int32_t>(0, "nope"), ResultError);
}

TEST_F(PoolDbTest, AffectedCountsChangedRows) {
    Pool pool(io_.get_executor(), options());
    const auto [inserted, updated] =
        run(io_, [&]() -> asio::awaitable<std::pair<std::int64_t, std::int64_t>> {
            co_await pool.query("CREATE TABLE " + table("items") + " (id int PRIMARY KEY, n int NOT NULL)");
            const Result insert = co_await pool.query("INSERT INTO " + table("items") +
                                                      " SELECT g, 0 FROM generate_series(1, 5) g");
            const Result update =
                co_await pool.query("UPDATE " + table("items") + " SET n = 1 WHERE id > $1", params(3));
            co_return std::pair{insert.affected(), update.affected()};
        }());
    EXPECT_EQ(inserted, 5);
    EXPECT_EQ(updated, 2);
}

TEST_F(PoolDbTest, ParametersStayDataEvenWhenTheyLookLikeSql) {
    Pool pool(io_.get_executor(), options());
    const std::vector<std::string> values = {
        "O'Brien", "x'); DROP TABLE " + table("names") + "; --", "콘서트 🎫 ünïcödé", "\\'\\\\", "$1", ""};
    const std::vector<std::string> read = run(io_, [&]() -> asio::awaitable<std::vector<std::string>> {
        co_await pool.query("CREATE TABLE " + table("names") + " (i int PRIMARY KEY, v text NOT NULL)");
        for (std::size_t i = 0; i < values.size(); ++i) {
            co_await pool.query("INSERT INTO " + table("names") + " (i, v) VALUES ($1, $2)",
                                params(i, values[i]));
        }
        const Result r = co_await pool.query("SELECT v FROM " + table("names") + " ORDER BY i");
        std::vector<std::string> out;
        out.reserve(static_cast<std::size_t>(r.rows()));
        for (int row = 0; row < r.rows(); ++row) out.push_back(r.get<std::string>(row, "v"));
        co_return out;
    }());
    EXPECT_EQ(read, values);  // the table survived and every value came back byte for byte
}

TEST_F(PoolDbTest, UniqueViolationCarriesSqlstateAndConstraint) {
    Pool pool(io_.get_executor(), options());
    const std::string constraint = schema_ + "_email_key";
    const SqlError error = run(io_, [&]() -> asio::awaitable<SqlError> {
        co_await pool.query("CREATE TABLE " + table("users") + " (email text, CONSTRAINT " + constraint +
                            " UNIQUE (email))");
        co_await pool.query("INSERT INTO " + table("users") + " VALUES ($1)", params("a@example.com"));
        std::optional<SqlError> caught;
        try {
            co_await pool.query("INSERT INTO " + table("users") + " VALUES ($1)", params("a@example.com"));
        } catch (const SqlError& e) {
            caught = e;
        }
        if (!caught) throw std::runtime_error("the second insert succeeded");
        // The connection that saw the error is still good.
        const Result r = co_await pool.query("SELECT count(*) AS n FROM " + table("users"));
        if (r.get<std::int64_t>(0, "n") != 1) throw std::runtime_error("expected one row");
        co_return *caught;
    }());
    EXPECT_EQ(error.sqlstate(), "23505");
    EXPECT_EQ(error.constraint(), constraint);
    EXPECT_TRUE(error.is_unique_violation(constraint));
    EXPECT_EQ(error.table(), "users");
}

TEST_F(PoolDbTest, TransactionCommitsAndReturnsItsValue) {
    Pool pool(io_.get_executor(), options());
    const std::int64_t count = run(io_, [&]() -> asio::awaitable<std::int64_t> {
        co_await pool.query("CREATE TABLE " + table("t") + " (v int)");
        const std::int64_t returned =
            co_await pool.transaction([&](Transaction& tx) -> asio::awaitable<std::int64_t> {
                co_await tx.query("INSERT INTO " + table("t") + " VALUES (1), (2)");
                const Result r = co_await tx.query("SELECT count(*) AS n FROM " + table("t"));
                co_return r.get<std::int64_t>(0, "n");
            });
        const Result r = co_await pool.query("SELECT count(*) AS n FROM " + table("t"));
        co_return returned * 10 + r.get<std::int64_t>(0, "n");
    }());
    EXPECT_EQ(count, 22);
}

TEST_F(PoolDbTest, TransactionRollsBackOnExceptionAndRethrows) {
    Pool pool(io_.get_executor(), options(1));
    run(io_, [&]() -> asio::awaitable<void> {
        co_await pool.query("CREATE TABLE " + table("t") + " (v int UNIQUE)");
    }());
    EXPECT_THROW(run(io_,
                     [&]() -> asio::awaitable<void> {
                         co_await pool.transaction([&](Transaction& tx) -> asio::awaitable<void> {
                             co_await tx.query("INSERT INTO " + table("t") + " VALUES (1)");
                             throw std::runtime_error("business rule says no");
                         });
                     }()),
                 std::runtime_error);
    EXPECT_THROW(run(io_,
                     [&]() -> asio::awaitable<void> {
                         co_await pool.transaction([&](Transaction& tx) -> asio::awaitable<void> {
                             co_await tx.query("INSERT INTO " + table("t") + " VALUES (2)");
                             co_await tx.query("INSERT INTO " + table("t") + " VALUES (2)");  // 23505
                         });
                     }()),
                 SqlError);
    const std::int64_t rows = run(io_, [&]() -> asio::awaitable<std::int64_t> {
        const Result r = co_await pool.query("SELECT count(*) AS n FROM " + table("t"));
        co_return r.get<std::int64_t>(0, "n");
    }());
    EXPECT_EQ(rows, 0);
    EXPECT_EQ(pool.stats().open, 1u);  // the one connection was rolled back and reused, not dropped
}

TEST_F(PoolDbTest, SwallowedErrorInsideTransactionIsNotReportedAsCommitted) {
    Pool pool(io_.get_executor(), options());
    try {
        run(io_, [&]() -> asio::awaitable<void> {
            co_await pool.transaction([&](Transaction& tx) -> asio::awaitable<void> {
                try {
                    co_await tx.query("SELECT 1/0");
                } catch (const SqlError&) {
                }
            });
        }());
        FAIL() << "expected SqlError";
    } catch (const SqlError& error) {
        EXPECT_EQ(error.sqlstate(), "25P02");
    }
}

// Write skew under SERIALIZABLE: both read both rows, then each updates a different row. PostgreSQL
// aborts one with 40001; Pool::transaction must run that one again and succeed.
TEST_F(PoolDbTest, SerializationFailureIsRetried) {
    Pool pool(io_.get_executor(), options(4));
    run(io_, [&]() -> asio::awaitable<void> {
        co_await pool.query("CREATE TABLE " + table("doctors") +
                            " (id int PRIMARY KEY, on_call bool NOT NULL)");
        co_await pool.query("INSERT INTO " + table("doctors") + " VALUES (1, true), (2, true)");
    }());

    // Both first attempts must have read before either writes: a two-party rendezvous on one thread.
    int arrived = 0;
    asio::steady_timer both_read(io_, asio::steady_timer::time_point::max());
    std::atomic<int> attempts{0};
    std::vector<int> final_attempt(3, 0);
    auto doctor = [&](int id) -> asio::awaitable<void> {
        co_await pool.transaction(
            [&, id](Transaction& tx) -> asio::awaitable<void> {
                ++attempts;
                co_await tx.query("SELECT count(*) FROM " + table("doctors") + " WHERE on_call");
                if (tx.attempt() == 1) {
                    if (++arrived == 2) {
                        both_read.cancel();
                    } else {
                        co_await both_read.async_wait(asio::as_tuple(asio::use_awaitable));
                    }
                }
                co_await tx.query("UPDATE " + table("doctors") + " SET on_call = false WHERE id = $1",
                                  params(id));
                final_attempt[id] = tx.attempt();
            },
            Isolation::Serializable);
    };
    run(io_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        asio::co_spawn(executor, doctor(1), asio::detached);
        co_await doctor(2);
    }());

    EXPECT_GE(attempts.load(), 3);  // someone was retried...
    EXPECT_GE(std::max(final_attempt[1], final_attempt[2]), 2);
    EXPECT_GE(std::min(final_attempt[1], final_attempt[2]), 1);  // ...and both finally committed
    const std::int64_t on_call = run(io_, [&]() -> asio::awaitable<std::int64_t> {
        const Result r =
            co_await pool.query("SELECT count(*) AS n FROM " + table("doctors") + " WHERE on_call");
        co_return r.get<std::int64_t>(0, "n");
    }());
    EXPECT_EQ(on_call, 0);
}

TEST_F(PoolDbTest, TwoConnectionsServeFiftyConcurrentCoroutinesOnTwoThreads) {
    Pool pool(io_.get_executor(), options(2));
    std::atomic<int> done{0};
    std::atomic<std::int64_t> most_connections{0};
    auto worker = [&](int i) -> asio::awaitable<void> {
        const Result r = co_await pool.query(
            "SELECT $1::int AS i, (SELECT count(*) FROM pg_stat_activity WHERE application_name = $2) AS "
            "connections, "
            "pg_sleep(0.002)",
            params(i, app_name_));
        if (r.get<int>(0, "i") != i) throw std::runtime_error("wrong row");
        std::int64_t seen = r.get<std::int64_t>(0, "connections");
        std::int64_t expected = most_connections.load();
        while (seen > expected && !most_connections.compare_exchange_weak(expected, seen)) {
        }
        ++done;
    };
    std::atomic<int> failures{0};
    run(
        io_,
        [&]() -> asio::awaitable<void> {
            auto executor = co_await asio::this_coro::executor;
            for (int i = 0; i < 50; ++i) {
                asio::co_spawn(executor, worker(i), [&](const std::exception_ptr& e) {
                    if (e) ++failures;
                });
            }
            co_return;
        }(),
        2);
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(done.load(), 50);
    EXPECT_GE(most_connections.load(), 1);
    EXPECT_LE(most_connections.load(), 2);
    const Pool::Stats stats = pool.stats();
    EXPECT_LE(stats.open, 2u);
    EXPECT_LE(stats.connects, 2u);
    EXPECT_EQ(stats.in_use, 0u);
    EXPECT_EQ(stats.waiting, 0u);
    EXPECT_EQ(stats.acquired, 50u);
}

TEST_F(PoolDbTest, WaitersAreServedFirstComeFirstServed) {
    Pool pool(io_.get_executor(), options(1));
    std::vector<int> order;
    run(io_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Session held = co_await pool.session();
        for (int turn = 0; turn < 5; ++turn) {
            asio::co_spawn(executor, take_turn(pool, order, turn), asio::detached);
        }
        co_await until_waiting(pool, 5);
    }());  // `held` is released here; each waiter then passes the connection on to the next
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(PoolDbTest, WaiterResumesOnItsOwnExecutor) {
    Pool pool(io_.get_executor(), options(1));
    auto strand = asio::make_strand(io_);
    std::atomic<bool> resumed_on_strand{false};
    run(
        io_,
        [&]() -> asio::awaitable<void> {
            Session held = co_await pool.session();
            asio::co_spawn(strand, note_executor(pool, strand, resumed_on_strand), asio::detached);
            co_await until_waiting(pool, 1);
        }(),  // released from the io_context's executor, on either thread
        2);
    EXPECT_TRUE(resumed_on_strand.load());
}

TEST_F(PoolDbTest, AcquireDeadlineIsUnavailableWhenAllConnectionsAreHeld) {
    Pool pool(io_.get_executor(), options(1, 200ms));
    // The connection first, so that the one wait below is for the held connection: on a loaded machine the
    // connect itself can take longer than 200 ms and would fail the session instead (seen once at load 17).
    for (int attempt = 0; attempt < 50 && !run(io_, pool.ping()); ++attempt) {
    }
    const int status = problem_status([&] {
        run(io_, [&]() -> asio::awaitable<void> {
            Session held = co_await pool.session();
            co_await pool.query("SELECT 1");
        }());
    });
    EXPECT_EQ(status, 503);
    EXPECT_EQ(pool.stats().acquire_timeouts, 1u);
    EXPECT_EQ(pool.stats().in_use, 0u);
    EXPECT_TRUE(run(io_, pool.ping()));  // the held connection came back
}

TEST_F(PoolDbTest, CallerBeyondTheWaitingLimitIsRefusedAtOnce) {
    // One connection held, two callers queued (the limit): a third is refused with 503 at once, not after
    // the 30 s deadline, and the queued two are still served once the connection comes back.
    PoolOptions o = options(1, 30s);
    o.max_waiting = 2;
    Pool pool(io_.get_executor(), o);
    std::vector<int> order;
    int refused = 0;
    std::string detail;
    run(io_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Session held = co_await pool.session();
        for (int turn = 0; turn < 2; ++turn) {
            asio::co_spawn(executor, take_turn(pool, order, turn), asio::detached);
        }
        co_await until_waiting(pool, 2);
        try {
            co_await pool.query("SELECT 1");
        } catch (const core::Problem& problem) {
            refused = problem.status();
            detail = problem.detail();
        }
    }());
    EXPECT_EQ(refused, 503);
    EXPECT_NE(detail.find("busy"), std::string::npos) << detail;
    EXPECT_EQ(order, (std::vector<int>{0, 1}));
    EXPECT_EQ(pool.stats().shed, 1u);
    EXPECT_EQ(pool.stats().acquire_timeouts, 0u);
}

TEST_F(PoolDbTest, QueryPastDeadlineIsUnavailableAndPoolStaysUsable) {
    Pool pool(io_.get_executor(), options(1, 200ms));
    const int status = problem_status([&] { run(io_, pool.query("SELECT pg_sleep(5)")); });
    EXPECT_EQ(status, 503);
    const Result r = run(io_, pool.query("SELECT 41 + 1 AS answer"));
    EXPECT_EQ(r.get<int>(0, "answer"), 42);
    EXPECT_EQ(pool.stats().connects, 2u);  // the busy connection was dropped, never reused
    EXPECT_LE(pool.stats().open, 1u);
}

TEST_F(PoolDbTest, AConnectStarvedByItsCallersQueueingDoesNotMakeThePoolBackOff) {
    // One connection, held in an open transaction while a second caller queues for it. The io thread then
    // runs late (blocked past the queued caller's deadline, as a loaded machine runs it), and the held
    // session is dropped mid-transaction: its connection is closed and the queued caller is handed the free
    // slot with no time left to connect in. Its connect fails at once. That says nothing about the server,
    // so the next caller connects and is answered: it is not refused as "unreachable" by a back-off.
    Pool pool(io_.get_executor(), options(1, 300ms));
    std::string starved;
    std::string next;
    int answer = 0;
    run(io_, [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        {
            Session held = co_await pool.session();
            co_await held.execute("BEGIN");
            asio::co_spawn(
                executor,
                [&]() -> asio::awaitable<void> {
                    try {
                        co_await pool.query("SELECT 1");
                    } catch (const core::Problem& problem) {
                        starved = problem.detail();
                    }
                },
                asio::detached);
            co_await until_waiting(pool, 1);
            std::this_thread::sleep_for(400ms);  // the only io thread, past the queued caller's deadline
        }  // dropped in a transaction: closed, and the slot goes to the queued caller
        while (starved.empty()) {
            co_await asio::post(executor, asio::use_awaitable);
        }
        try {
            const Result r = co_await pool.query("SELECT 42 AS answer");
            answer = r.get<int>(0, "answer");
        } catch (const core::Problem& problem) {
            next = problem.detail();
        }
    }());
    EXPECT_NE(starved.find("did not finish before the deadline"), std::string::npos) << starved;
    EXPECT_EQ(answer, 42) << next;
    EXPECT_EQ(pool.stats().connect_errors, 1u);
    EXPECT_EQ(pool.stats().refused_unreachable, 0u);
    EXPECT_FALSE(pool.stats().unreachable);
}

TEST_F(PoolDbTest, AWriteOnAReadOnlyNodeDropsTheConnection) {
    // What a connection to a demoted primary sees: 25006 on its first write. It must not go back to the pool,
    // or every later write through it would fail the same way; the next connect walks the host list.
    Pool pool(io_.get_executor(), options(1));
    const int status = problem_status([&] {
        run(io_, [&]() -> asio::awaitable<void> {
            Session session = co_await pool.session();
            co_await session.execute("SET default_transaction_read_only = on");
            co_await session.query("CREATE TABLE pool_dbtest_read_only (id int)");
        }());
    });
    EXPECT_EQ(status, 503);
    const Result r = run(io_, pool.query("SELECT current_setting('default_transaction_read_only') AS ro"));
    EXPECT_EQ(r.get<std::string>(0, "ro"), "off");
    EXPECT_EQ(pool.stats().connects, 2u);  // dropped, not reused
}

TEST_F(PoolDbTest, WhileNoServerAnswersOtherCallersAreRefusedAtOnceWithRetryAfter) {
    PoolOptions o = options(4, 3s);
    o.url = "postgresql://marquee@127.0.0.1:" + std::to_string(closed_port()) + "/marquee";
    Pool pool(io_.get_executor(), o);
    EXPECT_EQ(problem_status([&] { run(io_, pool.query("SELECT 1")); }), 503);
    EXPECT_TRUE(pool.stats().unreachable);
    std::optional<std::chrono::seconds> retry_after;
    std::string detail;
    try {
        run(io_, pool.query("SELECT 1"));
    } catch (const core::Problem& problem) {
        retry_after = problem.retry_after();
        detail = problem.detail();
    }
    ASSERT_TRUE(retry_after.has_value()) << "a 503 with Retry-After";
    EXPECT_GE(retry_after->count(), 1);
    EXPECT_NE(detail.find("unreachable"), std::string::npos) << detail;
    EXPECT_EQ(pool.stats().refused_unreachable, 1u);
    EXPECT_EQ(pool.stats().connect_errors, 1u);  // the second caller did not knock again
    EXPECT_EQ(pool.stats().open, 0u);
}

TEST_F(PoolDbTest, AfterTheBackoffTheNextCallerKnocksAgain) {
    PoolOptions o = options(2, 3s);
    o.url = "host=127.0.0.1,127.0.0.1 port=" + std::to_string(closed_port()) + ",1 dbname=marquee";
    Pool broken(io_.get_executor(), o);
    EXPECT_EQ(problem_status([&] { run(io_, broken.query("SELECT 1")); }), 503);
    EXPECT_EQ(broken.stats().connect_errors, 1u);
    std::this_thread::sleep_for(150ms);  // the first pause is at most 100 ms
    EXPECT_EQ(problem_status([&] { run(io_, broken.query("SELECT 1")); }), 503);
    EXPECT_EQ(broken.stats().connect_errors, 2u);
    EXPECT_EQ(broken.stats().refused_unreachable, 0u);
}

TEST_F(PoolDbTest, AMultiHostUrlWalksPastADeadHostToTheReadWriteServer) {
    // Two hosts, the first closed: libpq walks to the second, as it walks to a promoted standby.
    // The same walk with the real server second succeeds, and no backoff is left behind.
    const auto base = options();
    PoolOptions walk = options(2, 3s);
    const auto port_at = base.url.rfind(':');
    const auto slash = base.url.find('/', port_at);
    const std::string port = base.url.substr(port_at + 1, slash - port_at - 1);
    walk.url = "host=127.0.0.1,127.0.0.1 port=" + std::to_string(closed_port()) + "," + port +
               " dbname=marquee user=marquee target_session_attrs=read-write";
    Pool pool(io_.get_executor(), walk);
    const Result r = run(io_, pool.query("SELECT 1 AS one"));
    EXPECT_EQ(r.get<int>(0, "one"), 1);
    EXPECT_FALSE(pool.stats().unreachable);
}

/// A host that takes the TCP connection (the kernel's backlog) and never says a word: a machine that died
/// behind a load balancer or a NAT, as far as a client can tell. Closed when destroyed.
class SilentHost {
  public:
    SilentHost() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            ADD_FAILURE() << "cannot listen";
        }
        port_ = ntohs(address.sin_port);
    }
    ~SilentHost() { ::close(fd_); }
    SilentHost(const SilentHost&) = delete;
    SilentHost& operator=(const SilentHost&) = delete;
    int port() const { return port_; }

  private:
    int fd_;
    int port_ = 0;
};

TEST_F(PoolDbTest, AHostThatNeverAnswersIsSkippedAfterConnectTimeout) {
    // libpq enforces connect_timeout only in its blocking connect; without the pool's own per-host limit this
    // connect would sit on the silent first host until the 6 s deadline and never reach the server.
    const SilentHost silent;
    const auto base = options();
    const auto port_at = base.url.rfind(':');
    const auto slash = base.url.find('/', port_at);
    const std::string port = base.url.substr(port_at + 1, slash - port_at - 1);
    PoolOptions o = options(1, 6s);
    o.url = "host=127.0.0.1,127.0.0.1 port=" + std::to_string(silent.port()) + "," + port +
            " dbname=marquee user=marquee connect_timeout=2 target_session_attrs=read-write";
    Pool pool(io_.get_executor(), o);
    const Result r = run(io_, pool.query("SELECT 1 AS one"));
    EXPECT_EQ(r.get<int>(0, "one"), 1);
    EXPECT_EQ(pool.stats().connect_errors, 0u);
}

TEST_F(PoolDbTest, AMultiHostUrlOfNamesIsResolvedHostByHostOffTheIoThreads) {
    // Production lists the nodes by name: each is looked up by Asio's resolver (libpq's own lookup would
    // block an I/O thread), and libpq walks the addresses of the first, then of the second.
    const auto base = options();
    const auto port_at = base.url.rfind(':');
    const auto slash = base.url.find('/', port_at);
    const std::string port = base.url.substr(port_at + 1, slash - port_at - 1);
    PoolOptions o = options(2, 5s);
    o.url = "host=localhost,localhost port=" + std::to_string(closed_port()) + "," + port +
            " dbname=marquee user=marquee target_session_attrs=read-write";
    Pool pool(io_.get_executor(), o);
    const Result r = run(io_, pool.query("SELECT 1 AS one"));
    EXPECT_EQ(r.get<int>(0, "one"), 1);
}

TEST_F(PoolDbTest, ClosedPortIsUnavailableNotAHang) {
    PoolOptions o = options(2);
    o.url = "postgresql://marquee@127.0.0.1:" + std::to_string(closed_port()) + "/marquee";
    Pool pool(io_.get_executor(), o);
    EXPECT_EQ(problem_status([&] { run(io_, pool.query("SELECT 1")); }), 503);
    EXPECT_FALSE(run(io_, pool.ping()));
    EXPECT_EQ(pool.stats().open, 0u);  // failed connects gave their slots back
}

TEST_F(PoolDbTest, MalformedUrlIsUnavailable) {
    PoolOptions o = options();
    o.url = "postgresql://marquee@127.0.0.1:notaport/marquee?nonsense_option=1";
    Pool pool(io_.get_executor(), o);
    EXPECT_EQ(problem_status([&] { run(io_, pool.query("SELECT 1")); }), 503);
}

TEST_F(PoolDbTest, HostNameIsResolvedOffTheIoThreads) {
    // "localhost" goes through the asynchronous resolver; libpq then tries each address (::1 may refuse).
    PoolOptions o = options();
    const auto at = o.url.find("127.0.0.1");
    if (at != std::string::npos) o.url.replace(at, 9, "localhost");
    Pool pool(io_.get_executor(), o);
    const Result r = run(io_, pool.query("SELECT 1 AS one"));
    EXPECT_EQ(r.get<int>(0, "one"), 1);

    o.url = "postgresql://marquee@localhost:" + std::to_string(closed_port()) + "/marquee";
    Pool refused(io_.get_executor(), o);
    EXPECT_EQ(problem_status([&] { run(io_, refused.query("SELECT 1")); }), 503);
}

TEST_F(PoolDbTest, PingAnswersTrueWhenTheServerDoes) {
    Pool pool(io_.get_executor(), options());
    EXPECT_TRUE(run(io_, pool.ping()));
}

TEST_F(PoolDbTest, SessionExecutesScriptsAndKeepsSessionState) {
    Pool pool(io_.get_executor(), options(1));
    const std::string value = run(io_, [&]() -> asio::awaitable<std::string> {
        Session session = co_await pool.session();
        session.discard();  // the SET below must not leak into pooled connections
        co_await session.execute("CREATE TABLE " + table("s") + " (v text); INSERT INTO " + table("s") +
                                 " VALUES ('a'); SET application_name = 'changed'");
        const Result r = co_await session.query("SELECT current_setting('application_name') AS name");
        co_return r.get<std::string>(0, "name");
    }());
    EXPECT_EQ(value, "changed");
    const Result r =
        run(io_, pool.query("SELECT current_setting('application_name') AS name, (SELECT count(*) FROM " +
                            table("s") + ") AS n"));
    EXPECT_EQ(r.get<std::string>(0, "name"), app_name_);
    EXPECT_EQ(r.get<std::int64_t>(0, "n"), 1);
}

TEST_F(PoolDbTest, ServerSettingsMatchWhatResultParses) {
    Pool pool(io_.get_executor(), options());
    const Result r =
        run(io_, pool.query("SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds, "
                            "pg_client_encoding() AS enc"));
    EXPECT_EQ(r.get<std::string>(0, "tz"), "UTC");
    EXPECT_EQ(r.get<std::string>(0, "ds").substr(0, 3), "ISO");
    EXPECT_EQ(r.get<std::string>(0, "enc"), "UTF8");
}

}  // namespace
}  // namespace marquee::db
