#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace marquee::wallet {

/// A card top-up (잔액 충전): PENDING until the payment gateway's answer is applied, then APPROVED or FAILED.
struct Charge {
    std::string id;  ///< also the gateway's idempotency key
    std::string user_id;
    std::string idempotency_key;
    std::string request_hash;  ///< hex
    std::int64_t amount = 0;
    std::string state;      ///< PENDING | APPROVED | FAILED
    std::string pg_status;  ///< REQUESTED | APPROVED | DECLINED | CANCELLED
    std::optional<std::string> failure_code;
    core::TimePoint created_at;
    /// How long ago its current attempt started (updated_at while PENDING: a charge re-opened after the
    /// gateway took nothing starts again), by the database's clock when read (ADR 0040).
    std::chrono::milliseconds attempt_age{0};
};

struct LedgerEntry {
    std::int64_t id = 0;
    std::string kind;  ///< CHARGE | PAYMENT | REFUND
    std::int64_t amount = 0;
    std::int64_t balance_after = 0;
    std::string reference_id;
    core::TimePoint created_at;
};

struct WalletView {
    std::int64_t balance = 0;
    std::vector<LedgerEntry> recent;
};

/// What a charge request came to, for the route to answer.
struct ChargeOutcome {
    Charge charge;
    std::int64_t balance = 0;
    bool replayed = false;  ///< an earlier request with the same Idempotency-Key decided this
};

}  // namespace marquee::wallet
