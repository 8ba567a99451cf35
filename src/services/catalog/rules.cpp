#include "services/catalog/rules.hpp"

#include <chrono>
#include <regex>

#include <fmt/format.h>

#include "core/problem.hpp"

namespace marquee::catalog {
namespace {

namespace json = boost::json;

std::string text_field(const json::object& body, std::string_view name, const std::string& field,
                       std::size_t min, std::size_t max, bool required = true) {
    const json::value* value = body.if_contains(name);
    if (value == nullptr || value->is_null()) {
        if (!required) return {};
        throw core::Problem::invalid_field(field, "is required");
    }
    if (!value->is_string()) throw core::Problem::invalid_field(field, "must be a string");
    std::string text(value->as_string());
    // Length in code points, as PostgreSQL's char_length counts them.
    std::size_t length = 0;
    for (const char c : text) length += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (length < min || length > max) {
        throw core::Problem::invalid_field(field, fmt::format("must be {} to {} characters", min, max));
    }
    return text;
}

std::int64_t integer_field(const json::object& body, std::string_view name, const std::string& field,
                           std::int64_t min, std::int64_t max) {
    const json::value* value = body.if_contains(name);
    if (value == nullptr || value->is_null()) throw core::Problem::invalid_field(field, "is required");
    std::optional<std::int64_t> number;
    if (value->is_int64()) number = value->as_int64();
    if (value->is_uint64() && value->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        number = static_cast<std::int64_t>(value->as_uint64());
    }
    if (!number || *number < min || *number > max) {
        throw core::Problem::invalid_field(field, fmt::format("must be an integer from {} to {}", min, max));
    }
    return *number;
}

core::TimePoint time_field(const json::object& body, std::string_view name) {
    const std::string field(name);
    const json::value* value = body.if_contains(name);
    if (value == nullptr || value->is_null()) throw core::Problem::invalid_field(field, "is required");
    const std::optional<core::TimePoint> time =
        value->is_string() ? parse_rfc3339(value->as_string()) : std::nullopt;
    if (!time) {
        throw core::Problem::invalid_field(field, "must be an RFC 3339 date-time, e.g. 2026-12-24T19:00:00Z");
    }
    return *time;
}

bool digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
    if (at + count > text.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + count; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        out = out * 10 + (text[i] - '0');
    }
    return true;
}

}  // namespace

NewConcert parse_new_concert(const json::object& body) {
    NewConcert concert;
    concert.title = text_field(body, "title", "title", 1, 200);
    concert.artist = text_field(body, "artist", "artist", 1, 200);
    concert.venue = text_field(body, "venue", "venue", 1, 200);
    concert.description = text_field(body, "description", "description", 0, 5000, false);
    return concert;
}

NewSchedule parse_new_schedule(const json::object& body) {
    NewSchedule schedule;
    schedule.starts_at = time_field(body, "startsAt");
    schedule.booking_opens_at = time_field(body, "bookingOpensAt");
    schedule.booking_closes_at = time_field(body, "bookingClosesAt");
    if (!(schedule.booking_opens_at < schedule.booking_closes_at)) {
        throw core::Problem::invalid_field("bookingClosesAt", "must be after bookingOpensAt");
    }
    if (schedule.booking_closes_at > schedule.starts_at) {
        throw core::Problem::invalid_field("bookingClosesAt", "must not be after startsAt");
    }
    if (const json::value* limit = body.if_contains("ticketLimit"); limit != nullptr && !limit->is_null()) {
        schedule.ticket_limit =
            static_cast<int>(integer_field(body, "ticketLimit", "ticketLimit", 1, kMaxTicketLimit));
    }
    schedule.cancellation = parse_cancellation_rule(body);
    return schedule;
}

std::optional<std::vector<CancellationTier>> parse_cancellation_rule(const json::object& body) {
    const json::value* policy = body.if_contains("cancellationPolicy");
    if (policy == nullptr || policy->is_null()) return std::nullopt;
    if (!policy->is_object()) throw core::Problem::invalid_field("cancellationPolicy", "must be an object");
    const json::value* fees = policy->as_object().if_contains("fees");
    if (fees == nullptr || !fees->is_array() || fees->as_array().empty() ||
        fees->as_array().size() > kMaxCancellationTiers) {
        throw core::Problem::invalid_field(
            "cancellationPolicy.fees",
            fmt::format("must be an array of 1 to {} tiers {{daysBefore, percent}}", kMaxCancellationTiers));
    }
    std::vector<CancellationTier> tiers;
    for (std::size_t i = 0; i < fees->as_array().size(); ++i) {
        const std::string at = fmt::format("cancellationPolicy.fees[{}]", i);
        const json::value& item = fees->as_array()[i];
        if (!item.is_object()) throw core::Problem::invalid_field(at, "must be an object");
        CancellationTier tier;
        tier.days_before =
            static_cast<int>(integer_field(item.as_object(), "daysBefore", at + ".daysBefore", 0, 365));
        tier.percent = static_cast<int>(integer_field(item.as_object(), "percent", at + ".percent", 0, 100));
        if (!tiers.empty() && tier.days_before >= tiers.back().days_before) {
            throw core::Problem::invalid_field(at + ".daysBefore",
                                               "tiers must come with fewer days each time");
        }
        tiers.push_back(tier);
    }
    return tiers;
}

