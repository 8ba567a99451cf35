#include "pg_sim/routes.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/problem.hpp"
#include "http/response.hpp"

namespace marquee::pg_sim {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
    if (duration.count() <= 0) co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

json::object to_json(const Payment& p) {
    json::object doc{{"paymentKey", p.payment_key},   {"idempotencyKey", p.idempotency_key},
                     {"orderId", p.order_id},         {"amount", p.amount},
                     {"status", to_string(p.status)}, {"approvedAt", core::to_rfc3339(p.approved_at)}};
    if (!p.decline_code.empty()) doc["declineCode"] = p.decline_code;
    if (p.cancelled_at) doc["cancelledAt"] = core::to_rfc3339(*p.cancelled_at);
    return doc;
}

json::object to_json(const Refund& r) {
    return {{"refundKey", r.refund_key},   {"idempotencyKey", r.idempotency_key},
            {"paymentKey", r.payment_key}, {"amount", r.amount},
            {"status", "REFUNDED"},        {"refundedAt", core::to_rfc3339(r.refunded_at)}};
}

std::string required_string(const json::object& body, std::string_view field, std::size_t max) {
    const auto* value = body.if_contains(field);
    if (value == nullptr || !value->is_string() || value->as_string().empty() ||
        value->as_string().size() > max) {
        throw core::Problem::invalid_field(std::string(field),
                                           "must be a string of 1.." + std::to_string(max) + " characters");
    }
    return std::string(value->as_string());
}

std::int64_t required_amount(const json::object& body) {
    const auto* value = body.if_contains("amount");
    if (value == nullptr || !value->is_int64() || value->as_int64() <= 0 ||
        value->as_int64() > 1'000'000'000'000) {
        throw core::Problem::invalid_field("amount", "must be an integer number of KRW in 1..10^12");
    }
    return value->as_int64();
}

double rate(const json::object& body, std::string_view field, double current) {
    const auto* value = body.if_contains(field);
    if (value == nullptr) return current;
    if (!value->is_number()) {
        throw core::Problem::invalid_field(std::string(field), "must be a number in [0, 1]");
    }
    const double r = value->to_number<double>();
    if (r < 0 || r > 1) throw core::Problem::invalid_field(std::string(field), "must be a number in [0, 1]");
    return r;
}

std::chrono::milliseconds millis(const json::object& body, std::string_view field,
                                 std::chrono::milliseconds current) {
    const auto* value = body.if_contains(field);
    if (value == nullptr) return current;
    if (!value->is_int64() || value->as_int64() < 0 || value->as_int64() > 600'000) {
        throw core::Problem::invalid_field(std::string(field),
                                           "must be an integer number of ms in 0..600000");
    }
    return std::chrono::milliseconds(value->as_int64());
}

json::object to_json(const Faults& f) {
    return {{"latencyMs", f.latency.count()}, {"jitterMs", f.jitter.count()},
            {"declineRate", f.decline_rate},  {"errorRate", f.error_rate},
            {"timeoutRate", f.timeout_rate},  {"lostRate", f.lost_rate},
            {"hangMs", f.hang.count()},       {"down", f.down}};
}

}  // namespace

void Routes::add_to(http::Router& router) {
    router.post("/v1/payments", [this](http::Context& ctx) { return approve(ctx); });
    router.get("/v1/payments", [this](http::Context& ctx) { return find(ctx); });
    router.post("/v1/payments/{paymentKey}/cancel", [this](http::Context& ctx) { return cancel(ctx); });
    router.post("/v1/payments/{paymentKey}/refunds", [this](http::Context& ctx) { return refund(ctx); });
    router.get("/v1/refunds", [this](http::Context& ctx) { return find_refund(ctx); });
    router.get("/v1/admin/faults", [this](http::Context& ctx) { return get_faults(ctx); });
    router.put("/v1/admin/faults", [this](http::Context& ctx) { return put_faults(ctx); });
    router.get("/v1/admin/stats", [this](http::Context& ctx) { return stats(ctx); });
    router.get("/healthz", [](http::Context&) -> asio::awaitable<http::Response> {
        co_return http::json(json::object{{"status", "ok"}});
    });
}

// POST /v1/payments: approve. The same Idempotency-Key with the same request returns the first result,
// whatever faults are set now; with another request it is a 409.
asio::awaitable<http::Response> Routes::approve(http::Context& ctx) {
    const auto key = ctx.header("Idempotency-Key");
    if (!key || key->empty() || key->size() > 128) {
        throw core::Problem::invalid_field("Idempotency-Key",
                                           "the Idempotency-Key header (1..128 chars) is required");
    }
    const auto body = ctx.json_object();
    const auto order_id = required_string(body, "orderId", 128);
    const auto amount = required_amount(body);
    co_await sleep_for(gateway_.delay());
    const auto result = gateway_.approve(std::string(*key), order_id, amount);
    switch (result.outcome) {
        case Outcome::KeyReused:
            throw core::Problem::conflict("idempotency-key-reused",
                                          "this Idempotency-Key was used with a different request");
        case Outcome::Error:
            throw core::Problem::unavailable("pg", "the payment gateway failed; nothing was charged");
        case Outcome::Hang:
            co_await sleep_for(gateway_.faults().hang);
            throw core::Problem{504, "gateway-timeout", "Gateway timeout", "no answer; nothing was charged"};
        case Outcome::LostAfterSave:
            // The charge is recorded; the caller has long given up and must ask by key.
            co_await sleep_for(gateway_.faults().hang);
            break;
        case Outcome::Answer:
            break;
    }
    co_return http::json(to_json(*result.payment));
}

