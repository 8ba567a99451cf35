#include "services/catalog/routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/problem.hpp"
#include "services/catalog/documents.hpp"
#include "services/catalog/paging.hpp"
#include "services/catalog/rules.hpp"
#include "services/catalog/service.hpp"

namespace marquee::catalog {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr int kConcertPageDefault = 20;
constexpr int kConcertPageMax = 100;
constexpr int kSeatPageDefault = 100;
constexpr int kSeatPageMax = 1000;
// The layout never changes once created: a CDN and browsers may keep it for five minutes, and revalidate
// with If-None-Match (304) after that.
constexpr const char* kSeatMapCacheControl = "public, max-age=300";

std::string_view to_string(SeatState state) {
    switch (state) {
        case SeatState::Available:
            return "AVAILABLE";
        case SeatState::Held:
            return "HELD";
        case SeatState::Sold:
            return "SOLD";
    }
    return "AVAILABLE";
}

http::Response not_modified(std::string etag, std::string cache_control) {
    http::Response response;
    response.status = 304;
    response.content_type.clear();
    response.headers.emplace_back("ETag", std::move(etag));
    response.headers.emplace_back("Cache-Control", std::move(cache_control));
    return response;
}

std::optional<std::int32_t> seat_cursor(const http::Context& ctx) {
    const std::optional<std::string> cursor = ctx.query("cursor");
    if (!cursor) return std::nullopt;
    const std::int64_t index = decode_cursor(*cursor);
    if (index > INT32_MAX) throw core::Problem::invalid_field("cursor", "not a cursor this API returned");
    return static_cast<std::int32_t>(index);
}

// The producer of one availability event stream: an `availability` event (id = version) whenever the
// version differs from the last one sent, starting with the current state unless the client's
// Last-Event-ID is already current. Parameters by value: it runs after the handler returned.
asio::awaitable<void> produce_availability(Service* service, std::int64_t schedule_id, std::int64_t last_sent,
                                           http::EventStream& events) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto idle = std::chrono::milliseconds(0);
    const CatalogSettings settings = service->settings();
    while (events.open()) {
        AvailabilityCopy::Snapshot view;
        try {
            view = co_await service->availability_snapshot(schedule_id);
        } catch (const core::Problem&) {
            co_return;  // Redis gone: end the stream; the client reconnects with Last-Event-ID
        }
        if (view->version != last_sent) {
            if (!co_await events.send("availability", view->body, std::to_string(view->version))) co_return;
            last_sent = view->version;
            idle = std::chrono::milliseconds(0);
        } else if ((idle += settings.availability_poll) >= settings.stream_heartbeat) {
            if (!co_await events.heartbeat()) co_return;
            idle = std::chrono::milliseconds(0);
        }
        timer.expires_after(settings.availability_poll);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace

void Routes::add_to(http::Router& router) {
    router.get("/api/v1/concerts", [this](http::Context& ctx) { return list_concerts(ctx); });
    router.get("/api/v1/concerts/{id}", [this](http::Context& ctx) { return get_concert(ctx); });
    router.get("/api/v1/concerts/{id}/schedules", [this](http::Context& ctx) { return list_schedules(ctx); });
    router.get("/api/v1/schedules/{id}/seats", [this](http::Context& ctx) { return list_seats(ctx); });
    router.get("/api/v1/schedules/{id}/seat-map", [this](http::Context& ctx) { return get_seat_map(ctx); });
    router.get("/api/v1/schedules/{id}/availability",
               [this](http::Context& ctx) { return get_availability(ctx); });
    router.get("/api/v1/schedules/{id}/availability/events",
               [this](http::Context& ctx) { return stream_availability(ctx); });
    router.post("/api/v1/admin/concerts", [this](http::Context& ctx) { return create_concert(ctx); });
    router.post("/api/v1/admin/concerts/{id}/schedules",
                [this](http::Context& ctx) { return create_schedule(ctx); });
    router.post("/api/v1/admin/schedules/{id}/seat-map",
                [this](http::Context& ctx) { return create_seat_map(ctx); });
}

// GET /api/v1/concerts?limit=&cursor=: newest first, cursor-paged.
asio::awaitable<http::Response> Routes::list_concerts(http::Context& ctx) {
    const int limit = parse_limit(ctx.query("limit"), kConcertPageDefault, kConcertPageMax);
    std::optional<std::int64_t> after;
    if (const std::optional<std::string> cursor = ctx.query("cursor")) after = decode_cursor(*cursor);
    const ConcertPage page = co_await service_.list_concerts(after, limit);
    json::array items;
    for (const Concert& concert : page.items) items.push_back(to_json(concert));
    json::object body{{"items", std::move(items)}, {"nextCursor", nullptr}};
    if (page.next_after) body["nextCursor"] = encode_cursor(*page.next_after);
    co_return http::json(body);
}

asio::awaitable<http::Response> Routes::get_concert(http::Context& ctx) {
    const std::int64_t id = ctx.id_param("id");
    std::string body = co_await service_.concert(id);
    co_return http::text(std::move(body), "application/json");
}

asio::awaitable<http::Response> Routes::list_schedules(http::Context& ctx) {
    const std::int64_t id = ctx.id_param("id");
    json::array items = co_await service_.schedules(id);
    json::object body{{"items", std::move(items)}};
    co_return http::json(body);
}

// GET /api/v1/schedules/{id}/seats?zone=&limit=&cursor=: seats with zone, price and live status.
asio::awaitable<http::Response> Routes::list_seats(http::Context& ctx) {
    const std::int64_t id = ctx.id_param("id");
    const int limit = parse_limit(ctx.query("limit"), kSeatPageDefault, kSeatPageMax);
    const std::optional<std::int32_t> after = seat_cursor(ctx);
    std::optional<std::string> zone = ctx.query("zone");
    if (zone && zone->empty()) throw core::Problem::invalid_field("zone", "must not be empty");
    const SeatPage page = co_await service_.seats(id, std::move(zone), after, limit);
    json::array items;
    for (const auto& [position, state] : page.items) {
        const Seat& seat = page.map->seats[position];
        const Zone* zone_of = nullptr;
        for (const Zone& z : page.map->zones) {
            if (z.id == seat.zone_id) zone_of = &z;
        }
        items.push_back(json::object{{"id", seat.id},
                                     {"index", seat.index},
                                     {"row", seat.row},
                                     {"number", seat.number},
                                     {"x", seat.x},
                                     {"y", seat.y},
                                     {"zoneId", seat.zone_id},
                                     {"zone", zone_of ? zone_of->name : ""},
                                     {"price", zone_of ? zone_of->price : 0},
                                     {"status", to_string(state)}});
    }
    json::object body{{"items", std::move(items)}, {"nextCursor", nullptr}};
    if (page.next_after) body["nextCursor"] = encode_cursor(*page.next_after);
    co_return http::json(body);
}

// GET /api/v1/schedules/{id}/seat-map: the static layout, strong ETag, 304 on If-None-Match.
asio::awaitable<http::Response> Routes::get_seat_map(http::Context& ctx) {
    const std::int64_t id = ctx.id_param("id");
    const std::optional<std::string_view> if_none_match = ctx.header("If-None-Match");
    // A map this process holds answers a revalidation with no I/O at all.
    std::shared_ptr<const SeatMap> map = service_.seat_map_in_memory(id);
    if (!map) {
        map = co_await service_.seat_map(id);
    }
    if (if_none_match && etag_matches(*if_none_match, map->etag)) {
        co_return not_modified(map->etag, kSeatMapCacheControl);
    }
    co_return http::text(map->body, "application/json")
        .with_header("ETag", map->etag)
        .with_header("Cache-Control", kSeatMapCacheControl);
}

// GET /api/v1/schedules/{id}/availability: {version, seatCount, taken: base64 bitset}; ETag = version.
// Answered from this process's copy (docs/decisions/0014): no I/O while it is younger than max_age.
asio::awaitable<http::Response> Routes::get_availability(http::Context& ctx) {
    const std::int64_t id = ctx.id_param("id");
    AvailabilityCopy::Snapshot view = service_.availability_in_memory(id);
    if (!view) {
        view = co_await service_.availability_snapshot(id);
    }
    // no-cache: anyone may store it but must revalidate every time, so a sold seat is never served from a
    // cache (the staleness bound, docs/decisions/0007 and 0014).
    if (const auto if_none_match = ctx.header("If-None-Match");
        if_none_match && etag_matches(*if_none_match, view->etag)) {
        co_return not_modified(view->etag, "no-cache");
    }
    co_return http::text(view->body, "application/json")
        .with_header("ETag", view->etag)
        .with_header("Cache-Control", "no-cache");
}

// GET /api/v1/schedules/{id}/availability/events: Server-Sent Events, one `availability` event per version.
asio::awaitable<http::Response> Routes::stream_availability(http::Context& ctx) {
    const std::int64_t id = ctx.id_param("id");
    co_await service_.seat_map(id);  // 404 before the stream starts
    std::int64_t last_sent = -1;
    if (const auto last = ctx.header("Last-Event-ID")) {
        try {
            last_sent = parse_id(*last, "Last-Event-ID");
        } catch (const core::Problem&) {
            last_sent = -1;  // a stale or foreign id: start from the current state
        }
    }
    Service* service = &service_;
    http::StreamProducer producer = [service, id, last_sent](http::EventStream& events) {
        return produce_availability(service, id, last_sent, events);
    };
    co_return http::event_stream(std::move(producer));
}

asio::awaitable<http::Response> Routes::create_concert(http::Context& ctx) {
    ctx.require_role("admin");
    NewConcert request = parse_new_concert(ctx.json_object());
    const Concert concert = co_await service_.create_concert(std::move(request));
    co_return http::created(to_json(concert), "/api/v1/concerts/" + std::to_string(concert.id));
}

asio::awaitable<http::Response> Routes::create_schedule(http::Context& ctx) {
    ctx.require_role("admin");
    const std::int64_t concert_id = ctx.id_param("id");
    const NewSchedule request = parse_new_schedule(ctx.json_object());
    const Schedule schedule = co_await service_.create_schedule(concert_id, request);
    co_return http::created(to_json(schedule),
                            "/api/v1/concerts/" + std::to_string(concert_id) + "/schedules");
}

// POST /api/v1/admin/schedules/{id}/seat-map: zones and rows x seats per row, in one transaction.
asio::awaitable<http::Response> Routes::create_seat_map(http::Context& ctx) {
    ctx.require_role("admin");
    const std::int64_t schedule_id = ctx.id_param("id");
    std::vector<ZoneLayout> zones = parse_layout(ctx.json_object());
    const std::shared_ptr<const SeatMap> map = co_await service_.create_layout(schedule_id, std::move(zones));
    json::array zone_docs;
    for (const Zone& zone : map->zones) zone_docs.push_back(to_json(zone));
    const json::object body{
        {"scheduleId", schedule_id}, {"seatCount", map->seats.size()}, {"zones", std::move(zone_docs)}};
    co_return http::created(body, "/api/v1/schedules/" + std::to_string(schedule_id) + "/seat-map")
        .with_header("ETag", map->etag);
}

}  // namespace marquee::catalog
