#include "db/migrations.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/local_services.hpp"

namespace marquee::db {
namespace {

namespace fs = std::filesystem;

class TempDir {
  public:
    TempDir() : path_(fs::temp_directory_path() / test::unique_name("marquee_migrations")) {
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const { return path_; }
    void write(const std::string& relative, const std::string& text) const {
        fs::create_directories((path_ / relative).parent_path());
        std::ofstream(path_ / relative, std::ios::binary) << text;
    }

  private:
    fs::path path_;
};

TEST(MigrationFileName, AcceptsFourDigitVersionAndLowerCaseName) {
    const auto parsed = parse_migration_file_name("0012_add_seat_index.sql");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->version, 12);
    EXPECT_EQ(parsed->name, "add_seat_index");
}

TEST(MigrationFileName, RejectsEverythingElse) {
    for (const char* name :
         {"1_schema.sql", "00001_schema.sql", "0001-schema.sql", "0001_.sql", "0000_schema.sql",
          "0001_Schema.sql", "0001_schema.SQL", "0001_schema.sql.bak", "0001_sch ema.sql", "README.md",
          "abcd_schema.sql", ".0001_schema.sql", "0001_schema"}) {
        EXPECT_FALSE(parse_migration_file_name(name).has_value()) << name;
    }
}

TEST(MigrationFiles, AreReadInVersionOrderWithChecksums) {
    const TempDir dir;
    dir.write("svc/0010_later.sql", "SELECT 10;");
    dir.write("svc/0002_second.sql", "SELECT 2;");
    dir.write("svc/0001_schema.sql", "abc");
    const auto files = read_migrations(dir.path(), "svc");
    ASSERT_EQ(files.size(), 3u);
    EXPECT_EQ(files[0].version, 1);
    EXPECT_EQ(files[1].version, 2);
    EXPECT_EQ(files[2].version, 10);
    EXPECT_EQ(files[2].name, "later");
    EXPECT_EQ(files[0].service, "svc");
    EXPECT_EQ(files[0].sql, "abc");
    EXPECT_EQ(files[0].checksum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(MigrationFiles, BadNameIsAnErrorNamingTheFile) {
    const TempDir dir;
    dir.write("svc/0001_schema.sql", "SELECT 1;");
    dir.write("svc/2_oops.sql", "SELECT 2;");
    try {
        read_migrations(dir.path(), "svc");
        FAIL() << "expected MigrationError";
    } catch (const MigrationError& error) {
        EXPECT_NE(std::string(error.what()).find("2_oops.sql"), std::string::npos) << error.what();
    }
}

TEST(MigrationFiles, RepeatedVersionIsAnError) {
    const TempDir dir;
    dir.write("svc/0001_schema.sql", "SELECT 1;");
    dir.write("svc/0001_other.sql", "SELECT 2;");
    EXPECT_THROW(read_migrations(dir.path(), "svc"), MigrationError);
}

TEST(MigrationFiles, MissingServiceFolderHasNoMigrations) {
    const TempDir dir;
    EXPECT_TRUE(read_migrations(dir.path(), "gateway").empty());
    EXPECT_THROW(read_migrations(dir.path(), "../etc"), MigrationError);
}

TEST(MigrationFiles, RepositoryMigrationsStartWithTheServiceSchema) {
    const fs::path repo_migrations = fs::path(test::source_dir()) / "migrations";
    for (const std::string service : {"auth", "queue", "catalog", "wallet", "booking", "payment"}) {
        const auto files = read_migrations(repo_migrations, service);
        ASSERT_FALSE(files.empty()) << service;
        EXPECT_EQ(files[0].version, 1) << service;
        EXPECT_NE(files[0].sql.find("CREATE SCHEMA IF NOT EXISTS " + service + ";"), std::string::npos)
            << service;
    }
}

}  // namespace
}  // namespace marquee::db
