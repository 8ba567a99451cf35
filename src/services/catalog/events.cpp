#include "services/catalog/events.hpp"

#include <boost/json/parse.hpp>

namespace marquee::catalog {

namespace json = boost::json;

std::optional<SeatEvent> parse_seat_event(std::string_view subject, std::string_view payload) {
    const std::size_t dot = subject.rfind('.');
    const std::string_view type = dot == std::string_view::npos ? subject : subject.substr(dot + 1);
    SeatEvent event;
    if (type == "held") {
        event.state = SeatState::Held;
    } else if (type == "confirmed") {
        event.state = SeatState::Sold;
    } else if (type == "expired" || type == "cancelled") {
        event.state = SeatState::Available;
    } else {
        return std::nullopt;
    }
    boost::system::error_code error;
    const json::value doc = json::parse(payload, error);
    if (error || !doc.is_object()) return std::nullopt;
    const json::value* schedule = doc.as_object().if_contains("scheduleId");
    const json::value* seats = doc.as_object().if_contains("seatIndexes");
    if (schedule == nullptr || !schedule->is_int64() || schedule->as_int64() < 1) return std::nullopt;
    if (seats == nullptr || !seats->is_array() || seats->as_array().empty()) return std::nullopt;
    event.schedule_id = schedule->as_int64();
    for (const json::value& seat : seats->as_array()) {
        if (!seat.is_int64() || seat.as_int64() < 0 || seat.as_int64() > INT32_MAX) return std::nullopt;
        event.seat_indexes.push_back(static_cast<std::int32_t>(seat.as_int64()));
    }
    return event;
}

}  // namespace marquee::catalog
