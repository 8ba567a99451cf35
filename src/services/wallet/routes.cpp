#include "services/wallet/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/ids.hpp"
#include "core/problem.hpp"
#include "http/idempotency.hpp"
#include "services/wallet/charge_rules.hpp"

namespace marquee::wallet {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::object to_json(const Charge& c) {
    json::object doc{{"id", c.id},
                     {"amount", c.amount},
                     {"currency", "KRW"},
                     {"state", c.state},
                     {"createdAt", core::to_rfc3339(c.created_at)}};
    if (c.failure_code) doc["failureCode"] = *c.failure_code;
    return doc;
}

/// A charge as the route answers it: 201 when credited, 202 while the gateway's answer is being recovered,
/// and a problem for a charge that failed (a failed key stays failed: retry with a new key).
http::Response charge_response(const ChargeOutcome& outcome) {
    const auto& c = outcome.charge;
    if (c.state == "FAILED") {
        if (c.pg_status == "DECLINED") {
            throw core::Problem{402, "card-declined", "Payment required",
                                "the card was declined; nothing was charged"}
                .with("chargeId", json::value(c.id))
                .with("failureCode", json::value(c.failure_code.value_or("CARD_DECLINED")));
        }
        throw core::Problem::unavailable("pg",
                                         "the payment gateway could not take the charge; nothing was charged")
            .with("chargeId", json::value(c.id));
    }
    auto body = to_json(c);
    body["balance"] = outcome.balance;
    body["replayed"] = outcome.replayed;
    if (c.state == "PENDING") return http::json(body, 202);
    return http::created(body, "/api/v1/wallet/charges/" + c.id);
}

}  // namespace

void Routes::add_to(http::Router& router) {
    router.get("/api/v1/wallet", [this](http::Context& ctx) { return wallet(ctx); });
    router.post("/api/v1/wallet/charges", [this](http::Context& ctx) { return charge(ctx); });
    router.get("/api/v1/wallet/charges/{chargeId}", [this](http::Context& ctx) { return get_charge(ctx); });
}

// GET /api/v1/wallet: balance and the 20 most recent ledger entries.
asio::awaitable<http::Response> Routes::wallet(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const auto view = co_await service_.view(user);
    json::array ledger;
    for (const auto& e : view.recent) {
        ledger.push_back(json::object{{"id", e.id},
                                      {"kind", e.kind},
                                      {"amount", e.amount},
                                      {"balanceAfter", e.balance_after},
                                      {"referenceId", e.reference_id},
                                      {"createdAt", core::to_rfc3339(e.created_at)}});
    }
    co_return http::json(
        json::object{{"balance", view.balance}, {"currency", "KRW"}, {"ledger", std::move(ledger)}});
}

// POST /api/v1/wallet/charges {amount} with Idempotency-Key: a card top-up through the payment gateway.
asio::awaitable<http::Response> Routes::charge(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const auto key = http::idempotency_key(ctx.header("Idempotency-Key"));
    const auto amount = charge_amount(ctx.json_object());
    const auto outcome = co_await service_.charge(user, key, amount);
    co_return charge_response(outcome);
}

asio::awaitable<http::Response> Routes::get_charge(http::Context& ctx) {
    const std::string user = ctx.user().user_id;
    const std::string id(ctx.param("chargeId"));
    if (!core::is_uuid(id)) throw core::Problem::not_found("no such charge");
    const auto charge = co_await store_.find_charge(user, id);
    if (!charge) throw core::Problem::not_found("no such charge");
    co_return http::json(to_json(*charge));
}

}  // namespace marquee::wallet
