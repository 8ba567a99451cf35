#include "services/catalog/store.hpp"

#include <map>

#include "core/problem.hpp"
#include "db/pool.hpp"

namespace marquee::catalog {
namespace {

namespace asio = boost::asio;

Concert concert_at(const db::Result& r, int row) {
    return Concert{r.get<std::int64_t>(row, "id"), r.get<std::string>(row, "title"),
                   r.get<std::string>(row, "artist"), r.get<std::string>(row, "venue"),
                   r.get<std::string>(row, "description")};
}

/// The cancellation rule from the columns "cancel_days" and "cancel_percents" (comma lists, catalog/0007).
std::vector<CancellationTier> cancellation_at(const db::Result& r, int row) {
    const auto days = r.get<std::optional<std::string>>(row, "cancel_days").value_or("");
    const auto percents = r.get<std::optional<std::string>>(row, "cancel_percents").value_or("");
    std::vector<CancellationTier> tiers;
    std::size_t d = 0;
    std::size_t p = 0;
    while (d < days.size() && p < percents.size()) {
        std::size_t d_end = days.find(',', d);
        std::size_t p_end = percents.find(',', p);
        if (d_end == std::string::npos) d_end = days.size();
        if (p_end == std::string::npos) p_end = percents.size();
        tiers.push_back({std::stoi(days.substr(d, d_end - d)), std::stoi(percents.substr(p, p_end - p))});
        d = d_end + 1;
        p = p_end + 1;
    }
    return tiers.empty() ? default_cancellation() : tiers;
}

/// A rule as the two int[] literals of catalog.schedules' columns.
std::pair<std::string, std::string> cancellation_arrays(const std::vector<CancellationTier>& tiers) {
    std::string days = "{";
    std::string percents = "{";
    for (std::size_t i = 0; i < tiers.size(); ++i) {
        if (i > 0) {
            days += ',';
            percents += ',';
        }
        days += std::to_string(tiers[i].days_before);
        percents += std::to_string(tiers[i].percent);
    }
    return {days + "}", percents + "}"};
}

Schedule schedule_at(const db::Result& r, int row) {
    Schedule s;
    s.id = r.get<std::int64_t>(row, "id");
    s.concert_id = r.get<std::int64_t>(row, "concert_id");
    s.starts_at = r.get<core::TimePoint>(row, "starts_at");
    s.booking_opens_at = r.get<core::TimePoint>(row, "booking_opens_at");
    s.booking_closes_at = r.get<core::TimePoint>(row, "booking_closes_at");
    s.seat_count = r.get<std::int32_t>(row, "seat_count");
    s.ticket_limit = r.get<std::int16_t>(row, "ticket_limit");
    s.cancellation = cancellation_at(r, row);
    return s;
}

Zone zone_at(const db::Result& r, int row) {
    Zone z;
    z.id = r.get<std::int64_t>(row, "id");
    z.name = r.get<std::string>(row, "name");
    z.price = r.get<std::int64_t>(row, "price");
    z.color = r.get<std::string>(row, "color");
    z.sort_order = r.get<std::int16_t>(row, "sort_order");
    z.seat_count = static_cast<int>(r.get<std::int64_t>(row, "seat_count"));
    return z;
}

constexpr const char* kConcertColumns = "id, title, artist, venue, description";
constexpr const char* kScheduleColumns =
    "id, concert_id, starts_at, booking_opens_at, booking_closes_at, seat_count, ticket_limit, "
    "array_to_string(cancel_days_before, ',') AS cancel_days, "
    "array_to_string(cancel_fee_percents, ',') AS cancel_percents";
// Zones with their seat counts (kept with the layout by catalog/0011's triggers), for a set of schedules.
constexpr const char* kZonesOf = R"sql(
    SELECT z.schedule_id, z.id, z.name, z.price, z.color, z.sort_order, z.seat_count::bigint AS seat_count
      FROM catalog.zones z
     WHERE z.schedule_id = ANY ($1::bigint[])
     ORDER BY z.schedule_id, z.sort_order, z.id)sql";

}  // namespace

