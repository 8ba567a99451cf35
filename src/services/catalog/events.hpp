#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "services/catalog/model.hpp"

namespace marquee::catalog {

/// What a `reservation.*` event means for the availability view. The contract the catalog expects of
/// booking's events (issue 5): subject `marquee.reservation.<held|confirmed|expired|cancelled>`, payload
/// `{"scheduleId": <int>, "seatIndexes": [<int>, ...], ...}` (other members are ignored); seat indexes come
/// from catalog.seats_for_hold.
struct SeatEvent {
    std::int64_t schedule_id = 0;
    std::vector<std::int32_t> seat_indexes;
    SeatState state = SeatState::Available;
};

/// held → Held, confirmed → Sold, expired and cancelled → Available (by the subject's last segment);
/// nullopt for another event or a payload without those members (a poison message: terminate it).
std::optional<SeatEvent> parse_seat_event(std::string_view subject, std::string_view payload);

}  // namespace marquee::catalog
