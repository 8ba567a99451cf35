#include "services/payment/routes.hpp"

#include "core/clock.hpp"
#include "http/idempotency.hpp"
#include "services/payment/rules.hpp"

namespace marquee::payment {

namespace asio = boost::asio;
namespace json = boost::json;

json::object to_json(const Payment& p) {
    json::object doc{{"id", p.id},
                     {"reservationId", p.reservation_id},
                     {"state", p.state},
                     {"method", p.method},
                     {"amount", p.amount},
                     {"pointsAmount", p.points_amount},
                     {"cardAmount", p.card_amount},
                     {"currency", "KRW"},
                     {"createdAt", core::to_rfc3339(p.created_at)}};
    if (p.decided_at) doc["decidedAt"] = core::to_rfc3339(*p.decided_at);
    if (p.failure_code) doc["failureCode"] = *p.failure_code;
    return doc;
}

void Routes::add_to(http::Router& router) {
    router.post("/api/v1/payments", [this](http::Context& ctx) { return pay(ctx); });
    router.get("/api/v1/payments/{paymentId}", [this](http::Context& ctx) { return get(ctx); });
}

// POST /api/v1/payments {reservationId, method, pointsAmount?} with Idempotency-Key and X-Queue-Token:
// 201 APPROVED (the reservation CONFIRMED), 202 PENDING while the gateway's answer is being recovered.
asio::awaitable<http::Response> Routes::pay(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    std::string key = http::idempotency_key(ctx.header("Idempotency-Key"));
    auto request = pay_request_from(ctx.json_object());
    std::string token(ctx.header("X-Queue-Token").value_or(""));
    const auto outcome = co_await service_.pay(user, std::move(token), std::move(key), std::move(request));
    auto body = to_json(outcome.payment);
    body["balance"] = outcome.balance;
    body["replayed"] = outcome.replayed;
    if (outcome.payment.state == "PENDING") co_return http::json(body, 202);
    co_return http::created(body, "/api/v1/payments/" + outcome.payment.id);
}

asio::awaitable<http::Response> Routes::get(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const std::string id(ctx.param("paymentId"));
    const auto payment = co_await service_.get(user, id);
    co_return http::json(to_json(payment));
}

}  // namespace marquee::payment
