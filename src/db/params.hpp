#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace marquee::db {

namespace detail {
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class>
inline constexpr bool kDependentFalse = false;
}  // namespace detail

/// Values for the $1..$n placeholders of one statement, sent in text format so the server parses them
/// by the column's type; they are data, never SQL. Accepts integers, bool, floating point, strings,
/// core::TimePoint (sent as UTC), and std::nullopt or an empty std::optional for NULL:
///   Params{}.add(user_id).add(email).add(std::nullopt)   or   params(user_id, email, std::nullopt)
class Params {
  public:
    Params() = default;

    template <class T>
    Params& add(const T& value) & {
        append(value);
        return *this;
    }
    template <class T>
    Params&& add(const T& value) && {
        append(value);
        return std::move(*this);
    }

    std::size_t size() const noexcept { return values_.size(); }
    bool empty() const noexcept { return values_.empty(); }
    bool is_null(std::size_t index) const { return !values_.at(index).has_value(); }
    /// The text sent for parameter `index` (0-based, so $1 is text(0)); empty for NULL.
    std::string_view text(std::size_t index) const;

  private:
    template <class T>
    void append(const T& value);
    void append_text(std::string_view text);
    void append_signed(std::int64_t value);
    void append_unsigned(std::uint64_t value);
    void append_bool(bool value);
    void append_double(double value);
    void append_time(core::TimePoint value);
    void append_null() { values_.emplace_back(); }

    std::vector<std::optional<std::string>> values_;
};

/// Params from a list of values: params(user_id, "A1", std::optional<std::int64_t>{}).
template <class... Ts>
Params params(const Ts&... values) {
    Params result;
    (result.add(values), ...);
    return result;
}

template <class T>
void Params::append(const T& value) {
    if constexpr (std::is_same_v<T, std::nullopt_t>) {
        append_null();
    } else if constexpr (detail::IsOptional<T>::value) {
        if (value.has_value()) {
            append(*value);
        } else {
            append_null();
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        append_bool(value);
    } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, char8_t> ||
                         std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t> ||
                         std::is_same_v<T, wchar_t>) {
        static_assert(detail::kDependentFalse<T>, "db::Params: pass a character as a string, not a char");
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        append_signed(value);
    } else if constexpr (std::is_integral_v<T>) {
        append_unsigned(value);
    } else if constexpr (std::is_floating_point_v<T>) {
        append_double(static_cast<double>(value));
    } else if constexpr (std::is_same_v<T, core::TimePoint>) {
        append_time(value);
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        append_text(value);
    } else {
        static_assert(detail::kDependentFalse<T>, "db::Params: unsupported parameter type");
    }
}

}  // namespace marquee::db
