#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "core/clock.hpp"

namespace marquee::pg_sim {

/// How the simulated payment gateway misbehaves. Rates are probabilities in [0, 1], drawn per request.
struct Faults {
    std::chrono::milliseconds latency{0};  ///< added to every answer
    std::chrono::milliseconds jitter{0};   ///< plus a uniform 0..jitter
    double decline_rate = 0;               ///< card declined: a final business answer (402), recorded
    double error_rate = 0;                 ///< gateway error (503): nothing recorded, safe to retry
    double timeout_rate = 0;               ///< no answer for `hang`: nothing recorded
    double lost_rate = 0;                  ///< approved and recorded, but the answer never comes (hangs)
    std::chrono::milliseconds hang{30'000};
    bool down = false;  ///< every payment call answers 503 at once
};

enum class PaymentStatus { Approved, Declined, Cancelled };
std::string_view to_string(PaymentStatus status);

struct Payment {
    std::string payment_key;      ///< the gateway's id
    std::string idempotency_key;  ///< the merchant's key
    std::string order_id;
    std::int64_t amount = 0;  ///< KRW
    std::string request_fingerprint;
    PaymentStatus status = PaymentStatus::Approved;
    std::string decline_code;
    core::TimePoint approved_at;
    std::optional<core::TimePoint> cancelled_at;
};

/// What the gateway does with one approve call.
enum class Outcome {
    Answer,         ///< answer with the recorded payment (approved or declined)
    Error,          ///< 503, nothing recorded
    Hang,           ///< never answer (timeout), nothing recorded
    LostAfterSave,  ///< recorded, then never answer
    KeyReused,      ///< the key was used with another request: 409
};

/// A refund of part or all of an approved payment (POST /v1/payments/{paymentKey}/refunds), recorded under
/// the merchant's idempotency key.
struct Refund {
    std::string refund_key;       ///< the gateway's id
    std::string idempotency_key;  ///< the merchant's key
    std::string payment_key;
    std::int64_t amount = 0;  ///< KRW
    core::TimePoint refunded_at;
};

/// What the gateway does with one refund call (Outcome's faults, plus the refusals below).
enum class RefundOutcome {
    Answer,         ///< answer with the recorded refund
    Error,          ///< 503, nothing recorded
    Hang,           ///< never answer (timeout), nothing recorded
    LostAfterSave,  ///< recorded, then never answer
    KeyReused,      ///< the key was used with another request: 409
    NotFound,       ///< no such payment: 404
    NotRefundable,  ///< the payment is declined or cancelled, or the amount exceeds what is left: 409
};

struct RefundResult {
    RefundOutcome outcome = RefundOutcome::Answer;
    std::optional<Refund> refund;
};

struct ApproveResult {
    Outcome outcome = Outcome::Answer;
    std::optional<Payment> payment;
};

struct Stats {
    std::uint64_t approved = 0, declined = 0, cancelled = 0, errors = 0, hangs = 0, lost = 0, replays = 0;
    std::int64_t approved_amount = 0, cancelled_amount = 0;
    std::uint64_t refunded = 0;
    std::int64_t refunded_amount = 0;  ///< partial refunds (cancel counts its own, of what was left)
};

/// The simulator's state: payments by idempotency key, the fault settings and a seeded random source.
/// Thread-safe. Idempotency is the contract real gateways give: the same key and the same request return the
/// first result, whatever faults are set now.
class Gateway {
  public:
    Gateway(Faults faults, std::uint64_t seed, const core::Clock& clock);

    ApproveResult approve(const std::string& idempotency_key, const std::string& order_id,
                          std::int64_t amount);
    std::optional<Payment> find_by_key(const std::string& idempotency_key) const;
    /// Cancels (refunds) an approved payment; idempotent. nullopt when no such payment key.
    std::optional<Payment> cancel(const std::string& payment_key);
    /// Refunds `amount` of an approved payment, once per `idempotency_key`: the same key and request return
    /// the first result, whatever faults are set now (the same contract as approve).
    RefundResult refund(const std::string& idempotency_key, const std::string& payment_key,
                        std::int64_t amount);
    std::optional<Refund> find_refund(const std::string& idempotency_key) const;

    Faults faults() const;
    void set_faults(Faults faults);
    Stats stats() const;
    /// The delay to add before answering, drawn from latency + jitter.
    std::chrono::milliseconds delay();

  private:
    double draw();

    mutable std::mutex mutex_;
    Faults faults_;
    std::mt19937_64 rng_;
    const core::Clock& clock_;
    std::map<std::string, Payment> by_key_;
    std::map<std::string, std::string> key_by_payment_;
    std::map<std::string, Refund> refunds_by_key_;
    std::map<std::string, std::int64_t> refunded_by_payment_;  ///< payment key -> KRW refunded so far
    Stats stats_;
    std::uint64_t next_id_ = 1;
};

}  // namespace marquee::pg_sim
