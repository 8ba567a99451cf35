#include "db/migrations.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <openssl/evp.h>

#include "core/log.hpp"
#include "db/params.hpp"
#include "db/pool.hpp"
#include "db/result.hpp"
#include "db/session.hpp"
#include "db/sql_error.hpp"

namespace marquee::db {
namespace {

namespace fs = std::filesystem;

/// pg_advisory_lock key shared by every Marquee process: "MARQUEE1" in ASCII.
constexpr std::int64_t kLockKey = 0x4D41525155454531;

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    service    text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, version)
))sql";

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

void check_service_name(const std::string& service) {
    const bool valid = !service.empty() && service.front() >= 'a' && service.front() <= 'z' &&
                       std::all_of(service.begin(), service.end(), is_name_char);
    if (!valid) throw MigrationError("'" + service + "' is not a service name ([a-z][a-z0-9_]*)");
}

std::string read_file(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << file.rdbuf();
    if (!file) throw MigrationError("cannot read " + path.string());
    return std::move(bytes).str();
}

std::string version_text(int version) {
    std::string text = std::to_string(version);
    return std::string(text.size() < 4 ? 4 - text.size() : 0, '0') + text;
}

// Rejects, before anything runs, an applied file that changed and a new file that sorts before an
// applied one (a migration written on an older branch would otherwise run after later ones did).
// Returns the applied files whose recorded checksum is a listed comment edit's earlier one.
std::vector<const MigrationFile*> check_against_applied(const std::vector<MigrationFile>& files,
                                                        const std::map<int, std::string>& applied,
                                                        const std::vector<CommentEdit>& comment_edits) {
    const int latest = applied.empty() ? 0 : applied.rbegin()->first;
    std::vector<const MigrationFile*> recorded_before_edit;
    for (const auto& file : files) {
        const auto found = applied.find(file.version);
        if (found != applied.end()) {
            const bool listed_edit =
                std::any_of(comment_edits.begin(), comment_edits.end(), [&](const CommentEdit& edit) {
                    return edit.service == file.service && edit.version == file.version &&
                           edit.applied_checksum == found->second;
                });
            if (listed_edit) {
                recorded_before_edit.push_back(&file);
            } else if (found->second != file.checksum) {
                throw MigrationError(
                    file.path.string() +
                    " changed after it was applied (checksum differs); never edit an applied "
                    "migration: add a new file with the next version");
            }
        } else if (file.version < latest) {
            throw MigrationError(file.path.string() + " is not applied, but version " + version_text(latest) +
                                 " of " + file.service +
                                 " already is: give it a version after the last applied one");
        }
    }
    return recorded_before_edit;
}

boost::asio::awaitable<void> apply(Session& session, const MigrationFile& file) {
    try {
        co_await session.execute("BEGIN");
        co_await session.execute(file.sql);
        co_await session.query(
            "INSERT INTO public.schema_migrations (service, version, name, checksum) VALUES ($1, $2, $3, $4)",
            params(file.service, file.version, file.name, file.checksum));
        co_await session.execute("COMMIT");
    } catch (const SqlError& error) {
        // The transaction stays open on a connection that is discarded: closing it rolls the file back.
        throw MigrationError(file.path.string() + " failed: " + error.what());
    }
}

}  // namespace

std::vector<CommentEdit> project_comment_edits() {
    // wallet/0002: a comment named a planning note instead of ADR 0012 (no SQL changed).
    return {{"wallet", 2, "63c9f612ef044f8dd64f123450e67a91fbd37bec1f22afd7ee500d106e11ab54"}};
}

std::optional<MigrationName> parse_migration_file_name(std::string_view file_name) {
    constexpr std::string_view kSuffix = ".sql";
    if (file_name.size() < 4 + 1 + 1 + kSuffix.size() ||
        file_name.substr(file_name.size() - kSuffix.size()) != kSuffix || file_name[4] != '_') {
        return std::nullopt;
    }
    int version = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        if (file_name[i] < '0' || file_name[i] > '9') return std::nullopt;
        version = version * 10 + (file_name[i] - '0');
    }
    const std::string_view name = file_name.substr(5, file_name.size() - 5 - kSuffix.size());
    if (version == 0 || name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
        return std::nullopt;
    }
    return MigrationName{version, std::string(name)};
}