asio::awaitable<http::Response> Routes::find(http::Context& ctx) {
    const auto key = ctx.query("idempotencyKey");
    if (!key || key->empty()) {
        throw core::Problem::invalid_field("idempotencyKey", "the query parameter is required");
    }
    co_await sleep_for(gateway_.delay());
    if (gateway_.faults().down) throw core::Problem::unavailable("pg", "the payment gateway is down");
    const auto payment = gateway_.find_by_key(*key);
    if (!payment) throw core::Problem::not_found("no payment with this idempotency key");
    co_return http::json(to_json(*payment));
}

asio::awaitable<http::Response> Routes::cancel(http::Context& ctx) {
    const std::string payment_key(ctx.param("paymentKey"));
    co_await sleep_for(gateway_.delay());
    if (gateway_.faults().down) throw core::Problem::unavailable("pg", "the payment gateway is down");
    const auto payment = gateway_.cancel(payment_key);
    if (!payment) throw core::Problem::not_found("no payment with this payment key");
    if (payment->status == PaymentStatus::Declined) {
        throw core::Problem::conflict("not-cancellable", "a declined payment cannot be cancelled");
    }
    co_return http::json(to_json(*payment));
}

// POST /v1/payments/{paymentKey}/refunds {amount}: a partial or whole refund, with approve's Idempotency-Key
// contract and faults (503 error, timeout, lost answer, down); 404 unknown payment, 409 when the payment is
// not approved or the amount exceeds what is left.
asio::awaitable<http::Response> Routes::refund(http::Context& ctx) {
    const auto key = ctx.header("Idempotency-Key");
    if (!key || key->empty() || key->size() > 128) {
        throw core::Problem::invalid_field("Idempotency-Key",
                                           "the Idempotency-Key header (1..128 chars) is required");
    }
    const std::string payment_key(ctx.param("paymentKey"));
    const auto amount = required_amount(ctx.json_object());
    co_await sleep_for(gateway_.delay());
    const auto result = gateway_.refund(std::string(*key), payment_key, amount);
    switch (result.outcome) {
        case RefundOutcome::KeyReused:
            throw core::Problem::conflict("idempotency-key-reused",
                                          "this Idempotency-Key was used with a different request");
        case RefundOutcome::NotFound:
            throw core::Problem::not_found("no payment with this payment key");
        case RefundOutcome::NotRefundable:
            throw core::Problem::conflict("not-refundable",
                                          "the payment is not approved, or the amount exceeds what is left");
        case RefundOutcome::Error:
            throw core::Problem::unavailable("pg", "the payment gateway failed; nothing was refunded");
        case RefundOutcome::Hang:
            co_await sleep_for(gateway_.faults().hang);
            throw core::Problem{504, "gateway-timeout", "Gateway timeout", "no answer; nothing was refunded"};
        case RefundOutcome::LostAfterSave:
            co_await sleep_for(gateway_.faults().hang);
            break;
        case RefundOutcome::Answer:
            break;
    }
    co_return http::json(to_json(*result.refund));
}

asio::awaitable<http::Response> Routes::find_refund(http::Context& ctx) {
    const auto key = ctx.query("idempotencyKey");
    if (!key || key->empty()) {
        throw core::Problem::invalid_field("idempotencyKey", "the query parameter is required");
    }
    co_await sleep_for(gateway_.delay());
    if (gateway_.faults().down) throw core::Problem::unavailable("pg", "the payment gateway is down");
    const auto refund = gateway_.find_refund(std::string(*key));
    if (!refund) throw core::Problem::not_found("no refund with this idempotency key");
    co_return http::json(to_json(*refund));
}

asio::awaitable<http::Response> Routes::get_faults(http::Context&) {
    co_return http::json(to_json(gateway_.faults()));
}

// PUT /v1/admin/faults: any subset of the fields; the others keep their values.
asio::awaitable<http::Response> Routes::put_faults(http::Context& ctx) {
    const auto body = ctx.json_object();
    auto f = gateway_.faults();
    f.latency = millis(body, "latencyMs", f.latency);
    f.jitter = millis(body, "jitterMs", f.jitter);
    f.hang = millis(body, "hangMs", f.hang);
    f.decline_rate = rate(body, "declineRate", f.decline_rate);
    f.error_rate = rate(body, "errorRate", f.error_rate);
    f.timeout_rate = rate(body, "timeoutRate", f.timeout_rate);
    f.lost_rate = rate(body, "lostRate", f.lost_rate);
    if (const auto* down = body.if_contains("down")) {
        if (!down->is_bool()) throw core::Problem::invalid_field("down", "must be true or false");
        f.down = down->as_bool();
    }
    gateway_.set_faults(f);
    co_return http::json(to_json(f));
}

asio::awaitable<http::Response> Routes::stats(http::Context&) {
    const auto s = gateway_.stats();
    co_return http::json(json::object{{"approved", s.approved},
                                      {"declined", s.declined},
                                      {"cancelled", s.cancelled},
                                      {"errors", s.errors},
                                      {"hangs", s.hangs},
                                      {"lost", s.lost},
                                      {"replays", s.replays},
                                      {"approvedAmount", s.approved_amount},
                                      {"cancelledAmount", s.cancelled_amount},
                                      {"refunded", s.refunded},
                                      {"refundedAmount", s.refunded_amount}});
}

}  // namespace marquee::pg_sim
