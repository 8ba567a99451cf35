#include "services/wallet/service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
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
    auto [charge, created] = co_await store_.begin_charge(user_id, idempotency_key, hash, amount);
    if (!created) {
        if (charge.request_hash != hash) {
            throw core::Problem::conflict("idempotency-key-reused",
                                          "this Idempotency-Key was used for a charge of another amount");
        }
        const auto balance = co_await store_.balance(user_id);
        co_return ChargeOutcome{std::move(charge), balance, true};
    }
    // No transaction is open here: the gateway call happens between two short ones (ADR 0012).
    std::string order_id = "charge-" + charge.id;
    auto answer = co_await gateway_.approve(charge.id, std::move(order_id), amount);
    co_await settle(charge.id, std::move(answer));
    auto settled = co_await store_.get_charge(charge.id);
    const auto balance = co_await store_.balance(user_id);
    outcomes_.with({{"state", settled.state}}).inc();
    co_return ChargeOutcome{std::move(settled), balance, false};
}

asio::awaitable<void> Service::settle(std::string charge_id, payment_gateway::Charge answer) {
    switch (answer.status) {
        case ChargeStatus::Approved: {
            const auto applied = co_await store_.approve_charge(charge_id, answer.payment_key);
            if (applied == Store::Applied::WasFailed) {
                // The gateway took the money after we had given up on it: give it back rather than keep it.
                core::log_warn("charge approved after it was failed; refunding",
                               {{"charge_id", charge_id}, {"payment_key", answer.payment_key}});
                co_await gateway_.cancel(answer.payment_key);
            }
            break;
        }
        case ChargeStatus::Declined: {
            // A named local, not a conditional inside the co_await: GCC 12 mishandles such temporaries (ADR
            // 0008).
            std::string code =
                answer.decline_code.empty() ? std::string("CARD_DECLINED") : answer.decline_code;
            co_await store_.fail_charge(charge_id, "DECLINED", std::move(code));
            break;
        }
        case ChargeStatus::NotCharged:
            co_await store_.fail_charge(charge_id, "REQUESTED", "PG_UNAVAILABLE");
            break;
        case ChargeStatus::Unknown:
            core::log_warn("charge outcome unknown; left PENDING for recovery",
                           {{"charge_id", charge_id}, {"detail", answer.detail}});
            break;
    }
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
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_after(options_.recovery_period);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        // Each pass has a trace of its own: its log lines and gateway calls share it.
        const auto context =
            core::make_log_context(core::TraceContext::start(), {{"job", "wallet-recovery"}});
        const auto traced = core::with_log_context(timer.get_executor(), context);
        try {
            auto pass = recover_pending();
            co_await asio::co_spawn(traced, std::move(pass), asio::use_awaitable);
        } catch (const std::exception& e) {
            const core::LogContextScope scope(context);
            core::log_warn("wallet recovery pass failed", {{"error", e.what()}});
        }
    }
}

}  // namespace marquee::wallet
