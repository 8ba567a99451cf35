#include "request_decoders.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include "core/ids.hpp"
#include "core/problem.hpp"
#include "http/idempotency.hpp"
#include "services/auth/credential_rules.hpp"
#include "services/booking/rules.hpp"
#include "services/catalog/paging.hpp"
#include "services/catalog/rules.hpp"
#include "services/payment/rules.hpp"
#include "services/queue/controls_rules.hpp"
#include "services/queue/pow.hpp"
#include "services/wallet/charge_rules.hpp"

namespace marquee::fuzz {
namespace {

// Page sizes of src/services/catalog/routes.cpp.
constexpr int kConcertPageDefault = 20;
constexpr int kConcertPageMax = 100;
constexpr int kSeatPageDefault = 100;
constexpr int kSeatPageMax = 1000;

void nothing(const http::Context&) {}

void signup(const http::Context& ctx) {
    const auto request = auth::signup_request_from(ctx.json_object());
    (void)auth::normalize_email(request.email);
    auth::check_password(request.password);
    (void)auth::normalize_display_name(request.display_name);
}

void login(const http::Context& ctx) {
    const auto request = auth::login_request_from(ctx.json_object());
    try {
        (void)auth::normalize_email(request.email);  // the service falls back to the raw email
    } catch (const core::Problem&) {
    }
}

void refresh_token(const http::Context& ctx) {
    (void)auth::refresh_token_from(ctx.json_object());
}

void hold(const http::Context& ctx) {
    const auto request = booking::hold_request_from(ctx.json_object());
    (void)booking::bigint_array(request.seat_ids);
    for (const auto seat : request.seat_ids) (void)booking::seat_lock_key(request.schedule_id, seat);
    (void)ctx.header("X-Queue-Token");
}

void uuid_param(const http::Context& ctx, std::string_view name) {
    (void)core::normalize_uuid(ctx.param(name));
}

void reservation(const http::Context& ctx) {
    uuid_param(ctx, "reservationId");
}

void payment_id(const http::Context& ctx) {
    uuid_param(ctx, "paymentId");
}

void charge_id(const http::Context& ctx) {
    uuid_param(ctx, "chargeId");
}

void pay(const http::Context& ctx) {
    (void)http::idempotency_key(ctx.header("Idempotency-Key"));
    const auto request = payment::pay_request_from(ctx.json_object());
    (void)payment::pay_request_hash(request);
    (void)payment::method_name(request.method);
}

void charge(const http::Context& ctx) {
    (void)http::idempotency_key(ctx.header("Idempotency-Key"));
    (void)wallet::charge_request_hash(wallet::charge_amount(ctx.json_object()));
}

void list_concerts(const http::Context& ctx) {
    (void)catalog::parse_limit(ctx.query("limit"), kConcertPageDefault, kConcertPageMax);
    if (const auto cursor = ctx.query("cursor")) (void)catalog::decode_cursor(*cursor);
}

void concert_id(const http::Context& ctx) {
    (void)ctx.id_param("id");
}

void list_seats(const http::Context& ctx) {
    (void)ctx.id_param("id");
    (void)catalog::parse_limit(ctx.query("limit"), kSeatPageDefault, kSeatPageMax);
    if (const auto cursor = ctx.query("cursor")) (void)catalog::decode_cursor(*cursor);
    (void)ctx.query("zone");
}

void revalidate(const http::Context& ctx) {
    (void)ctx.id_param("id");
    if (const auto if_none_match = ctx.header("If-None-Match"))
        (void)catalog::etag_matches(*if_none_match, catalog::strong_etag("{}"));
}

void availability_events(const http::Context& ctx) {
    (void)ctx.id_param("id");
    if (const auto last = ctx.header("Last-Event-ID")) {
        try {
            (void)catalog::parse_id(*last, "Last-Event-ID");
        } catch (const core::Problem&) {  // the route starts from the current state
        }
    }
}

void new_concert(const http::Context& ctx) {
    (void)catalog::parse_new_concert(ctx.json_object());
}

void new_schedule(const http::Context& ctx) {
    (void)ctx.id_param("id");
    (void)catalog::parse_new_schedule(ctx.json_object());
}

void new_seat_map(const http::Context& ctx) {
    (void)ctx.id_param("id");
    (void)catalog::parse_layout(ctx.json_object());
}

void join_queue(const http::Context& ctx) {
    const std::int64_t schedule = ctx.id_param("scheduleId");
    if (ctx.body().empty()) return;  // a join without proof of work (difficulty 0)
    const auto answer = queue::pow_answer_from(ctx.json_object());
    if (!answer) return;
    // ADR 0026: verify parses the fan's challenge; one process-wide key, a fixed clock.
    static const queue::ProofOfWork pow("fuzz-secret", 1, std::chrono::seconds(120));
    (void)pow.verify(answer->challenge, answer->nonce, "00000000-0000-0000-0000-000000000001", schedule, 1,
                     1'800'000'000'000);
}

void challenge(const http::Context& ctx) {
    (void)ctx.id_param("scheduleId");
}

void schedule_controls(const http::Context& ctx) {
    (void)ctx.id_param("id");
    const auto patch = queue::parse_controls_patch(ctx.json_object());
    (void)queue::diff_controls(queue::ScheduleControls{}, queue::apply_patch({}, patch));
}

void schedule_id(const http::Context& ctx) {
    (void)ctx.id_param("id");
}

void queue_me(const http::Context& ctx) {
    (void)ctx.query("scheduleId");
}

constexpr DecodedRoute kRoutes[] = {
    // Bodies first: the body harness picks among these by its first byte.
    {"POST", "/api/v1/auth/signup", signup, true},
    {"POST", "/api/v1/auth/login", login, true},
    {"POST", "/api/v1/auth/refresh", refresh_token, true},
    {"POST", "/api/v1/auth/logout", refresh_token, true},
    {"POST", "/api/v1/reservations", hold, true},
    {"POST", "/api/v1/payments", pay, true},
    {"POST", "/api/v1/wallet/charges", charge, true},
    {"POST", "/api/v1/admin/concerts", new_concert, true},
    {"POST", "/api/v1/admin/concerts/{id}/schedules", new_schedule, true},
    {"POST", "/api/v1/admin/schedules/{id}/seat-map", new_seat_map, true},
    {"GET", "/api/v1/auth/me", nothing, false},
    {"GET", "/api/v1/reservations", nothing, false},
    {"GET", "/api/v1/reservations/{reservationId}", reservation, false},
    {"DELETE", "/api/v1/reservations/{reservationId}", reservation, false},
    {"GET", "/api/v1/payments/{paymentId}", payment_id, false},
    {"GET", "/api/v1/wallet", nothing, false},
    {"GET", "/api/v1/wallet/charges/{chargeId}", charge_id, false},
    {"GET", "/api/v1/concerts", list_concerts, false},
    {"GET", "/api/v1/concerts/{id}", concert_id, false},
    {"GET", "/api/v1/concerts/{id}/schedules", concert_id, false},
    {"GET", "/api/v1/schedules/{id}/seats", list_seats, false},
    {"GET", "/api/v1/schedules/{id}/seat-map", revalidate, false},
    {"GET", "/api/v1/schedules/{id}/availability", revalidate, false},
    {"GET", "/api/v1/schedules/{id}/availability/events", availability_events, false},
    {"POST", "/api/v1/schedules/{scheduleId}/queue", join_queue, true},
    {"POST", "/api/v1/schedules/{scheduleId}/queue/challenge", challenge, false},
    {"POST", "/api/v1/reservations/{reservationId}/cancel", reservation, false},
    {"PATCH", "/api/v1/admin/schedules/{id}/controls", schedule_controls, true},
    {"GET", "/api/v1/admin/schedules/{id}/controls", schedule_id, false},
    {"GET", "/api/v1/admin/schedules/{id}/audit", schedule_id, false},
    {"GET", "/api/v1/admin/schedules/{id}/stats", schedule_id, false},
    {"GET", "/api/v1/queue/me", queue_me, false},
    {"GET", "/api/v1/queue/me/events", queue_me, false},
    {"GET", "/healthz", nothing, false},
    {"GET", "/readyz", nothing, false},
    {"GET", "/metrics", nothing, false},
    {"GET", "/openapi.yaml", nothing, false},
};

boost::asio::awaitable<http::Response> never_called(http::Context&) {
    std::abort();  // the harnesses only match routes
}

}  // namespace

std::span<const DecodedRoute> decoded_routes() {
    return kRoutes;
}

http::Router make_router() {
    http::Router router;
    for (const auto& route : kRoutes) router.add(route.method, route.pattern, never_called);
    return router;
}

const DecodedRoute* find_route(std::string_view method, std::string_view pattern) {
    for (const auto& route : kRoutes) {
        if (route.method == method && route.pattern == pattern) return &route;
    }
    return nullptr;
}

void expect_client_error(const std::exception_ptr& e, std::string_view where) {
    try {
        std::rethrow_exception(e);
    } catch (const core::Problem& problem) {
        if (problem.status() >= 400 && problem.status() < 500) return;
        std::fprintf(stderr, "%.*s: a %d problem (%s: %s) where only 4xx is allowed\n",
                     static_cast<int>(where.size()), where.data(), problem.status(), problem.type().c_str(),
                     problem.detail().c_str());
    } catch (const std::exception& other) {
        std::fprintf(stderr, "%.*s: %s escaped instead of a core::Problem\n", static_cast<int>(where.size()),
                     where.data(), other.what());
    } catch (...) {
        std::fprintf(stderr, "%.*s: a non-exception escaped\n", static_cast<int>(where.size()), where.data());
    }
    std::abort();
}

}  // namespace marquee::fuzz
