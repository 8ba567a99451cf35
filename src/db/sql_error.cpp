#include "db/sql_error.hpp"

#include <utility>

namespace marquee::db {
namespace {

std::string describe(const std::string& sqlstate, const std::string& message, const std::string& constraint) {
    std::string text = message + " (SQLSTATE " + sqlstate;
    if (!constraint.empty()) text += ", constraint " + constraint;
    return text + ")";
}

}  // namespace

SqlError::SqlError(std::string sqlstate, std::string message, std::string constraint, std::string detail,
                   std::string table)
    : std::runtime_error(describe(sqlstate, message, constraint)),
      sqlstate_(std::move(sqlstate)),
      message_(std::move(message)),
      constraint_(std::move(constraint)),
      detail_(std::move(detail)),
      table_(std::move(table)) {}

}  // namespace marquee::db
