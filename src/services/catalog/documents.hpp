#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "services/catalog/model.hpp"

namespace marquee::catalog {

/// The JSON documents of the API (camelCase members), and the way back from a cached document.
boost::json::object to_json(const Concert& concert);
boost::json::object to_json(const Zone& zone);
/// A schedule with its zones (each with `seatCount`).
boost::json::object to_json(const Schedule& schedule);

/// Builds the seat map's document and strong ETag from its zones and seats (seats ordered by index).
SeatMap make_seat_map(std::int64_t schedule_id, std::vector<Zone> zones, std::vector<Seat> seats);
/// A SeatMap from a document make_seat_map wrote (e.g. read back from Redis); the ETag is recomputed from
/// the same bytes, so it is identical in every process.
SeatMap parse_seat_map(std::string body);

}  // namespace marquee::catalog
