#include "services/wallet/service.hpp"

#include "core/log.hpp"
#include "core/problem.hpp"
#include "http/idempotency.hpp"
#include "payment_gateway/recovery_loop.hpp"
#include "services/wallet/charge_rules.hpp"

namespace marquee::wallet {

namespace asio = boost::asio;
using payment_gateway::ChargeStatus;

Service::Service(Store& store, payment_gateway::Client& gateway, core::MetricsRegistry& metrics,
                 ServiceOptions options)
    : store_(store),
      gateway_(gateway),
      options_(options),
      outcomes_(metrics.counter("wallet_charges_total", "Wallet top-ups by outcome")) {}

asio::awaitable<ChargeOutcome> Service::charge(std::string user_id, std::string idempotency_key,
                                               std::int64_t amount) {
    const std::string hash = charge_request_hash(amount);
    // Two statements around the gateway call (migrations/wallet/0004, ADR 0013): the charge recorded, then
    // the answer applied with the charge and balance to answer.
    auto begun = co_await store_.begin(user_id, idempotency_key, hash, amount);
    if (begun.created) {
        co_return co_await attempt(std::move(begun.charge));
    }
    if (begun.charge.request_hash != hash) {
        throw core::Problem::unprocessable("idempotency-key-reused",
                                           "this Idempotency-Key was used for a charge of another amount");
    }
    const Charge& existing = begun.charge;
    if (existing.state == "FAILED" && existing.pg_status == "REQUESTED" &&
        existing.failure_code == "PG_UNAVAILABLE") {
        // The gateway took nothing, and the answer was a 503: not a final answer, so the retry tries again
        // (ADR 0040). Of concurrent retries one re-opens it; the others are told it is in flight.
        auto reopened = co_await store_.reopen(existing.id);
        if (!reopened) http::throw_key_in_flight();
        co_return co_await attempt(std::move(*reopened));
    }
    if (existing.state == "PENDING") {
        co_return co_await retry_pending(std::move(begun));
    }
    co_return ChargeOutcome{std::move(begun.charge), begun.balance, true};
}

asio::awaitable<ChargeOutcome> Service::attempt(Charge charge) {
    // No transaction is open here: the gateway call happens between two short ones (ADR 0012).
    std::string order_id = "charge-" + charge.id;
    auto answer = co_await gateway_.approve(charge.id, std::move(order_id), charge.amount);
    auto settled = co_await settle(charge.id, std::move(answer));
    outcomes_.with({{"state", settled.charge.state}}).inc();
    co_return ChargeOutcome{std::move(settled.charge), settled.balance, false};
}

asio::awaitable<ChargeOutcome> Service::retry_pending(Store::Begun begun) {
    // A retry of a PENDING charge (ADR 0040). Once its attempt is `resolve_after` old, the gateway is asked
    // what it holds for the charge's key. A final answer (approved, declined) is applied here, by the same
    // conditional UPDATE every settle goes through: if the first request is still alive and settles too,
    // only one of the two credits (the other reads ALREADY_APPROVED). "Nothing under this key" is final only
    // after the recovery age, as for recovery: before that the first request may still be about to call.
    const auto age = begun.charge.attempt_age;
    if (age >= options_.resolve_after) {
        auto answer = co_await gateway_.find(begun.charge.id);
        if (payment_gateway::final_for_a_retry(answer, age, options_.recovery_age)) {
            auto settled = co_await settle(begun.charge.id, std::move(answer));
            if (settled.outcome == "CREDITED" || settled.outcome == "FAILED") {
                outcomes_.with({{"state", settled.charge.state}}).inc();
            }
            if (settled.charge.state != "PENDING") {
                co_return ChargeOutcome{std::move(settled.charge), settled.balance, true};
            }
        }
    }
    if (http::first_request_may_be_running(begun.charge.state, age, options_.recovery_age)) {
        http::throw_key_in_flight();
    }
    co_return ChargeOutcome{std::move(begun.charge), begun.balance, true};
}

asio::awaitable<Store::Settled> Service::settle(std::string charge_id, payment_gateway::Charge answer) {
    std::string verdict = "UNKNOWN";
    std::optional<std::string> pg_transaction_id;
    std::optional<std::string> decline_code;
    switch (answer.status) {
        case ChargeStatus::Approved:
            verdict = "APPROVED";
            pg_transaction_id = answer.payment_key;
            break;
        case ChargeStatus::Declined:
            verdict = "DECLINED";
            decline_code = answer.decline_code;  // empty: CARD_DECLINED (wallet.settle_charge)
            break;
        case ChargeStatus::NotCharged:
            verdict = "NOT_CHARGED";
            break;
        case ChargeStatus::Unknown:
            core::log_warn("charge outcome unknown; left PENDING for recovery",
                           {{"charge_id", charge_id}, {"detail", answer.detail}});
            break;
    }
    auto settled = co_await store_.settle(charge_id, std::move(verdict), pg_transaction_id, decline_code);
    if (settled.outcome == "WAS_FAILED") {
        // The gateway took the money after we had given up on it: give it back rather than keep it.
        core::log_warn("charge approved after it was failed; refunding",
                       {{"charge_id", charge_id}, {"payment_key", answer.payment_key}});
        co_await gateway_.cancel(answer.payment_key);
        co_await store_.mark_cancelled(charge_id);  // never re-opened: the gateway holds it CANCELLED
    }
    co_return settled;
}

asio::awaitable<WalletView> Service::view(std::string user_id) {
    co_return co_await store_.view(user_id, 20);
}

asio::awaitable<int> Service::recover_pending() {
    int finished = 0;
    std::size_t claimed = 0;
    for (;;) {
        const auto ids = co_await store_.claim_pending(options_.recovery_age, options_.recovery_lease,
                                                       options_.recovery_batch);
        int batch_finished = 0;
        for (const auto& id : ids) {
            if (co_await resolve(id)) ++batch_finished;
        }
        finished += batch_finished;
        claimed += ids.size();
        if (ids.size() < static_cast<std::size_t>(options_.recovery_batch) || batch_finished == 0) break;
    }
    if (finished > 0) core::log_info("wallet recovery", {{"finished", finished}, {"claimed", claimed}});
    co_return finished;
}

asio::awaitable<bool> Service::resolve(std::string charge_id) {
    auto answer = co_await gateway_.find(charge_id);
    if (answer.status == ChargeStatus::Unknown) co_return false;  // the lease lapses; a later pass asks again
    co_await settle(std::move(charge_id), std::move(answer));
    co_return true;
}

asio::awaitable<void> Service::run_recovery() {
    co_await payment_gateway::run_recovery_passes(
        "wallet-recovery", options_.recovery_period, [] { return false; },
        [this]() -> asio::awaitable<void> { co_await recover_pending(); });
}

}  // namespace marquee::wallet
