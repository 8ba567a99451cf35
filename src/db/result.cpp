#include "db/result.hpp"

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <system_error>
#include <utility>

#include <libpq-fe.h>

namespace marquee::db {

namespace detail {

void ResultDeleter::operator()(pg_result* result) const noexcept {
    PQclear(result);
}

namespace {

template <class Integer>
bool parse_integer(std::string_view text, Integer& out) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && ptr == end && !text.empty();
}

// Reads exactly `width` digits at text[pos...], advancing pos.
bool digits(std::string_view text, std::size_t& pos, std::size_t width, int& out) {
    if (pos + width > text.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) {
        const char c = text[pos + i];
        if (c < '0' || c > '9') return false;
        out = out * 10 + (c - '0');
    }
    pos += width;
    return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
    if (pos >= text.size() || text[pos] != c) return false;
    ++pos;
    return true;
}

}  // namespace

bool parse_text(std::string_view text, std::string& out) {
    out.assign(text);
    return true;
}

bool parse_text(std::string_view text, std::string_view& out) {
    out = text;
    return true;
}

bool parse_text(std::string_view text, std::int64_t& out) {
    return parse_integer(text, out);
}
bool parse_text(std::string_view text, std::int32_t& out) {
    return parse_integer(text, out);
}
bool parse_text(std::string_view text, std::int16_t& out) {
    return parse_integer(text, out);
}

bool parse_text(std::string_view text, double& out) {
    if (text == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (text == "Infinity" || text == "-Infinity") {
        out = text[0] == '-' ? -std::numeric_limits<double>::infinity()
                             : std::numeric_limits<double>::infinity();
        return true;
    }
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && ptr == end && !text.empty();
}

bool parse_text(std::string_view text, bool& out) {
    if (text == "t") {
        out = true;
        return true;
    }
    if (text == "f") {
        out = false;
        return true;
    }
    return false;
}

// timestamptz/timestamp in ISO DateStyle: "2026-11-26 10:00:00[.ffffff][+HH[:MM[:SS]]]". A timestamp
// without a zone is read as UTC. BC dates, years past 9999 and +-infinity are refused.
bool parse_text(std::string_view text, core::TimePoint& out) {
    using namespace std::chrono;
    std::size_t pos = 0;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(text, pos, 4, year) || !expect(text, pos, '-') || !digits(text, pos, 2, month) ||
        !expect(text, pos, '-') || !digits(text, pos, 2, day) || !expect(text, pos, ' ') ||
        !digits(text, pos, 2, hour) || !expect(text, pos, ':') || !digits(text, pos, 2, minute) ||
        !expect(text, pos, ':') || !digits(text, pos, 2, second)) {
        return false;
    }
    long long micros = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        int places = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (places < 6) {
                micros = micros * 10 + (text[pos] - '0');
                ++places;
            }
            ++pos;
        }
        if (places == 0) return false;
        for (; places < 6; ++places) micros *= 10;
    }
    int offset_seconds = 0;
    if (pos < text.size()) {
        const char sign = text[pos++];
        if (sign != '+' && sign != '-') return false;
        int oh = 0, om = 0, os = 0;
        if (!digits(text, pos, 2, oh)) return false;
        if (pos < text.size() && (!expect(text, pos, ':') || !digits(text, pos, 2, om))) return false;
        if (pos < text.size() && (!expect(text, pos, ':') || !digits(text, pos, 2, os))) return false;
        if (pos != text.size()) return false;
        offset_seconds = (sign == '-' ? -1 : 1) * (oh * 3600 + om * 60 + os);
    }
    const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                              std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok() || hour > 23 || minute > 59 || second > 60) return false;
    const auto local =
        sys_days{date} + hours{hour} + minutes{minute} + seconds{second} + microseconds{micros};
    out = time_point_cast<core::TimePoint::duration>(local - seconds{offset_seconds});
    return true;
}

}  // namespace detail

Result::Result(detail::ResultPtr result) noexcept : result_(std::move(result)) {}

int Result::rows() const noexcept {
    return result_ ? PQntuples(result_.get()) : 0;
}

int Result::columns() const noexcept {
    return result_ ? PQnfields(result_.get()) : 0;
}

std::int64_t Result::affected() const noexcept {
    if (!result_) return 0;
    const std::string_view count = PQcmdTuples(result_.get());
    std::int64_t value = 0;
    return detail::parse_text(count, value) ? value : 0;
}

std::string_view Result::column_name(int column) const {
    check_column(column);
    return PQfname(result_.get(), column);
}

int Result::column(std::string_view name) const {
    // Exact match, unlike PQfnumber, which folds unquoted names to lower case.
    const int count = columns();
    for (int i = 0; i < count; ++i) {
        if (name == PQfname(result_.get(), i)) return i;
    }
    std::string known;
    for (int i = 0; i < count; ++i) {
        known += i == 0 ? "" : ", ";
        known += PQfname(result_.get(), i);
    }
    throw ResultError("no column '" + std::string(name) +
                      "' in the result (columns: " + (known.empty() ? std::string("none") : known) + ")");
}

bool Result::is_null(int row, int column) const {
    check(row, column);
    return PQgetisnull(result_.get(), row, column) == 1;
}

std::string_view Result::text(int row, int column) const {
    check(row, column);
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

void Result::check_column(int column) const {
    if (column < 0 || column >= columns()) {
        throw ResultError("column index " + std::to_string(column) + " is out of range (the result has " +
                          std::to_string(columns()) + " columns)");
    }
}

void Result::check(int row, int column) const {
    check_column(column);
    if (row < 0 || row >= rows()) {
        throw ResultError("row " + std::to_string(row) + " is out of range (the result has " +
                          std::to_string(rows()) + " rows)");
    }
}

void Result::throw_null(int row, int column) const {
    throw ResultError("column '" + std::string(column_name(column)) + "' is NULL in row " +
                      std::to_string(row) + "; read it as std::optional");
}

void Result::throw_unreadable(int row, int column, std::string_view type) const {
    throw ResultError("column '" + std::string(column_name(column)) + "' in row " + std::to_string(row) +
                      " is '" + std::string(text(row, column)) + "', not a " + std::string(type));
}

}  // namespace marquee::db
