#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "services/catalog/model.hpp"

namespace marquee::catalog {

inline constexpr int kMaxSeatsPerSchedule = 100'000;
inline constexpr int kMaxZones = 50;

/// Each parse_* reads an admin request body and throws Problem 400 naming the first bad field
/// (e.g. "zones[1].price").
NewConcert parse_new_concert(const boost::json::object& body);
NewSchedule parse_new_schedule(const boost::json::object& body);
/// The optional `cancellationPolicy: {"fees": [{"daysBefore", "percent"}, ...]}` of a new schedule (ADR
/// 0028): 1..8 tiers, days 0..365 strictly decreasing, percents 0..100; nullopt when absent (the default
/// rule).
constexpr std::size_t kMaxCancellationTiers = 8;
std::optional<std::vector<CancellationTier>> parse_cancellation_rule(const boost::json::object& body);
std::vector<ZoneLayout> parse_layout(const boost::json::object& body);

/// RFC 3339 date-time (`2026-12-24T19:00:00Z`, `...+09:00`, optional fraction); nullopt otherwise.
std::optional<core::TimePoint> parse_rfc3339(std::string_view text);

/// Row labels run A..Z, AA..AZ, BA.. across the whole schedule, so (row, number) is unique per schedule.
std::string row_label(int row);

/// The seats of a validated layout: zones in order, rows top to bottom, seats left to right; seat_index is
/// dense from 0 and each zone's seats are one contiguous index range.
SeatColumns expand_layout(const std::vector<ZoneLayout>& zones);

/// Strong ETag (RFC 9110 section 8.8.3) of a document: a quoted FNV-1a 64-bit hash of its bytes.
std::string strong_etag(std::string_view body);
/// Whether an If-None-Match header value matches `etag` (a list, `*`, or weak forms compare weakly).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

/// Bit `index` of a Redis bitmap (most significant bit first); bits past the end are 0.
bool bit_at(std::string_view bits, std::int64_t index);
/// The bitmap cut or zero-padded to exactly ceil(seat_count / 8) bytes, bits past seat_count cleared.
std::string fit_bitset(std::string_view bits, std::int64_t seat_count);

}  // namespace marquee::catalog
