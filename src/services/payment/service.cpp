#include "services/payment/service.hpp"

#include <exception>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/problem.hpp"
#include "http/idempotency.hpp"
#include "payment_gateway/recovery_loop.hpp"
#include "services/payment/rules.hpp"

namespace marquee::payment {

namespace asio = boost::asio;
using payment_gateway::ChargeStatus;

Service::Service(Store& store, payment_gateway::Client& gateway, QueueCheck queue_check,
                 QueueRelease queue_release, core::MetricsRegistry& metrics, ServiceOptions options,
                 ScheduleHint schedule_hint)
    : store_(store),
      gateway_(gateway),
      queue_check_(std::move(queue_check)),
      queue_release_(std::move(queue_release)),
      schedule_hint_(std::move(schedule_hint)),
      options_(options),
      outcomes_(metrics.counter("payments_total",
                                "Payment requests by outcome (APPROVED, PENDING or a "
                                "failure code)")),
      recovered_(metrics.counter("payment_recoveries_total",
                                 "Payments the recovery job finished, by what it did")) {}

asio::awaitable<PayOutcome> Service::pay(std::string user_id, std::string queue_token,
                                         std::string idempotency_key, PayRequest request) {
    const std::string hash = pay_request_hash(request);
    // The queue token is checked against the reservation's schedule before the payment's one statement. A
    // token's schedule never changes, so the schedule a check in this process found for it saves the read;
    // payment.pay refuses (WRONG_SCHEDULE) if the reservation is in another one.
    std::optional<std::int64_t> schedule;
    if (schedule_hint_) schedule = schedule_hint_(user_id, queue_token);
    const bool hinted = schedule.has_value();
    if (!hinted) {
        auto looked = co_await store_.lookup(user_id, idempotency_key, request.reservation_id);
        if (looked.existing) {
            co_return co_await replay_or_finish(std::move(*looked.existing), hash, looked.balance);
        }
        if (!looked.schedule_id) throw core::Problem::not_found("no such reservation");
        schedule = looked.schedule_id;
    }

    // Only an ACTIVE QueueToken of the reservation's schedule may pay (403/410 otherwise).
    std::string token_id;
    std::exception_ptr refused;
    try {
        token_id = co_await queue_check_(user_id, *schedule, queue_token);
    } catch (const core::Problem&) {
        if (!hinted) throw;
        refused = std::current_exception();
    }
    if (refused) {
        // Without the hint a replay or an unknown reservation answers first, and the token is checked against
        // the reservation's schedule: the same answers here.
        auto looked = co_await store_.lookup(user_id, idempotency_key, request.reservation_id);
        if (looked.existing) {
            co_return co_await replay_or_finish(std::move(*looked.existing), hash, looked.balance);
        }
        if (!looked.schedule_id) throw core::Problem::not_found("no such reservation");
        if (*looked.schedule_id == *schedule) std::rethrow_exception(refused);
        schedule = looked.schedule_id;
        token_id = co_await queue_check_(user_id, *schedule, queue_token);
    }

    NewPayment fresh{user_id,  request.reservation_id,
                     token_id, idempotency_key,
                     hash,     method_name(request.method),
                     0,        0,
                     0,        std::nullopt};
    auto paid = co_await store_.pay(fresh, *schedule, request.points_amount);
    if (paid.outcome == "WRONG_SCHEDULE") {
        // The hint named another schedule than the reservation's: check the token there, as without it.
        const std::int64_t reservation_schedule = paid.schedule_id;
        fresh.queue_token_id = co_await queue_check_(user_id, reservation_schedule, queue_token);
        paid = co_await store_.pay(fresh, reservation_schedule, request.points_amount);
    }

    if (paid.outcome == "REPLAY") {
        co_return co_await replay_or_finish(std::move(paid.payment.value()), hash, paid.balance);
    }
    if (paid.outcome == "NOT_FOUND") throw core::Problem::not_found("no such reservation");
    if (paid.outcome == "WRONG_SCHEDULE") {
        throw core::Problem::forbidden("queue-token-invalid",
                                       "The queue token is not valid for this schedule.");
    }
    if (paid.outcome == "BAD_SPLIT") {
        (void)split(request, paid.total);  // throws the 400 naming pointsAmount
        throw core::Problem::invalid_field("pointsAmount",
                                           "the points part does not fit the reservation's price");
    }
    if (paid.outcome == "IN_PROGRESS") {
        throw core::Problem::conflict("payment-in-progress",
                                      "another payment for this reservation is under way");
    }
    if (paid.outcome == "ALREADY_CONFIRMED") {
        throw core::Problem::conflict("already-confirmed", "this reservation is already paid");
    }
    Payment payment = std::move(paid.payment.value());
    if (paid.outcome == "FAILED") {
        outcomes_.with({{"outcome", payment.failure_code.value_or("FAILED")}}).inc();
        throw failure_problem(payment);
    }
    if (paid.outcome == "APPROVED") {
        co_await release_token(paid.schedule_id, payment);
        outcomes_.with({{"outcome", "APPROVED"}}).inc();
        co_return PayOutcome{std::move(payment), paid.balance, false};
    }

    // BEGUN: a card part. No transaction is open here: the gateway call happens between two statements.
    std::string order_id = "payment-" + payment.id;
    auto answer = co_await gateway_.approve(payment.id, std::move(order_id), payment.card_amount);
    auto settled = co_await settle(std::move(payment), std::move(answer), paid.schedule_id);
    const std::string outcome = settled.payment.state == "FAILED"
                                    ? settled.payment.failure_code.value_or("FAILED")
                                    : settled.payment.state;
    outcomes_.with({{"outcome", outcome}}).inc();
    if (settled.payment.state == "FAILED") throw failure_problem(settled.payment);
    co_return PayOutcome{std::move(settled.payment), settled.balance, false};
}

PayOutcome Service::replay(Payment existing, const std::string& request_hash, std::int64_t balance) const {
    if (existing.request_hash != request_hash) {
        throw core::Problem::unprocessable("idempotency-key-reused",
                                           "this Idempotency-Key was used for another payment request");
    }
    if (existing.state == "FAILED") throw failure_problem(existing);
    if (http::first_request_may_be_running(existing.state, existing.age, options_.recovery_age)) {
        http::throw_key_in_flight();
    }
    return PayOutcome{std::move(existing), balance, true};
}

asio::awaitable<PayOutcome> Service::replay_or_finish(Payment existing, const std::string& request_hash,
                                                      std::int64_t balance) {
    // A retry of a PENDING card payment (ADR 0040, as for top-ups): once its attempt is resolve_after old,
    // the gateway is asked what it holds under the payment's key. A final answer (approved, declined) is
    // applied by payment.settle, whose UPDATEs are conditional on PENDING: if the first request is still
    // alive and settles too, only one of the two finishes it and the other reads the state it left. "Nothing
    // under this key" is final only after the recovery age: before that the first request may still be about
    // to call.
    if (existing.request_hash == request_hash && existing.state == "PENDING" && existing.card_amount > 0 &&
        existing.age >= options_.resolve_after) {
        const auto age = existing.age;
        auto answer = co_await gateway_.find(existing.id);
        if (payment_gateway::final_for_a_retry(answer, age, options_.recovery_age)) {
            const std::int64_t schedule_id = co_await schedule_of(existing);
            auto settled = co_await settle(existing, std::move(answer), schedule_id);
            if (settled.payment.state != "PENDING") recovered_.with({{"action", "resolved-on-retry"}}).inc();
            existing = std::move(settled.payment);
            existing.age = age;
            balance = settled.balance;
        }
    }
    PayOutcome outcome = replay(std::move(existing), request_hash, balance);
    co_return outcome;
}

asio::awaitable<Store::Settled> Service::settle(Payment payment, payment_gateway::Charge answer,
                                                std::int64_t schedule_id) {
    std::string verdict = "UNKNOWN";
    std::optional<std::string> pg_transaction_id;
    switch (answer.status) {
        case ChargeStatus::Approved:
            verdict = "APPROVED";
            pg_transaction_id = answer.payment_key;
            break;
        case ChargeStatus::Declined:
            verdict = "DECLINED";
            break;
        case ChargeStatus::NotCharged:
            verdict = "NOT_CHARGED";
            break;
        case ChargeStatus::Unknown:
            core::log_warn("payment outcome unknown; left PENDING for recovery",
                           {{"payment_id", payment.id}, {"detail", answer.detail}});
            break;
    }
    co_return co_await apply(std::move(payment), std::move(verdict), std::move(pg_transaction_id),
                             schedule_id);
}

asio::awaitable<Store::Settled> Service::apply(Payment payment, std::string verdict,
                                               std::optional<std::string> pg_transaction_id,
                                               std::int64_t schedule_id) {
    auto settled = co_await store_.settle(payment.id, std::move(verdict), pg_transaction_id);
    if (settled.outcome == "APPROVED") {
        co_await release_token(schedule_id, settled.payment);
        co_return settled;
    }
    if (pg_transaction_id &&
        (settled.outcome == "hold-expired" || settled.outcome == "insufficient-points")) {
        // The card part the gateway approved goes back (left to recovery if the gateway cannot be reached).
        Payment charged = settled.payment;
        charged.pg_transaction_id = pg_transaction_id;
        if (co_await refund_card(std::move(charged))) settled.payment.pg_status = "CANCELLED";
    }
    co_return settled;
}

asio::awaitable<void> Service::release_token(std::int64_t schedule_id, const Payment& payment) {
    // The purchase is done: end the QueueToken so the next fan in line is admitted. Best effort: a token left
    // ACTIVE still expires on its own idle timeout.
    std::string token = payment.queue_token_id;
    try {
        co_await queue_release_(schedule_id, std::move(token));
    } catch (const std::exception& e) {
        core::log_warn("queue token not released after payment",
                       {{"payment_id", payment.id}, {"error", e.what()}});
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
        std::string verdict = "APPROVED";  // nothing to wait for: payment.finish
        co_await apply(std::move(payment), std::move(verdict), std::move(no_card), schedule_id);
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
    co_await payment_gateway::run_recovery_passes(
        "payment-recovery", options_.recovery_period, [this] { return stopped_.load(); },
        [this]() -> asio::awaitable<void> { co_await recover(); });
}

}  // namespace marquee::payment