std::string text_array(const std::vector<std::string>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += '"';
        for (const char c : values[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

asio::awaitable<std::vector<Concert>> Store::list_concerts(std::optional<std::int64_t> before, int limit) {
    ++queries_;
    const db::Result r = co_await db_.query(std::string("SELECT ") + kConcertColumns +
                                                " FROM catalog.concerts WHERE ($1::bigint IS NULL OR id < $1)"
                                                " ORDER BY id DESC LIMIT $2",
                                            db::params(before, limit));
    std::vector<Concert> concerts;
    concerts.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) concerts.push_back(concert_at(r, row));
    co_return concerts;
}

asio::awaitable<std::optional<Concert>> Store::find_concert(std::int64_t id) {
    ++queries_;
    const db::Result r = co_await db_.query(
        std::string("SELECT ") + kConcertColumns + " FROM catalog.concerts WHERE id = $1", db::params(id));
    if (r.empty()) co_return std::nullopt;
    co_return concert_at(r, 0);
}

asio::awaitable<Concert> Store::insert_concert(NewConcert concert) {
    ++queries_;
    const db::Result r = co_await db_.query(
        std::string(
            "INSERT INTO catalog.concerts (title, artist, venue, description) VALUES ($1, $2, $3, $4) "
            "RETURNING ") +
            kConcertColumns,
        db::params(concert.title, concert.artist, concert.venue, concert.description));
    co_return concert_at(r, 0);
}

asio::awaitable<std::optional<std::vector<Schedule>>> Store::schedules_of(std::int64_t concert_id) {
    queries_ += 2;
    const db::Result r = co_await db_.query(
        std::string("SELECT ") + kScheduleColumns +
            ", (SELECT true FROM catalog.concerts WHERE id = $1) AS concert_exists FROM (SELECT 1) one"
            " LEFT JOIN catalog.schedules s ON s.concert_id = $1 ORDER BY starts_at, id",
        db::params(concert_id));
    if (r.empty() || r.is_null(0, "concert_exists")) co_return std::nullopt;
    std::vector<Schedule> schedules;
    std::vector<std::int64_t> ids;
    for (int row = 0; row < r.rows(); ++row) {
        if (r.is_null(row, "id")) continue;  // the concert has no schedules
        schedules.push_back(schedule_at(r, row));
        ids.push_back(schedules.back().id);
    }
    if (ids.empty()) co_return schedules;
    const db::Result zones = co_await db_.query(kZonesOf, db::params(int_array(ids)));
    std::map<std::int64_t, std::vector<Zone>> by_schedule;
    for (int row = 0; row < zones.rows(); ++row) {
        by_schedule[zones.get<std::int64_t>(row, "schedule_id")].push_back(zone_at(zones, row));
    }
    for (Schedule& s : schedules) s.zones = std::move(by_schedule[s.id]);
    co_return schedules;
}

asio::awaitable<Schedule> Store::insert_schedule(std::int64_t concert_id, NewSchedule schedule) {
    ++queries_;
    const db::Result r = co_await db_.query(
        std::string(
            "INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, booking_closes_at, "
            "ticket_limit, cancel_days_before, cancel_fee_percents) "
            "SELECT $1, $2, $3, $4, $5, $6::int[], $7::int[] WHERE EXISTS (SELECT 1 FROM catalog.concerts "
            "WHERE id = $1) "
            "RETURNING ") +
            kScheduleColumns,
        db::params(concert_id, schedule.starts_at, schedule.booking_opens_at, schedule.booking_closes_at,
                   schedule.ticket_limit,
                   cancellation_arrays(schedule.cancellation.value_or(default_cancellation())).first,
                   cancellation_arrays(schedule.cancellation.value_or(default_cancellation())).second));
    if (r.empty()) throw core::Problem::not_found("no concert " + std::to_string(concert_id));
    co_return schedule_at(r, 0);
}

asio::awaitable<std::optional<SeatMap>> Store::load_seat_map(std::int64_t schedule_id) {
    queries_ += 2;
    const db::Result zones =
        co_await db_.query(kZonesOf, db::params("{" + std::to_string(schedule_id) + "}"));
    SeatMap map;
    map.schedule_id = schedule_id;
    for (int row = 0; row < zones.rows(); ++row) map.zones.push_back(zone_at(zones, row));
    // The schedule's existence rides on the seats query, so a map costs two statements.
    const db::Result seats = co_await db_.query(
        "SELECT s.id, s.seat_index, s.row_label, s.number, s.x, s.y, s.zone_id"
        "  FROM catalog.schedules sc LEFT JOIN catalog.seats s ON s.schedule_id = sc.id"
        " WHERE sc.id = $1 ORDER BY s.seat_index",
        db::params(schedule_id));
    if (seats.empty()) co_return std::nullopt;
    map.seats.reserve(static_cast<std::size_t>(seats.rows()));
    for (int row = 0; row < seats.rows(); ++row) {
        if (seats.is_null(row, "id")) continue;  // a schedule without a layout yet
        map.seats.push_back(Seat{seats.get<std::int64_t>(row, "id"),
                                 seats.get<std::int32_t>(row, "seat_index"),
                                 seats.get<std::string>(row, "row_label"),
                                 seats.get<std::int32_t>(row, "number"), seats.get<std::int32_t>(row, "x"),
                                 seats.get<std::int32_t>(row, "y"), seats.get<std::int64_t>(row, "zone_id")});
    }
    co_return map;
}

asio::awaitable<std::int64_t> Store::insert_layout(std::int64_t schedule_id, std::vector<ZoneLayout> zones,
                                                   SeatColumns seats) {
    std::vector<std::string> names, colors;
    std::vector<std::int64_t> prices;
    std::vector<int> orders;
    for (std::size_t i = 0; i < zones.size(); ++i) {
        names.push_back(zones[i].name);
        colors.push_back(zones[i].color);
        prices.push_back(zones[i].price);
        orders.push_back(static_cast<int>(i));
    }
    auto insert = [&](db::Transaction& tx) -> asio::awaitable<std::int64_t> {
        queries_ += 4;
        const db::Result schedule = co_await tx.query(
            "SELECT concert_id, seat_count > 0 OR EXISTS (SELECT 1 FROM catalog.zones WHERE schedule_id = $1)"
            " AS has_layout FROM catalog.schedules WHERE id = $1 FOR UPDATE",
            db::params(schedule_id));
        if (schedule.empty()) throw core::Problem::not_found("no schedule " + std::to_string(schedule_id));
        if (schedule.get<bool>(0, "has_layout")) {
            throw core::Problem::conflict(
                "layout-exists", "schedule " + std::to_string(schedule_id) + " already has a seat map");
        }
        const db::Result inserted = co_await tx.query(
            "INSERT INTO catalog.zones (schedule_id, name, price, color, sort_order)"
            " SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::smallint[])"
            " RETURNING id, sort_order",
            db::params(schedule_id, text_array(names), int_array(prices), text_array(colors),
                       int_array(orders)));
        std::vector<std::int64_t> zone_ids(zones.size());
        for (int row = 0; row < inserted.rows(); ++row) {
            zone_ids.at(static_cast<std::size_t>(inserted.get<std::int16_t>(row, "sort_order"))) =
                inserted.get<std::int64_t>(row, "id");
        }
        std::vector<std::int64_t> seat_zones;
        seat_zones.reserve(seats.size());
        for (const int position : seats.zone_position) {
            seat_zones.push_back(zone_ids.at(static_cast<std::size_t>(position)));
        }
        co_await tx.query(
            "INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y)"
            " SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::text[], $5::int[], $6::int[], $7::int[])",
            db::params(schedule_id, int_array(seat_zones), int_array(seats.index), text_array(seats.row),
                       int_array(seats.number), int_array(seats.x), int_array(seats.y)));
        co_await tx.query(
            "UPDATE catalog.schedules SET seat_count = $2, layout_version = layout_version + 1,"
            " updated_at = now() WHERE id = $1",
            db::params(schedule_id, static_cast<std::int64_t>(seats.size())));
        co_return schedule.get<std::int64_t>(0, "concert_id");
    };
    co_return co_await db_.transaction(insert);
}

asio::awaitable<std::vector<std::pair<std::int32_t, SeatState>>> Store::live_seats(std::int64_t schedule_id) {
    ++queries_;
    // booking.seat_states is booking's door for this (migrations/booking/0003_doors.sql); catalog adds the
    // seat indexes its bitsets are addressed by.
    const db::Result r = co_await db_.query(
        "SELECT c.seat_index, b.state FROM booking.seat_states($1) b"
        " JOIN catalog.seats c ON c.id = b.seat_id AND c.schedule_id = $1 ORDER BY c.seat_index",
        db::params(schedule_id));
    std::vector<std::pair<std::int32_t, SeatState>> seats;
    seats.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
        const SeatState state = r.text(row, "state") == "SOLD" ? SeatState::Sold : SeatState::Held;
        seats.emplace_back(r.get<std::int32_t>(row, "seat_index"), state);
    }
    co_return seats;
}

asio::awaitable<std::vector<std::int64_t>> Store::schedules_on_sale(std::int64_t after, int limit) {
    ++queries_;
    const db::Result r = co_await db_.query(
        "SELECT id FROM catalog.schedules WHERE id > $1 AND seat_count > 0 AND booking_opens_at <= now()"
        " AND booking_closes_at > now() - interval '1 day' ORDER BY id LIMIT $2",
        db::params(after, limit));
    std::vector<std::int64_t> ids;
    ids.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) ids.push_back(r.get<std::int64_t>(row, "id"));
    co_return ids;
}

}  // namespace marquee::catalog
