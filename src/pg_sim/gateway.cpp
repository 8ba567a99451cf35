#include "pg_sim/gateway.hpp"

#include <fmt/format.h>

namespace marquee::pg_sim {

std::string_view to_string(PaymentStatus status) {
    switch (status) {
        case PaymentStatus::Approved:
            return "APPROVED";
        case PaymentStatus::Declined:
            return "DECLINED";
        case PaymentStatus::Cancelled:
            return "CANCELLED";
    }
    return "UNKNOWN";
}

Gateway::Gateway(Faults faults, std::uint64_t seed, const core::Clock& clock)
    : faults_(faults), rng_(seed), clock_(clock) {}

double Gateway::draw() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

ApproveResult Gateway::approve(const std::string& idempotency_key, const std::string& order_id,
                               std::int64_t amount) {
    std::lock_guard lock(mutex_);
    const std::string fingerprint = fmt::format("{}|{}", order_id, amount);
    if (const auto it = by_key_.find(idempotency_key); it != by_key_.end()) {
        if (it->second.request_fingerprint != fingerprint) return {Outcome::KeyReused, std::nullopt};
        ++stats_.replays;
        return {Outcome::Answer, it->second};
    }
    if (faults_.down || draw() < faults_.error_rate) {
        ++stats_.errors;
        return {Outcome::Error, std::nullopt};
    }
    if (draw() < faults_.timeout_rate) {
        ++stats_.hangs;
        return {Outcome::Hang, std::nullopt};
    }
    Payment payment;
    payment.payment_key = fmt::format("pay_{:016x}{:08x}", rng_(), next_id_++);
    payment.idempotency_key = idempotency_key;
    payment.order_id = order_id;
    payment.amount = amount;
    payment.request_fingerprint = fingerprint;
    payment.approved_at = clock_.now();
    if (draw() < faults_.decline_rate) {
        payment.status = PaymentStatus::Declined;
        payment.decline_code = "CARD_DECLINED";
        ++stats_.declined;
    } else {
        ++stats_.approved;
        stats_.approved_amount += amount;
    }
    by_key_.emplace(idempotency_key, payment);
    key_by_payment_.emplace(payment.payment_key, idempotency_key);
    if (payment.status == PaymentStatus::Approved && draw() < faults_.lost_rate) {
        ++stats_.lost;
        return {Outcome::LostAfterSave, payment};
    }
    return {Outcome::Answer, payment};
}

std::optional<Payment> Gateway::find_by_key(const std::string& idempotency_key) const {
    std::lock_guard lock(mutex_);
    const auto it = by_key_.find(idempotency_key);
    if (it == by_key_.end()) return std::nullopt;
    return it->second;
}

std::optional<Payment> Gateway::cancel(const std::string& payment_key) {
    std::lock_guard lock(mutex_);
    const auto key = key_by_payment_.find(payment_key);
    if (key == key_by_payment_.end()) return std::nullopt;
    auto& payment = by_key_.at(key->second);
    if (payment.status == PaymentStatus::Approved) {
        payment.status = PaymentStatus::Cancelled;
        payment.cancelled_at = clock_.now();
        ++stats_.cancelled;
        // What partial refunds gave back already is not cancelled a second time.
        stats_.cancelled_amount += payment.amount - refunded_by_payment_[payment_key];
    }
    return payment;
}

RefundResult Gateway::refund(const std::string& idempotency_key, const std::string& payment_key,
                             std::int64_t amount) {
    std::lock_guard lock(mutex_);
    if (const auto it = refunds_by_key_.find(idempotency_key); it != refunds_by_key_.end()) {
        if (it->second.payment_key != payment_key || it->second.amount != amount) {
            return {RefundOutcome::KeyReused, std::nullopt};
        }
        ++stats_.replays;
        return {RefundOutcome::Answer, it->second};
    }
    if (faults_.down || draw() < faults_.error_rate) {
        ++stats_.errors;
        return {RefundOutcome::Error, std::nullopt};
    }
    if (draw() < faults_.timeout_rate) {
        ++stats_.hangs;
        return {RefundOutcome::Hang, std::nullopt};
    }
    const auto key = key_by_payment_.find(payment_key);
    if (key == key_by_payment_.end()) return {RefundOutcome::NotFound, std::nullopt};
    const Payment& payment = by_key_.at(key->second);
    auto& refunded = refunded_by_payment_[payment_key];
    if (payment.status != PaymentStatus::Approved || amount > payment.amount - refunded) {
        return {RefundOutcome::NotRefundable, std::nullopt};
    }
    Refund refund;
    refund.refund_key = fmt::format("rfd_{:016x}{:08x}", rng_(), next_id_++);
    refund.idempotency_key = idempotency_key;
    refund.payment_key = payment_key;
    refund.amount = amount;
    refund.refunded_at = clock_.now();
    refunded += amount;
    ++stats_.refunded;
    stats_.refunded_amount += amount;
    refunds_by_key_.emplace(idempotency_key, refund);
    if (draw() < faults_.lost_rate) {
        ++stats_.lost;
        return {RefundOutcome::LostAfterSave, refund};
    }
    return {RefundOutcome::Answer, refund};
}

std::optional<Refund> Gateway::find_refund(const std::string& idempotency_key) const {
    std::lock_guard lock(mutex_);
    const auto it = refunds_by_key_.find(idempotency_key);
    if (it == refunds_by_key_.end()) return std::nullopt;
    return it->second;
}

Faults Gateway::faults() const {
    std::lock_guard lock(mutex_);
    return faults_;
}

void Gateway::set_faults(Faults faults) {
    std::lock_guard lock(mutex_);
    faults_ = faults;
}

Stats Gateway::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

std::chrono::milliseconds Gateway::delay() {
    std::lock_guard lock(mutex_);
    auto delay = faults_.latency;
    if (faults_.jitter.count() > 0) {
        delay += std::chrono::milliseconds(
            std::uniform_int_distribution<std::int64_t>(0, faults_.jitter.count())(rng_));
    }
    return delay;
}

}  // namespace marquee::pg_sim
