#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "http/client.hpp"
#include "payment_gateway/circuit_breaker.hpp"

namespace marquee::payment_gateway {

struct ClientOptions {
    std::string url;                               ///< the gateway, e.g. pg-sim's http://127.0.0.1:PORT
    std::chrono::milliseconds call_timeout{2000};  ///< one HTTP call
    int max_attempts = 3;                   ///< approve/find/cancel are idempotent by key: retried on failure
    std::chrono::milliseconds backoff{50};  ///< first retry delay, doubled each time, with jitter
    CircuitBreaker::Options breaker;
};

/// The client settings a service runs with: the gateway's URL and call timeout from the configuration, the
/// rest (retries, backoff, breaker) at their defaults.
ClientOptions options_from(const core::Config& config);

/// What a charge came to. The caller branches on it (no exception): NotCharged is certain, Unknown is not.
enum class ChargeStatus {
    Approved,    ///< charged; `payment_key` set
    Declined,    ///< a final no from the gateway; nothing charged
    NotCharged,  ///< the gateway is certainly not holding a charge for this key (down, circuit open, 5xx)
    Unknown,  ///< may or may not be charged (answer lost, gateway unreachable since): keep PENDING, recover
              ///< by key
};

struct Charge {
    ChargeStatus status = ChargeStatus::Unknown;
    std::string payment_key;
    std::string decline_code;
    std::string detail;  ///< why, for logs and problem details
};

/// Whether a retry of a PENDING charge or payment may settle it from the gateway's answer under its key (ADR
/// 0040): approved and declined are final; "nothing under this key" only once the attempt is `recovery_age`
/// old, since before that the first request may still be about to call.
inline bool final_for_a_retry(const Charge& answer, std::chrono::milliseconds attempt_age,
                              std::chrono::milliseconds recovery_age) {
    return answer.status == ChargeStatus::Approved || answer.status == ChargeStatus::Declined ||
           (answer.status == ChargeStatus::NotCharged && attempt_age >= recovery_age);
}

/// What a refund came to. Refunded is certain; Unknown is not (retry later with the same key: the gateway
/// answers a repeat with the first result); Refused is a 4xx (e.g. more than is left), never retried here.
enum class RefundStatus { Refunded, NotRefunded, Unknown, Refused };

struct RefundAnswer {
    RefundStatus status = RefundStatus::Unknown;
    std::string refund_key;  ///< the gateway's id, when Refunded
    std::string detail;      ///< why, for logs
};

/// Marquee's client of the external payment gateway: deadlines on every call, retries with backoff (safe
/// because every call is idempotent by key), a circuit breaker, and a final ask-by-key when an answer was
/// lost.
class Client {
  public:
    Client(boost::asio::any_io_executor executor, ClientOptions options);

    /// Charges `amount` KRW once per `idempotency_key`, however often it is called.
    boost::asio::awaitable<Charge> approve(std::string idempotency_key, std::string order_id,
                                           std::int64_t amount);
    /// What the gateway holds for `idempotency_key` (Approved/Declined), NotCharged if nothing, Unknown if it
    /// cannot be reached: the recovery job's question.
    boost::asio::awaitable<Charge> find(std::string idempotency_key);
    /// Cancels (refunds) a charge; idempotent. Throws core::Problem::unavailable("pg") when it cannot be
    /// reached.
    boost::asio::awaitable<void> cancel(std::string payment_key);
    /// Refunds `amount` KRW of the charge `payment_key` once per `idempotency_key` (POST
    /// /v1/payments/{paymentKey}/refunds), however often it is called. Never throws for the gateway's state.
    boost::asio::awaitable<RefundAnswer> refund(std::string idempotency_key, std::string payment_key,
                                                std::int64_t amount);

    CircuitBreaker::State breaker_state() const;

    /// Publishes the circuit breaker's state on every scrape as `payment_gateway_circuit_open{caller}` (1
    /// while open or half-open). The registry must not be scraped after this client is gone.
    void expose_metrics(core::MetricsRegistry& metrics, std::string caller) const;

  private:
    struct Attempt;
    boost::asio::awaitable<Attempt> call(std::string method, std::string target, std::string body,
                                         http::Fields headers);
    /// Calls until the gateway answers below 500, the circuit is open, or attempts run out (every call here
    /// is idempotent by key, so retrying is safe); returns the last attempt, marked `maybe_delivered` when
    /// some attempt may have been acted on without an answer saying so.
    boost::asio::awaitable<Attempt> call_with_retries(std::string method, std::string target,
                                                      std::string body, http::Fields headers);

    boost::asio::any_io_executor executor_;
    ClientOptions options_;
    std::shared_ptr<CircuitBreaker> breaker_;
    http::Client http_;
};

}  // namespace marquee::payment_gateway
