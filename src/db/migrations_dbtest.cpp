#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "support/coroutines.hpp"
#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

using test::run;
using test::run_threads;

// Each test migrates its own service (a unique name, which is also its schema) from its own folder.
class MigrationsDbTest : public ::testing::Test {
  protected:
    MigrationsDbTest() : dir_(fs::temp_directory_path() / test::unique_name("marquee_migrations")) {
        fs::create_directories(dir_ / service_);
    }
    ~MigrationsDbTest() override {
        run(io_, [this]() -> asio::awaitable<int> {
            co_await pool_.query("DROP SCHEMA IF EXISTS " + service_ + " CASCADE");
            co_await pool_.query("DELETE FROM public.schema_migrations WHERE service = $1", params(service_));
            co_return 0;
        }());
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    void write(const std::string& file, const std::string& sql) const {
        std::ofstream(dir_ / service_ / file, std::ios::binary) << sql;
    }
    void write_standard_files() const {
        write("0001_schema.sql", "CREATE SCHEMA " + service_ + ";\n");
        // Several statements in one file, as the simple-query protocol allows.
        write("0002_items.sql", "CREATE TABLE " + service_ +
                                    ".items (id int PRIMARY KEY, name text NOT NULL);\n"
                                    "INSERT INTO " +
                                    service_ +
                                    ".items VALUES (1, 'one');\n"
                                    "INSERT INTO " +
                                    service_ + ".items VALUES (2, 'two');\n");
        write("0010_price.sql",
              "ALTER TABLE " + service_ + ".items ADD COLUMN price bigint NOT NULL DEFAULT 0;\n");
    }
    MigrationReport migrate_now(Pool& pool) {
        return run(io_, migrate(pool, dir_, {service_}, MigrationOptions{std::chrono::seconds{30}}));
    }
    std::vector<int> applied_versions() {
        return run(io_, [this]() -> asio::awaitable<std::vector<int>> {
            const Result r = co_await pool_.query(
                "SELECT version FROM public.schema_migrations WHERE service = $1 ORDER BY applied_at, "
                "version",
                params(service_));
            std::vector<int> versions;
            versions.reserve(static_cast<std::size_t>(r.rows()));
            for (int row = 0; row < r.rows(); ++row) versions.push_back(r.get<int>(row, "version"));
            co_return versions;
        }());
    }
    std::string error_of(Pool& pool) {
        try {
            migrate_now(pool);
        } catch (const MigrationError& error) {
            return error.what();
        }
        ADD_FAILURE() << "expected MigrationError";
        return {};
    }

    asio::io_context io_;
    std::string service_ = test::unique_name("mig");
    fs::path dir_;
    Pool pool_{io_.get_executor(),
               PoolOptions{test::database_url(), 4, std::chrono::seconds{10}, "migrations_dbtest"}};
};

TEST_F(MigrationsDbTest, AppliesInVersionOrderOnceAndIsIdempotent) {
    write_standard_files();
    const MigrationReport first = migrate_now(pool_);
    ASSERT_EQ(first.applied.size(), 3u);
    EXPECT_EQ(first.applied[0].version, 1);
    EXPECT_EQ(first.applied[1].version, 2);
    EXPECT_EQ(first.applied[2].version, 10);
    EXPECT_EQ(first.applied[2].name, "price");
    EXPECT_EQ(first.already_applied, 0u);

    const MigrationReport second = migrate_now(pool_);
    EXPECT_TRUE(second.applied.empty());
    EXPECT_EQ(second.already_applied, 3u);
    EXPECT_EQ(applied_versions(), (std::vector<int>{1, 2, 10}));

    const Result r =
        run(io_, pool_.query("SELECT count(*) AS n, sum(price) AS p FROM " + service_ + ".items"));
    EXPECT_EQ(r.get<std::int64_t>(0, "n"), 2);
    const Result checksum = run(
        io_, pool_.query("SELECT checksum FROM public.schema_migrations WHERE service = $1 AND version = 1",
                         params(service_)));
    EXPECT_EQ(checksum.get<std::string>(0, "checksum"), sha256_hex("CREATE SCHEMA " + service_ + ";\n"));
}

TEST_F(MigrationsDbTest, NewFileIsAppliedOnTheNextRun) {
    write_standard_files();
    migrate_now(pool_);
    write("0011_more.sql", "INSERT INTO " + service_ + ".items VALUES (3, 'three', 300);");
    const MigrationReport report = migrate_now(pool_);
    ASSERT_EQ(report.applied.size(), 1u);
    EXPECT_EQ(report.applied[0].version, 11);
    EXPECT_EQ(report.already_applied, 3u);
}

TEST_F(MigrationsDbTest, ChangedAppliedFileIsRejectedByName) {
    write_standard_files();
    migrate_now(pool_);
    write("0002_items.sql", "CREATE TABLE " + service_ + ".items (id int);\n");
    write("0011_more.sql", "SELECT 1;");
    const std::string message = error_of(pool_);
    EXPECT_NE(message.find("0002_items.sql"), std::string::npos) << message;
    EXPECT_EQ(applied_versions(), (std::vector<int>{1, 2, 10}));  // nothing after the check ran
}

TEST_F(MigrationsDbTest, ListedCommentEditIsAcceptedAndItsChecksumRecorded) {
    write_standard_files();
    migrate_now(pool_);
    const std::string before = "CREATE TABLE " + service_ +
                               ".items (id int PRIMARY KEY, name text NOT NULL);\n"
                               "INSERT INTO " +
                               service_ + ".items VALUES (1, 'one');\nINSERT INTO " + service_ +
                               ".items VALUES (2, 'two');\n";
    const std::string after = "-- items, with a comment added later\n" + before;
    write("0002_items.sql", after);
    MigrationOptions options{std::chrono::seconds{30}, {{service_, 2, sha256_hex(before)}}};
    const MigrationReport report = run(io_, migrate(pool_, dir_, {service_}, options));
    EXPECT_TRUE(report.applied.empty());
    EXPECT_EQ(report.already_applied, 3u);
    const Result checksum = run(
        io_, pool_.query("SELECT checksum FROM public.schema_migrations WHERE service = $1 AND version = 2",
                         params(service_)));
    EXPECT_EQ(checksum.get<std::string>(0, "checksum"), sha256_hex(after));
    // Recorded now, so the next run needs no listing; an edit that is not listed is still refused.
    EXPECT_EQ(migrate_now(pool_).already_applied, 3u);
    write("0002_items.sql", "-- another edit\n" + after);
    EXPECT_NE(error_of(pool_).find("0002_items.sql"), std::string::npos);
}

TEST_F(MigrationsDbTest, BadFileNameIsRejectedBeforeAnythingRuns) {
    write_standard_files();
    write("3_oops.sql", "SELECT 1;");
    const std::string message = error_of(pool_);
    EXPECT_NE(message.find("3_oops.sql"), std::string::npos) << message;
    EXPECT_TRUE(applied_versions().empty());
}

TEST_F(MigrationsDbTest, FailingFileIsRolledBackAndStopsTheRun) {
    write("0001_schema.sql", "CREATE SCHEMA " + service_ + ";");
    write("0002_broken.sql",
          "CREATE TABLE " + service_ + ".half (id int);\nSELECT no_such_column FROM " + service_ + ".half;");
    write("0003_after.sql", "CREATE TABLE " + service_ + ".after (id int);");
    const std::string message = error_of(pool_);
    EXPECT_NE(message.find("0002_broken.sql"), std::string::npos) << message;
    EXPECT_EQ(applied_versions(), (std::vector<int>{1}));
    const Result r =
        run(io_, pool_.query("SELECT to_regclass($1) IS NULL AS gone", params(service_ + ".half")));
    EXPECT_TRUE(r.get<bool>(0, "gone"));  // the file's first statement was rolled back with it
}

TEST_F(MigrationsDbTest, UnappliedFileOlderThanAnAppliedOneIsRejected) {
    write("0001_schema.sql", "CREATE SCHEMA " + service_ + ";");
    write("0003_third.sql", "SELECT 3;");
    migrate_now(pool_);
    write("0002_late.sql", "SELECT 2;");
    const std::string message = error_of(pool_);
    EXPECT_NE(message.find("0002_late.sql"), std::string::npos) << message;
}

TEST_F(MigrationsDbTest, ConcurrentRunsApplyEachFileOnce) {
    write_standard_files();  // CREATE SCHEMA / CREATE TABLE without IF NOT EXISTS: a second run would fail
    Pool other(io_.get_executor(),
               PoolOptions{test::database_url(), 2, std::chrono::seconds{10}, "migrations_dbtest"});
    std::vector<MigrationReport> reports(2);
    std::vector<std::string> errors(2);
    for (int i = 0; i < 2; ++i) {
        asio::co_spawn(io_, migrate(i == 0 ? pool_ : other, dir_, {service_}),
                       [&reports, &errors, i](const std::exception_ptr& e, MigrationReport report) {
                           if (!e) {
                               reports[i] = std::move(report);
                               return;
                           }
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& error) {
                               errors[i] = error.what();
                           }
                       });
    }
    run_threads(io_, 2);
    EXPECT_EQ(errors, (std::vector<std::string>{"", ""}));
    EXPECT_EQ(reports[0].applied.size() + reports[1].applied.size(), 3u);
    EXPECT_EQ(reports[0].already_applied + reports[1].already_applied, 3u);
    EXPECT_EQ(applied_versions(), (std::vector<int>{1, 2, 10}));
}

}  // namespace
}  // namespace marquee::db
