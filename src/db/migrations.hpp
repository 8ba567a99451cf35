#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace marquee::db {

class Pool;

/// The migrations cannot be applied as they are: a badly named file, a repeated or out-of-order version,
/// an applied file that was edited, or a file whose SQL failed. The message names the file; start-up stops.
class MigrationError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Version and name of a file named NNNN_name.sql (NNNN from 0001 to 9999, name of [a-z0-9_]).
struct MigrationName {
    int version = 0;
    std::string name;
};

/// nullopt unless `file_name` is NNNN_name.sql.
std::optional<MigrationName> parse_migration_file_name(std::string_view file_name);

struct MigrationFile {
    std::string service;
    int version = 0;
    std::string name;
    std::filesystem::path path;
    std::string sql;
    std::string checksum;  ///< SHA-256 of the file's bytes, lower-case hex
};

/// The files of dir/<service>/ in version order; no folder means no migrations. Throws MigrationError
/// naming the file for anything that is not NNNN_name.sql and for a version used twice.
std::vector<MigrationFile> read_migrations(const std::filesystem::path& dir, const std::string& service);

/// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view bytes);

struct AppliedMigration {
    std::string service;
    int version = 0;
    std::string name;
};

struct MigrationReport {
    std::vector<AppliedMigration> applied;  ///< applied by this call, in order
    std::size_t already_applied = 0;        ///< found applied, checksum unchanged
};

/// An applied migration whose comments, never its SQL, were edited afterwards, with the checksum it had
/// when it was applied. The runner accepts that checksum for the file and records the file's new one.
struct CommentEdit {
    std::string service;
    int version = 0;
    std::string applied_checksum;
};

/// The comment edits of this repository's own migrations (migrations/README.md says when one is allowed).
std::vector<CommentEdit> project_comment_edits();

struct MigrationOptions {
    /// How long to wait for another process that is migrating (the advisory lock), and for each file.
    std::chrono::milliseconds timeout{std::chrono::minutes{5}};
    /// Earlier checksums accepted for applied files whose comments changed.
    std::vector<CommentEdit> comment_edits = project_comment_edits();
};

/// Applies, service by service in the order given, the files of dir/<service>/NNNN_name.sql that
/// public.schema_migrations does not list yet, in version order; each file runs with the simple-query
/// protocol (several statements allowed) in one transaction together with its schema_migrations row.
/// A session-level advisory lock on one connection makes concurrent callers (pods starting together)
/// take turns, so each file is applied once. Throws MigrationError (nothing after the failing file is
/// applied) or core::Problem::unavailable when PostgreSQL cannot be reached.
boost::asio::awaitable<MigrationReport> migrate(Pool& pool, std::filesystem::path dir,
                                                std::vector<std::string> services,
                                                MigrationOptions options = {});

}  // namespace marquee::db