std::vector<MigrationFile> read_migrations(const fs::path& dir, const std::string& service) {
    check_service_name(service);
    const fs::path folder = dir / service;
    std::error_code error;
    if (!fs::exists(folder, error)) return {};
    if (!fs::is_directory(folder, error)) throw MigrationError(folder.string() + " is not a directory");
    std::vector<MigrationFile> files;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const std::string file_name = entry.path().filename().string();
        const auto parsed = parse_migration_file_name(file_name);
        if (!parsed || !entry.is_regular_file()) {
            throw MigrationError(
                entry.path().string() +
                " is not a migration: every file in a service's folder must be named NNNN_name.sql "
                "(four-digit version from 0001, name of a-z, 0-9 and _)");
        }
        MigrationFile file;
        file.service = service;
        file.version = parsed->version;
        file.name = parsed->name;
        file.path = entry.path();
        file.sql = read_file(entry.path());
        file.checksum = sha256_hex(file.sql);
        files.push_back(std::move(file));
    }
    std::sort(files.begin(), files.end(),
              [](const MigrationFile& a, const MigrationFile& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < files.size(); ++i) {
        if (files[i].version == files[i - 1].version) {
            throw MigrationError(files[i].path.string() + " repeats version " +
                                 version_text(files[i].version) + " of " + files[i - 1].path.string());
        }
    }
    return files;
}

std::string sha256_hex(std::string_view bytes) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(std::size_t{length} * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0x0f];
    }
    return hex;
}

boost::asio::awaitable<MigrationReport> migrate(Pool& pool, fs::path dir, std::vector<std::string> services,
                                                MigrationOptions options) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) {
        throw MigrationError("the migrations directory " + dir.string() + " does not exist");
    }
    // Every file is read and checked before the database is touched.
    std::vector<std::vector<MigrationFile>> plan;
    plan.reserve(services.size());
    for (const auto& service : services) plan.push_back(read_migrations(dir, service));

    Session session = co_await pool.session();
    // The lock is held by the server session: closing the connection at the end releases it on every path,
    // including a failure half-way, and the connection never goes back to the pool still holding it.
    session.discard();
    session.set_timeout(options.timeout);
    // The pool sets the server's statement_timeout to its own deadline; this session's is longer.
    co_await session.execute("SET statement_timeout = " + std::to_string(options.timeout.count()));
    co_await session.query("SELECT pg_advisory_lock($1)", params(kLockKey));
    co_await session.execute(kCreateTable);

    MigrationReport report;
    for (std::size_t i = 0; i < services.size(); ++i) {
        const Result rows = co_await session.query(
            "SELECT version, checksum FROM public.schema_migrations WHERE service = $1", params(services[i]));
        std::map<int, std::string> applied;
        for (int row = 0; row < rows.rows(); ++row) {
            applied.emplace(rows.get<std::int32_t>(row, "version"), rows.get<std::string>(row, "checksum"));
        }
        for (const MigrationFile* edited : check_against_applied(plan[i], applied, options.comment_edits)) {
            co_await session.query(
                "UPDATE public.schema_migrations SET checksum = $3 WHERE service = $1 AND version = $2",
                params(edited->service, edited->version, edited->checksum));
            core::log_info("migration comments edited; checksum updated",
                           {{"service", edited->service}, {"version", edited->version}});
        }
        for (const auto& file : plan[i]) {
            if (applied.count(file.version) != 0) {
                ++report.already_applied;
                continue;
            }
            co_await apply(session, file);
            core::log_info("migration applied",
                           {{"service", file.service}, {"version", file.version}, {"name", file.name}});
            report.applied.push_back({file.service, file.version, file.name});
        }
    }
    co_return report;
}

}  // namespace marquee::db
