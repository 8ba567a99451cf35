#include "services/booking/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "http/idempotency.hpp"
#include "http/problem_response.hpp"
#include "services/booking/rules.hpp"

namespace marquee::booking {

namespace asio = boost::asio;
namespace json = boost::json;

json::object to_json(const Reservation& r) {
    json::array seats;
    for (const auto& s : r.seats) {
        seats.push_back(json::object{
            {"seatId", s.seat_id}, {"zoneId", s.zone_id}, {"price", s.price}, {"state", s.state}});
    }
    return json::object{{"id", r.id},
                        {"scheduleId", r.schedule_id},
                        {"state", r.state},
                        {"expiresAt", core::to_rfc3339(r.expires_at)},
                        {"createdAt", core::to_rfc3339(r.created_at)},
                        {"seats", std::move(seats)},
                        {"totalPrice", r.total_price},
                        {"currency", "KRW"}};
}

void Routes::add_to(http::Router& router) {
    router.post("/api/v1/reservations", [this](http::Context& ctx) { return hold(ctx); });
    router.get("/api/v1/reservations", [this](http::Context& ctx) { return list(ctx); });
    router.get("/api/v1/reservations/{reservationId}", [this](http::Context& ctx) { return get(ctx); });
    router.del("/api/v1/reservations/{reservationId}", [this](http::Context& ctx) { return release(ctx); });
}

namespace {

// A response already decided, as the awaitable a handler returns: a frame holding only the response.
asio::awaitable<http::Response> answered(http::Response response) {
    co_return response;
}

}  // namespace

// POST /api/v1/reservations {scheduleId, seatIds} or {scheduleId, zoneId, count} (best available, ADR 0025):
// hold 1..4 seats for the hold TTL.
//
// Not a coroutine itself (ADR 0042): the checks before the service throw as before, and the server's
// dispatch catches them; a request without an Idempotency-Key that the service refuses from memory (hot
// seats, ADR 0038) is answered here with the same 409 problem, returned rather than thrown, and without
// hold()'s coroutines. Everything else goes on to the full path.
asio::awaitable<http::Response> Routes::hold(http::Context& ctx) {
    const std::string& user = ctx.user().user_id;
    auto request = hold_request_from(ctx.json_object());
    const std::string_view token = ctx.header("X-Queue-Token").value_or("");
    // Optional here (ADR 0032); when sent, checked as the money-moving requests check theirs.
    std::optional<std::string> key;
    if (const auto header = ctx.header("Idempotency-Key")) key = http::idempotency_key(header);
    if (!key) {
        if (const auto refusal = service_.refused_from_memory(user, token, request)) {
            return answered(http::problem(*refusal, ctx.path()));
        }
    }
    return hold_through(user, std::string(token), std::move(request), std::move(key));
}

asio::awaitable<http::Response> Routes::hold_through(std::string user, std::string token, HoldRequest request,
                                                     std::optional<std::string> key) {
    const auto reservation =
        co_await service_.hold(std::move(user), std::move(token), std::move(request), std::move(key));
    auto body = to_json(reservation);
    if (reservation.replayed) body["replayed"] = true;
    co_return http::created(std::move(body), "/api/v1/reservations/" + reservation.id);
}

// GET /api/v1/reservations: the caller's reservations, newest first.
asio::awaitable<http::Response> Routes::list(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const auto reservations = co_await service_.mine(user);
    json::array items;
    for (const auto& r : reservations) items.push_back(to_json(r));
    co_return http::json(json::object{{"items", std::move(items)}});
}

asio::awaitable<http::Response> Routes::get(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const std::string id(ctx.param("reservationId"));
    const auto reservation = co_await service_.get(user, id);
    co_return http::json(to_json(reservation));
}

asio::awaitable<http::Response> Routes::release(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const std::string id(ctx.param("reservationId"));
    co_await service_.release(user, id);
    co_return http::no_content();
}

}  // namespace marquee::booking
