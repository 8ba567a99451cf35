#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/metrics.hpp"
#include "payment_gateway/client.hpp"
#include "services/payment/model.hpp"
#include "services/payment/store.hpp"

namespace marquee::payment {

struct ServiceOptions {
    /// A PENDING payment younger than this is left alone by recovery: the request that made it may still be
    /// waiting on the gateway (attempts × call timeout + backoff stay well below it).
    std::chrono::seconds recovery_age{60};
    /// A retry of a PENDING payment at least this old asks the gateway by key and settles it (ADR 0040), as
    /// a retry of a PENDING top-up does; younger, the first request is presumed still waiting on the gateway.
    std::chrono::milliseconds resolve_after{1000};
    std::chrono::seconds recovery_lease{30};
    std::chrono::milliseconds recovery_period{5000};
    int recovery_batch = 20;
};

/// 결제: a points payment is one statement (payment.pay: the replay by key, the checks, the payment, the
/// confirm, the debit and the events in one transaction). A card part is recorded PENDING by the same call,
/// charged through the gateway with no transaction open, then settled in one more (payment.settle, running
/// payment.finish) — or failed and given back. ADR 0013. The recovery job finishes what a crash
/// or a lost gateway answer left PENDING, and cancels card charges of payments that failed afterwards.
class Service {
  public:
    Service(Store& store, payment_gateway::Client& gateway, QueueCheck queue_check,
            QueueRelease queue_release, core::MetricsRegistry& metrics, ServiceOptions options = {},
            ScheduleHint schedule_hint = {});

    /// APPROVED (201-worthy) or PENDING (202: the gateway's answer is being recovered), or throws: 404
    /// unknown or another user's reservation, 403/410 from the queue check, 409 idempotency-key-reused,
    /// payment-in-progress or already-confirmed, 410 hold-expired, 402 insufficient-points or card-declined,
    /// 503 pg. The same key and request again answers the first outcome again.
    boost::asio::awaitable<PayOutcome> pay(std::string user_id, std::string queue_token,
                                           std::string idempotency_key, PayRequest request);
    /// The caller's payment; 404 for a malformed id or another user's.
    boost::asio::awaitable<Payment> get(std::string user_id, std::string payment_id);

    /// One recovery pass: resolves claimed PENDING payments by asking the gateway, and cancels the card part
    /// of FAILED payments the gateway still holds. Returns how many payments it finished.
    boost::asio::awaitable<int> recover();
    /// Resolves one PENDING payment as a recovery pass does: asks the gateway by key (a card part) and runs
    /// the final transaction, or fails it. False when the gateway could not say (it stays PENDING).
    boost::asio::awaitable<bool> resolve(Payment payment);
    /// Cancels the card part of a FAILED payment the gateway still holds; false if the gateway could not be
    /// reached (the payment stays on the recovery job's cancel list).
    boost::asio::awaitable<bool> refund_card(Payment payment);
    /// Runs recover() every recovery_period until stop() or the executor stops.
    boost::asio::awaitable<void> run_recovery();
    void stop() { stopped_ = true; }

  private:
    /// An earlier request's outcome under the same key: 409 for another request, its failure again, or it.
    PayOutcome replay(Payment existing, const std::string& request_hash, std::int64_t balance) const;
    /// replay(), but a PENDING payment with a card part at least resolve_after old is first settled from the
    /// gateway's answer under its key (ADR 0040), by the same conditional statement every settle goes
    /// through.
    boost::asio::awaitable<PayOutcome> replay_or_finish(Payment existing, const std::string& request_hash,
                                                        std::int64_t balance);
    /// Applies the gateway's answer to a PENDING payment; Unknown leaves it PENDING for recovery.
    boost::asio::awaitable<Store::Settled> settle(Payment payment, payment_gateway::Charge answer,
                                                  std::int64_t schedule_id);
    /// payment.settle (APPROVED: payment.finish), then what follows outside the transaction: the queue token
    /// ended on approval, the card part cancelled on failure (left to recovery if the gateway cannot be
    /// reached).
    boost::asio::awaitable<Store::Settled> apply(Payment payment, std::string verdict,
                                                 std::optional<std::string> pg_transaction_id,
                                                 std::int64_t schedule_id);
    boost::asio::awaitable<void> release_token(std::int64_t schedule_id, const Payment& payment);
    /// The schedule of a payment's reservation (recovery knows only the payment).
    boost::asio::awaitable<std::int64_t> schedule_of(const Payment& payment);

    Store& store_;
    payment_gateway::Client& gateway_;
    QueueCheck queue_check_;
    QueueRelease queue_release_;
    ScheduleHint schedule_hint_;
    ServiceOptions options_;
    core::Family<core::Counter>& outcomes_;
    core::Family<core::Counter>& recovered_;
    std::atomic<bool> stopped_{false};
};

}  // namespace marquee::payment
