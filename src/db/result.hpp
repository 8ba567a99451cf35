#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/clock.hpp"
#include "db/detail/pg_fwd.hpp"
#include "db/params.hpp"

namespace marquee::db {

/// Reading a column that is not there, a NULL into a non-optional, or text that is not the asked type:
/// a mismatch between the SQL and the code reading it, i.e. a bug (answered 500, never a client error).
class ResultError : public std::logic_error {
  public:
    using std::logic_error::logic_error;
};

namespace detail {
// Text-format values as PostgreSQL prints them (the pool sets DateStyle=ISO and TimeZone=UTC).
// Each returns false when `text` is not a value of that type.
bool parse_text(std::string_view text, std::string& out);
bool parse_text(std::string_view text, std::string_view& out);
bool parse_text(std::string_view text, std::int64_t& out);
bool parse_text(std::string_view text, std::int32_t& out);
bool parse_text(std::string_view text, std::int16_t& out);
bool parse_text(std::string_view text, double& out);
bool parse_text(std::string_view text, bool& out);
bool parse_text(std::string_view text, core::TimePoint& out);

template <class T>
constexpr std::string_view type_name() {
    if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
    if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
    if constexpr (std::is_same_v<T, std::int16_t>) return "int16";
    if constexpr (std::is_same_v<T, double>) return "double";
    if constexpr (std::is_same_v<T, bool>) return "bool";
    if constexpr (std::is_same_v<T, core::TimePoint>) return "timestamp";
    return "text";
}
}  // namespace detail

/// The rows of one statement, in text format. Owns the libpq result; string_views it hands out live as
/// long as the Result. Rows and columns are 0-based ints, as in libpq.
///   const Result r = co_await pool.query("SELECT id, email FROM auth.users WHERE id = $1", params(id));
///   if (r.empty()) ...;  auto email = r.get<std::string>(0, "email");
class Result {
  public:
    /// No rows, no columns.
    Result() = default;
    explicit Result(detail::ResultPtr result) noexcept;

    int rows() const noexcept;
    int columns() const noexcept;
    bool empty() const noexcept { return rows() == 0; }
    /// Rows an INSERT/UPDATE/DELETE/SELECT... touched (PQcmdTuples); 0 for commands that report none.
    std::int64_t affected() const noexcept;

    std::string_view column_name(int column) const;
    /// Index of the column named exactly `name`; throws ResultError naming the columns there are.
    int column(std::string_view name) const;

    bool is_null(int row, int column) const;
    bool is_null(int row, std::string_view column) const { return is_null(row, this->column(column)); }
    /// The value as PostgreSQL printed it; empty for NULL.
    std::string_view text(int row, int column) const;
    std::string_view text(int row, std::string_view column) const { return text(row, this->column(column)); }

    /// The value as T: std::int64_t, std::int32_t, std::int16_t, double, bool, std::string,
    /// std::string_view, core::TimePoint, or std::optional of one of them (NULL -> nullopt).
    /// Throws ResultError for a missing column, NULL into a non-optional T, or text that is not a T.
    template <class T>
    T get(int row, int column) const;
    template <class T>
    T get(int row, std::string_view column) const {
        return get<T>(row, this->column(column));
    }

  private:
    void check_column(int column) const;
    void check(int row, int column) const;
    [[noreturn]] void throw_null(int row, int column) const;
    [[noreturn]] void throw_unreadable(int row, int column, std::string_view type) const;

    detail::ResultPtr result_;
};

template <class T>
T Result::get(int row, int column) const {
    if constexpr (detail::IsOptional<T>::value) {
        if (is_null(row, column)) return std::nullopt;
        return get<typename T::value_type>(row, column);
    } else {
        if (is_null(row, column)) throw_null(row, column);
        T value{};
        if (!detail::parse_text(text(row, column), value)) {
            throw_unreadable(row, column, detail::type_name<T>());
        }
        return value;
    }
}

}  // namespace marquee::db
