#include "db/params.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "core/problem.hpp"

namespace marquee::db {
namespace {

template <class Number>
std::string to_text(Number value) {
    std::array<char, 64> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return std::string(buffer.data(), ec == std::errc{} ? end : buffer.data());
}

}  // namespace

std::string_view Params::text(std::size_t index) const {
    const auto& value = values_.at(index);
    return value ? std::string_view(*value) : std::string_view();
}

void Params::append_text(std::string_view text) {
    // libpq sends text parameters as C strings, and PostgreSQL text cannot hold NUL: refuse instead of
    // silently truncating at the first NUL.
    if (text.find('\0') != std::string_view::npos) {
        throw core::Problem::bad_request("a text value contains a NUL character, which cannot be stored");
    }
    values_.emplace_back(std::string(text));
}

void Params::append_signed(std::int64_t value) {
    values_.emplace_back(to_text(value));
}

void Params::append_unsigned(std::uint64_t value) {
    values_.emplace_back(to_text(value));
}

void Params::append_bool(bool value) {
    values_.emplace_back(value ? "true" : "false");
}

void Params::append_double(double value) {
    // PostgreSQL's spellings of the special values; to_chars gives the shortest text that round-trips.
    if (std::isnan(value)) {
        values_.emplace_back("NaN");
    } else if (std::isinf(value)) {
        values_.emplace_back(value > 0 ? "Infinity" : "-Infinity");
    } else {
        values_.emplace_back(to_text(value));
    }
}

void Params::append_time(core::TimePoint value) {
    using namespace std::chrono;
    const auto micros = time_point_cast<microseconds>(value);
    const auto day = floor<days>(micros);
    const year_month_day date{day};
    const hh_mm_ss<microseconds> time{micros - day};
    std::array<char, 64> buffer{};
    const int length = std::snprintf(
        buffer.data(), buffer.size(), "%04d-%02u-%02u %02d:%02d:%02d.%06lld+00",
        static_cast<int>(date.year()), static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
        static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
        static_cast<int>(time.seconds().count()), static_cast<long long>(time.subseconds().count()));
    values_.emplace_back(std::string(buffer.data(), static_cast<std::size_t>(length)));
}

}  // namespace marquee::db
