#include "services/payment/service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "services/payment/rules.hpp"

namespace marquee::payment {

namespace asio = boost::asio;
using payment_gateway::ChargeStatus;

Service::Service(Store& store, payment_gateway::Client& gateway, QueueCheck queue_check,
                 QueueRelease queue_release, core::MetricsRegistry& metrics, ServiceOptions options)
    : store_(store),
      gateway_(gateway),
      queue_check_(std::move(queue_check)),
      queue_release_(std::move(queue_release)),
      options_(options),
      outcomes_(metrics.counter("payments_total",
                                "Payment requests by outcome (APPROVED, PENDING or a "
                                "failure code)")),
      recovered_(metrics.counter("payment_recoveries_total",
                                 "Payments the recovery job finished, by what it did")) {}

asio::awaitable<PayOutcome> Service::pay(std::string user_id, std::string queue_token,
                                         std::string idempotency_key, PayRequest request) {
    const std::string hash = pay_request_hash(request);
    if (auto existing = co_await store_.find_by_key(user_id, idempotency_key)) {
        co_return co_await replay(std::move(*existing), hash);
    }
    const auto payable = co_await store_.payable(request.reservation_id, user_id);
    if (!payable) throw core::Problem::not_found("no such reservation");
    // Only an ACTIVE QueueToken of the reservation's schedule may pay (403/410 otherwise).
    std::string token_id = co_await queue_check_(user_id, payable->schedule_id, queue_token);
    const std::pair<std::int64_t, std::int64_t> parts = split(request, payable->total_price);
    const std::int64_t points = parts.first;
    const std::int64_t card = parts.second;

    // Refusals are recorded FAILED too, so a retry with this key gets the same answer.
    std::optional<std::string> failure;
    if (payable->state == "CONFIRMED") {
        failure = "already-confirmed";
    } else if (payable->state != "HELD") {
        failure = "hold-expired";
    } else if (points > 0) {
        // The early check spares a card charge that would be refunded; wallet.debit still decides.
        const std::int64_t balance = co_await store_.balance(user_id);
        if (balance < points) failure = "insufficient-points";
    }
    NewPayment fresh{user_id,
                     request.reservation_id,
                     std::move(token_id),
                     idempotency_key,
                     hash,
                     method_name(request.method),
                     payable->total_price,
                     points,
                     card,
                     failure};
    auto begun = co_await store_.begin(std::move(fresh));
    if (const auto* refused = std::get_if<Store::Refused>(&begun)) {
        switch (*refused) {
            case Store::Refused::SameKey: {
                auto existing = co_await store_.find_by_key(user_id, idempotency_key);
                co_return co_await replay(std::move(existing.value()), hash);
            }
            case Store::Refused::PaymentInProgress:
                throw core::Problem::conflict("payment-in-progress",
                                              "another payment for this reservation is under way");
            case Store::Refused::AlreadyConfirmed:
                throw core::Problem::conflict("already-confirmed", "this reservation is already paid");
        }
    }
    Payment payment = std::get<Payment>(std::move(begun));
    if (payment.state == "FAILED") {
        outcomes_.with({{"outcome", payment.failure_code.value_or("FAILED")}}).inc();
        throw failure_problem(payment);
    }

    co_await proceed(payment, payable->schedule_id);
    auto settled = co_await store_.get(payment.id);
    const std::string outcome =
        settled.state == "FAILED" ? settled.failure_code.value_or("FAILED") : settled.state;
    outcomes_.with({{"outcome", outcome}}).inc();
    if (settled.state == "FAILED") throw failure_problem(settled);
    const std::int64_t balance = co_await store_.balance(user_id);
    co_return PayOutcome{std::move(settled), balance, false};
}

asio::awaitable<PayOutcome> Service::replay(Payment existing, std::string request_hash) {
    if (existing.request_hash != request_hash) {
        throw core::Problem::conflict("idempotency-key-reused",
                                      "this Idempotency-Key was used for another payment request");
    }
    if (existing.state == "FAILED") throw failure_problem(existing);
    const std::int64_t balance = co_await store_.balance(existing.user_id);
    co_return PayOutcome{std::move(existing), balance, true};
}

asio::awaitable<void> Service::proceed(Payment payment, std::int64_t schedule_id) {
    if (payment.card_amount == 0) {
        std::optional<std::string> no_card;
        co_await finish(std::move(payment), std::move(no_card), schedule_id);
        co_return;
    }
    // No transaction is open here: the gateway call happens between two short ones (ADR 0012).
    std::string order_id = "payment-" + payment.id;
    auto answer = co_await gateway_.approve(payment.id, std::move(order_id), payment.card_amount);
    co_await settle(std::move(payment), std::move(answer), schedule_id);
}

asio::awaitable<void> Service::settle(Payment payment, payment_gateway::Charge answer,
                                      std::int64_t schedule_id) {
    switch (answer.status) {
        case ChargeStatus::Approved:
            co_await finish(std::move(payment), std::move(answer.payment_key), schedule_id);
            break;
        case ChargeStatus::Declined:
            co_await store_.fail(payment.id, "DECLINED", "card-declined");
            break;
        case ChargeStatus::NotCharged:
            co_await store_.fail(payment.id, "DECLINED", "pg-unavailable");
            break;
        case ChargeStatus::Unknown:
            core::log_warn("payment outcome unknown; left PENDING for recovery",
                           {{"payment_id", payment.id}, {"detail", answer.detail}});
            break;
    }
}

asio::awaitable<void> Service::finish(Payment payment, std::optional<std::string> pg_transaction_id,
                                      std::int64_t schedule_id) {
    payment.pg_transaction_id = pg_transaction_id;
    const std::string outcome = co_await store_.finish(payment.id, std::move(pg_transaction_id));
    if (outcome == "APPROVED") {
        // The purchase is done: end the QueueToken so the next fan in line is admitted. Best effort: a token
        // left ACTIVE still expires on its own idle timeout.
        try {
            co_await queue_release_(schedule_id, payment.queue_token_id);
        } catch (const std::exception& e) {
            core::log_warn("queue token not released after payment",
                           {{"payment_id", payment.id}, {"error", e.what()}});
        }
        co_return;
    }
    if (payment.pg_transaction_id && (outcome == "hold-expired" || outcome == "insufficient-points")) {
        co_await refund_card(std::move(payment));
    }
}

asio::awaitable<bool> Service::refund_card(Payment payment) {
    // Refunds the card part of a payment that failed after the gateway approved it. If the gateway cannot be
    // reached, the row (FAILED, pg_status APPROVED) stays on the recovery job's cancel list.
    try {
        co_await gateway_.cancel(payment.pg_transaction_id.value());
    } catch (const std::exception& e) {
        core::log_warn("card part not cancelled yet; left for recovery",
                       {{"payment_id", payment.id}, {"error", e.what()}});
        co_return false;
    }
    co_await store_.mark_card_cancelled(payment.id);
    co_return true;
}

asio::awaitable<Payment> Service::get(std::string user_id, std::string payment_id) {
    auto id = core::normalize_uuid(payment_id);
    if (!id) throw core::Problem::not_found("no such payment");
    auto payment = co_await store_.find(user_id, std::move(*id));
    if (!payment) throw core::Problem::not_found("no such payment");
    co_return std::move(*payment);
}

asio::awaitable<std::int64_t> Service::schedule_of(const Payment& payment) {
    const auto payable = co_await store_.payable(payment.reservation_id, payment.user_id);
    co_return payable ? payable->schedule_id : 0;
}

asio::awaitable<bool> Service::resolve(Payment payment) {
    const std::int64_t schedule_id = co_await schedule_of(payment);
    if (payment.card_amount == 0) {
        std::optional<std::string> no_card;
        co_await finish(std::move(payment), std::move(no_card), schedule_id);
        co_return true;
    }
    auto answer = co_await gateway_.find(payment.id);
    if (answer.status == ChargeStatus::Unknown) co_return false;  // the lease lapses; a later pass asks again
    co_await settle(std::move(payment), std::move(answer), schedule_id);
    co_return true;
}

asio::awaitable<int> Service::recover() {
    int finished = 0;
    std::size_t pending_claimed = 0;
    std::size_t cancel_claimed = 0;
    const auto batch = static_cast<std::size_t>(options_.recovery_batch);
    // Batch after batch until the backlog is drained (a batch comes back short) or a batch finishes nothing
    // (the gateway cannot answer now: the next pass asks again).
    for (;;) {
        const auto pending = co_await store_.claim_pending(options_.recovery_age, options_.recovery_lease,
                                                           options_.recovery_batch);
        int batch_finished = 0;
        for (const auto& payment : pending) {
            if (!(co_await resolve(payment))) continue;
            recovered_.with({{"action", "resolved"}}).inc();
            ++batch_finished;
        }
        const auto to_cancel = co_await store_.claim_to_cancel(options_.recovery_age, options_.recovery_lease,
                                                               options_.recovery_batch);
        for (const auto& payment : to_cancel) {
            if (!(co_await refund_card(payment))) continue;
            recovered_.with({{"action", "cancelled"}}).inc();
            ++batch_finished;
        }
        finished += batch_finished;
        pending_claimed += pending.size();
        cancel_claimed += to_cancel.size();
        if ((pending.size() < batch && to_cancel.size() < batch) || batch_finished == 0) break;
    }
    if (finished > 0) {
        core::log_info("payment recovery",
                       {{"finished", finished}, {"pending", pending_claimed}, {"to_cancel", cancel_claimed}});
    }
    co_return finished;
}

asio::awaitable<void> Service::run_recovery() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopped_) {
        timer.expires_after(options_.recovery_period);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || stopped_) co_return;
        // Each pass has a trace of its own: its log lines, gateway calls and outbox rows share it.
        const auto context =
            core::make_log_context(core::TraceContext::start(), {{"job", "payment-recovery"}});
        const auto traced = core::with_log_context(timer.get_executor(), context);
        try {
            auto pass = recover();
            co_await asio::co_spawn(traced, std::move(pass), asio::use_awaitable);
        } catch (const std::exception& e) {
            const core::LogContextScope scope(context);
            core::log_warn("payment recovery pass failed", {{"error", e.what()}});
        }
    }
}

}  // namespace marquee::payment
