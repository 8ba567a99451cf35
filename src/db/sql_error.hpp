#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace marquee::db {

/// SQLSTATE codes services branch on (https://www.postgresql.org/docs/15/errcodes-appendix.html).
namespace sqlstate {
inline constexpr std::string_view kNotNullViolation = "23502";
inline constexpr std::string_view kForeignKeyViolation = "23503";
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kCheckViolation = "23514";
inline constexpr std::string_view kExclusionViolation = "23P01";
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
inline constexpr std::string_view kRaiseException = "P0001";
}  // namespace sqlstate

/// A statement the server refused (constraint, syntax, RAISE in a SQL function...). The connection stays
/// usable. Services map the ones they expect (e.g. 23505 on a named constraint -> 409) and let the rest
/// end the request as a 500. A server that is down or too slow is core::Problem::unavailable instead.
class SqlError : public std::runtime_error {
  public:
    SqlError(std::string sqlstate, std::string message, std::string constraint = {}, std::string detail = {},
             std::string table = {});

    /// Five-character SQLSTATE, e.g. "23505".
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    /// The server's primary message (PG_DIAG_MESSAGE_PRIMARY).
    const std::string& message() const noexcept { return message_; }
    /// The violated constraint's name (PG_DIAG_CONSTRAINT_NAME); empty when not a constraint error.
    const std::string& constraint() const noexcept { return constraint_; }
    /// PG_DIAG_MESSAGE_DETAIL; may contain row values, so keep it out of client responses.
    const std::string& detail() const noexcept { return detail_; }
    const std::string& table() const noexcept { return table_; }

    bool is(std::string_view state) const noexcept { return sqlstate_ == state; }
    bool is_unique_violation(std::string_view constraint_name) const noexcept {
        return is(sqlstate::kUniqueViolation) && constraint_ == constraint_name;
    }

  private:
    std::string sqlstate_;
    std::string message_;
    std::string constraint_;
    std::string detail_;
    std::string table_;
};

}  // namespace marquee::db
