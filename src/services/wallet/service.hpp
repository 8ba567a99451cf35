#pragma once

#include <chrono>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/metrics.hpp"
#include "payment_gateway/client.hpp"
#include "services/wallet/store.hpp"

namespace marquee::wallet {

struct ServiceOptions {
    /// A PENDING charge younger than this is left alone by recovery: the request that made it may still be
    /// waiting on the gateway (attempts × call timeout + backoff, and a final ask-by-key, stay well below
    /// it).
    std::chrono::seconds recovery_age{60};
    std::chrono::seconds recovery_lease{30};
    std::chrono::milliseconds recovery_period{5000};
    int recovery_batch =
        20;  ///< charges claimed at a time; a pass claims batches until the backlog is drained
    /// A retry of a PENDING charge whose attempt is at least this old asks the gateway for the charge's
    /// outcome and applies a final one at once, instead of 409 until the recovery age (ADR 0040).
    std::chrono::milliseconds resolve_after{1000};
};

/// The wallet's rules: charges through the payment gateway, exactly once per Idempotency-Key, never keeping
/// money the wallet did not credit; and the recovery job that finishes charges whose answer was lost.
class Service {
  public:
    Service(Store& store, payment_gateway::Client& gateway, core::MetricsRegistry& metrics,
            ServiceOptions options);

    boost::asio::awaitable<ChargeOutcome> charge(std::string user_id, std::string idempotency_key,
                                                 std::int64_t amount);
    boost::asio::awaitable<WalletView> view(std::string user_id);
    /// One recovery pass: asks the gateway about each claimed PENDING charge and applies the answer, batch
    /// after batch until a batch comes back short (the backlog is drained) or finishes nothing (the gateway
    /// cannot answer now: the next pass asks again). Returns how many charges it finished.
    boost::asio::awaitable<int> recover_pending();
    /// Resolves one PENDING charge as a recovery pass does: asks the gateway by key and applies the answer.
    /// False when the gateway could not say (the charge stays PENDING).
    boost::asio::awaitable<bool> resolve(std::string charge_id);
    /// Runs recover_pending() every recovery_period until the executor stops.
    boost::asio::awaitable<void> run_recovery();

  private:
    /// Calls the gateway for a PENDING charge this request owns (new or re-opened) and applies its answer.
    boost::asio::awaitable<ChargeOutcome> attempt(Charge charge);
    /// Answers a retry that found its charge PENDING: finished from the gateway's answer when it has one,
    /// else 409 in flight (or, past the recovery age, the 202 replay).
    boost::asio::awaitable<ChargeOutcome> retry_pending(Store::Begun begun);
    /// Applies the gateway's answer to a PENDING charge. Unknown leaves it PENDING for recovery.
    boost::asio::awaitable<Store::Settled> settle(std::string charge_id, payment_gateway::Charge answer);

    Store& store_;
    payment_gateway::Client& gateway_;
    ServiceOptions options_;
    core::Family<core::Counter>& outcomes_;
};

}  // namespace marquee::wallet