std::vector<ZoneLayout> parse_layout(const json::object& body) {
    const json::value* zones = body.if_contains("zones");
    if (zones == nullptr || !zones->is_array() || zones->as_array().empty()) {
        throw core::Problem::invalid_field("zones", "must be a non-empty array");
    }
    if (zones->as_array().size() > kMaxZones) {
        throw core::Problem::invalid_field("zones", fmt::format("at most {} zones", kMaxZones));
    }
    static const std::regex kColor("^#[0-9a-f]{6}$");
    std::vector<ZoneLayout> layout;
    std::int64_t total = 0;
    for (std::size_t i = 0; i < zones->as_array().size(); ++i) {
        const std::string at = fmt::format("zones[{}]", i);
        const json::value& item = zones->as_array()[i];
        if (!item.is_object()) throw core::Problem::invalid_field(at, "must be an object");
        const json::object& zone = item.as_object();
        ZoneLayout z;
        z.name = text_field(zone, "name", at + ".name", 1, 20);
        for (const ZoneLayout& earlier : layout) {
            if (earlier.name == z.name) {
                throw core::Problem::invalid_field(at + ".name", "names must be unique");
            }
        }
        z.price = integer_field(zone, "price", at + ".price", 0, 1'000'000'000'000);
        z.color = text_field(zone, "color", at + ".color", 7, 7);
        if (!std::regex_match(z.color, kColor)) {
            throw core::Problem::invalid_field(at + ".color", "must be #rrggbb in lower-case hex");
        }
        z.rows = static_cast<int>(integer_field(zone, "rows", at + ".rows", 1, kMaxSeatsPerSchedule));
        z.seats_per_row = static_cast<int>(
            integer_field(zone, "seatsPerRow", at + ".seatsPerRow", 1, kMaxSeatsPerSchedule));
        total += static_cast<std::int64_t>(z.rows) * z.seats_per_row;
        if (total > kMaxSeatsPerSchedule) {
            throw core::Problem::invalid_field(
                at + ".rows", fmt::format("at most {} seats per schedule", kMaxSeatsPerSchedule));
        }
        layout.push_back(std::move(z));
    }
    return layout;
}

std::optional<core::TimePoint> parse_rfc3339(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (text.size() < 20 || !digits(text, 0, 4, year) || text[4] != '-' || !digits(text, 5, 2, month) ||
        text[7] != '-' || !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
        !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':' ||
        !digits(text, 17, 2, second)) {
        return std::nullopt;
    }
    std::size_t at = 19;
    std::chrono::nanoseconds fraction{0};
    if (at < text.size() && text[at] == '.') {
        ++at;
        std::int64_t scale = 100'000'000;
        const std::size_t start = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            fraction += std::chrono::nanoseconds((text[at] - '0') * scale);
            scale /= 10;
            ++at;
        }
        if (at == start) return std::nullopt;
    }
    std::chrono::minutes offset{0};
    if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
        ++at;
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        int oh = 0, om = 0;
        if (!digits(text, at + 1, 2, oh) || at + 3 >= text.size() || text[at + 3] != ':' ||
            !digits(text, at + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset = std::chrono::hours(oh) + std::chrono::minutes(om);
        if (text[at] == '-') offset = -offset;
        at += 6;
    } else {
        return std::nullopt;
    }
    if (at != text.size() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year(year),
                                           std::chrono::month(static_cast<unsigned>(month)),
                                           std::chrono::day(static_cast<unsigned>(day))};
    if (!date.ok()) return std::nullopt;
    const auto local = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                       std::chrono::seconds(std::min(second, 59));
    return std::chrono::time_point_cast<core::TimePoint::duration>(local - offset + fraction);
}

std::string row_label(int row) {
    std::string label;
    for (int n = row + 1; n > 0; n = (n - 1) / 26) {
        label.insert(label.begin(), static_cast<char>('A' + (n - 1) % 26));
    }
    return label;
}

SeatColumns expand_layout(const std::vector<ZoneLayout>& zones) {
    SeatColumns seats;
    std::int32_t index = 0;
    int row = 0;
    for (std::size_t z = 0; z < zones.size(); ++z) {
        for (int r = 0; r < zones[z].rows; ++r, ++row) {
            const std::string label = row_label(row);
            for (int n = 1; n <= zones[z].seats_per_row; ++n, ++index) {
                seats.zone_position.push_back(static_cast<int>(z));
                seats.index.push_back(index);
                seats.row.push_back(label);
                seats.number.push_back(n);
                seats.x.push_back(n);
                seats.y.push_back(row + 1);
            }
        }
    }
    return seats;
}

std::string strong_etag(std::string_view body) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const char c : body) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return fmt::format("\"{:016x}\"", hash);
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    // RFC 9110 section 13.1.2: If-None-Match uses the weak comparison, so W/"x" matches "x".
    std::size_t at = 0;
    while (at < if_none_match.size()) {
        while (at < if_none_match.size() && (if_none_match[at] == ' ' || if_none_match[at] == ',')) ++at;
        std::size_t end = if_none_match.find(',', at);
        if (end == std::string_view::npos) end = if_none_match.size();
        std::string_view tag = if_none_match.substr(at, end - at);
        while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
        if (tag == "*") return true;
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        if (!tag.empty() && tag == etag) return true;
        at = end;
    }
    return false;
}

bool bit_at(std::string_view bits, std::int64_t index) {
    const auto byte = static_cast<std::size_t>(index / 8);
    if (index < 0 || byte >= bits.size()) return false;
    return (static_cast<unsigned char>(bits[byte]) >> (7 - index % 8)) & 1u;
}

std::string fit_bitset(std::string_view bits, std::int64_t seat_count) {
    std::string out(static_cast<std::size_t>((seat_count + 7) / 8), '\0');
    for (std::size_t i = 0; i < out.size() && i < bits.size(); ++i) out[i] = bits[i];
    if (seat_count % 8 != 0 && !out.empty()) {
        out.back() =
            static_cast<char>(static_cast<unsigned char>(out.back()) & (0xFF << (8 - seat_count % 8)));
    }
    return out;
}

}  // namespace marquee::catalog
