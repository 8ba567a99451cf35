#include "services/booking/rules.hpp"

#include <algorithm>

#include "core/problem.hpp"
#include "http/idempotency.hpp"

namespace marquee::booking {

namespace json = boost::json;

namespace {

std::int64_t positive_id(const json::value& v, const std::string& field) {
    if (v.is_int64() && v.get_int64() > 0) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() > 0 && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v.get_uint64());
    }
    throw core::Problem::invalid_field(field, "must be a positive integer id");
}

}  // namespace

HoldRequest hold_request_from(const json::object& body) {
    HoldRequest request;
    const auto* schedule = body.if_contains("scheduleId");
    if (schedule == nullptr) throw core::Problem::invalid_field("scheduleId", "is required");
    request.schedule_id = positive_id(*schedule, "scheduleId");

    const auto* seats = body.if_contains("seatIds");
    const auto* zone = body.if_contains("zoneId");
    if (zone != nullptr && seats != nullptr) {
        throw core::Problem::invalid_field("zoneId", "send either seatIds, or zoneId and count, not both");
    }
    if (zone != nullptr) {
        request.zone_id = positive_id(*zone, "zoneId");
        const auto* count = body.if_contains("count");
        if (count == nullptr) throw core::Problem::invalid_field("count", "is required with zoneId: 1 to 4");
        const bool in_range =
            (count->is_int64() && count->get_int64() >= 1 &&
             count->get_int64() <= static_cast<std::int64_t>(kMaxSeatsPerHold)) ||
            (count->is_uint64() && count->get_uint64() >= 1 && count->get_uint64() <= kMaxSeatsPerHold);
        if (!in_range) throw core::Problem::invalid_field("count", "must be an integer from 1 to 4");
        request.count =
            count->is_int64() ? static_cast<int>(count->get_int64()) : static_cast<int>(count->get_uint64());
        return request;
    }

    if (seats == nullptr || !seats->is_array()) {
        throw core::Problem::invalid_field("seatIds", "is required: an array of 1 to 4 seat ids");
    }
    const auto& array = seats->get_array();
    if (array.empty() || array.size() > kMaxSeatsPerHold) {
        throw core::Problem::invalid_field("seatIds", "must hold 1 to 4 seat ids");
    }
    for (const auto& v : array) request.seat_ids.push_back(positive_id(v, "seatIds"));
    std::sort(request.seat_ids.begin(), request.seat_ids.end());
    if (std::adjacent_find(request.seat_ids.begin(), request.seat_ids.end()) != request.seat_ids.end()) {
        throw core::Problem::invalid_field("seatIds", "must not repeat a seat");
    }
    return request;
}

std::string hold_request_hash(const HoldRequest& request) {
    std::string canonical = "hold;schedule=" + std::to_string(request.schedule_id);
    if (request.best_available()) {
        canonical += ";zone=" + std::to_string(request.zone_id) + ";count=" + std::to_string(request.count);
    } else {
        canonical += ";seats=" + bigint_array(request.seat_ids);  // sorted by hold_request_from
    }
    return http::request_hash(canonical);
}

std::string bigint_array(const std::vector<std::int64_t>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(values[i]);
    }
    out += '}';
    return out;
}

std::string seat_lock_key(std::int64_t schedule_id, std::int64_t seat_id) {
    return "booking:{" + std::to_string(schedule_id) + "}:seat-lock:" + std::to_string(seat_id);
}

}  // namespace marquee::booking
