#include "services/catalog/documents.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "services/catalog/rules.hpp"

namespace marquee::catalog {

namespace json = boost::json;

json::object to_json(const Concert& concert) {
    return json::object{{"id", concert.id},
                        {"title", concert.title},
                        {"artist", concert.artist},
                        {"venue", concert.venue},
                        {"description", concert.description}};
}

json::object to_json(const Zone& zone) {
    return json::object{{"id", zone.id},
                        {"name", zone.name},
                        {"price", zone.price},
                        {"color", zone.color},
                        {"seatCount", zone.seat_count}};
}

json::object cancellation_policy(core::TimePoint starts_at, const std::vector<CancellationTier>& tiers) {
    json::array fees;
    core::TimePoint deadline = starts_at;
    for (const CancellationTier& tier : tiers) {
        deadline = starts_at - std::chrono::hours(24) * tier.days_before;
        fees.push_back(json::object{{"until", core::to_rfc3339(deadline)}, {"percent", tier.percent}});
    }
    return json::object{{"deadline", core::to_rfc3339(deadline)}, {"fees", std::move(fees)}};
}

json::object to_json(const Schedule& schedule) {
    json::array zones;
    for (const Zone& zone : schedule.zones) zones.push_back(to_json(zone));
    return json::object{
        {"id", schedule.id},
        {"concertId", schedule.concert_id},
        {"startsAt", core::to_rfc3339(schedule.starts_at)},
        {"bookingOpensAt", core::to_rfc3339(schedule.booking_opens_at)},
        {"bookingClosesAt", core::to_rfc3339(schedule.booking_closes_at)},
        {"seatCount", schedule.seat_count},
        {"ticketLimit", schedule.ticket_limit},
        {"zones", std::move(zones)},
        {"cancellationPolicy", cancellation_policy(schedule.starts_at, schedule.cancellation)}};
}

SeatMap make_seat_map(std::int64_t schedule_id, std::vector<Zone> zones, std::vector<Seat> seats) {
    json::array zone_docs;
    for (const Zone& zone : zones) zone_docs.push_back(to_json(zone));
    json::array seat_docs;
    seat_docs.reserve(seats.size());
    for (const Seat& seat : seats) {
        seat_docs.push_back(json::object{{"id", seat.id},
                                         {"index", seat.index},
                                         {"row", seat.row},
                                         {"number", seat.number},
                                         {"x", seat.x},
                                         {"y", seat.y},
                                         {"zoneId", seat.zone_id}});
    }
    const json::object doc{{"scheduleId", schedule_id},
                           {"seatCount", seats.size()},
                           {"zones", std::move(zone_docs)},
                           {"seats", std::move(seat_docs)}};
    SeatMap map;
    map.schedule_id = schedule_id;
    map.zones = std::move(zones);
    map.seats = std::move(seats);
    map.body = json::serialize(doc);
    map.etag = strong_etag(map.body);
    return map;
}

SeatMap parse_seat_map(std::string body) {
    const json::object doc = json::parse(body).as_object();
    SeatMap map;
    map.schedule_id = doc.at("scheduleId").to_number<std::int64_t>();
    for (const json::value& z : doc.at("zones").as_array()) {
        const json::object& o = z.as_object();
        Zone zone;
        zone.id = o.at("id").to_number<std::int64_t>();
        zone.name = std::string(o.at("name").as_string());
        zone.price = o.at("price").to_number<std::int64_t>();
        zone.color = std::string(o.at("color").as_string());
        zone.seat_count = o.at("seatCount").to_number<int>();
        map.zones.push_back(std::move(zone));
    }
    const json::array& seats = doc.at("seats").as_array();
    map.seats.reserve(seats.size());
    for (const json::value& s : seats) {
        const json::object& o = s.as_object();
        map.seats.push_back(
            Seat{o.at("id").to_number<std::int64_t>(), o.at("index").to_number<std::int32_t>(),
                 std::string(o.at("row").as_string()), o.at("number").to_number<std::int32_t>(),
                 o.at("x").to_number<std::int32_t>(), o.at("y").to_number<std::int32_t>(),
                 o.at("zoneId").to_number<std::int64_t>()});
    }
    map.etag = strong_etag(body);
    map.body = std::move(body);
    return map;
}

}  // namespace marquee::catalog
