#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "services/queue/admission.hpp"

namespace marquee::queue {

/// A QueueToken's life: WAITING -> ACTIVE -> (USED | EXPIRED); a WAITING token not polled for the
/// waiting TTL also becomes EXPIRED. Only ACTIVE may hold seats or pay. A fan who joins before the
/// schedule's booking opens starts PRE_QUEUE and becomes WAITING at the opening's shuffle (ADR 0026).
enum class TokenState { Waiting, Active, Used, Expired, PreQueue };

/// The tunables of one waiting room (from core::Config's queue_* settings).
struct Settings {
    unsigned admit_per_second = 50;                 ///< per schedule, across every scheduler process together
    unsigned max_active = 500;                      ///< ACTIVE tokens per schedule at most
    std::chrono::milliseconds active_ttl{600'000};  ///< an ACTIVE token idle this long expires
    std::chrono::milliseconds waiting_ttl{3'600'000};  ///< a WAITING token not polled this long expires
    std::chrono::milliseconds tick{500};               ///< admission scheduler period
    /// How long an ended (USED/EXPIRED) token stays readable in Redis before its keys vanish.
    std::chrono::milliseconds ended_ttl{24 * 3'600'000};
    /// The sorted set of schedules with tokens, which the scheduler scans (tests use one of their own).
    std::string schedules_key = "queue:schedules";
    /// Automatic admission (ADR 0016): the ACTIVE bound and/or the admits per second come from the controller
    /// (admission.hpp) instead of max_active / admit_per_second. Off unless set (app turns them on when the
    /// operator did not fix the numbers).
    bool auto_max_active = false;
    bool auto_admit_rate = false;
    AdmissionLimits admission;
    AdmissionLaw law;  ///< the control law's tunables (budget_ms from --queue-admission-budget-ms)
};

/// A token as its owner sees it now. Times are Unix epoch milliseconds from the Redis clock.
struct TokenStatus {
    std::string token;  ///< canonical UUID text
    std::int64_t schedule_id = 0;
    TokenState state = TokenState::Waiting;
    std::int64_t position = 0;    ///< 1-based place among WAITING tokens; 0 unless WAITING
    std::int64_t expires_at = 0;  ///< epoch ms; set only while ACTIVE
    std::int64_t opens_at = 0;    ///< epoch ms; when PRE_QUEUE: the opening (the shuffle), else 0
};

/// The outcome of a join: the live token (new or the existing one) and whether it was just issued.
struct Joined {
    TokenStatus status;
    bool created = false;
};

/// What one admission step did to one schedule.
struct AdmitStep {
    std::int64_t admitted = 0;
    std::int64_t expired = 0;     ///< ACTIVE past expiry, plus WAITING not polled for the waiting TTL
    std::int64_t waiting = 0;     ///< left in the waiting set after the step
    std::int64_t active = 0;      ///< in the active set after the step
    std::int64_t pre_queued = 0;  ///< in the pre-queue (ADR 0026): nothing is admitted while any is
    std::int64_t sequence = 0;    ///< the schedule's arrival counter as the step saw it
    std::int64_t now = 0;         ///< epoch ms, the Redis clock
    std::int64_t bound = 0;       ///< the ACTIVE bound the step applied
    double rate = 0;              ///< the admits per second the step applied
    /// Automatic admission only: the controller's state as stored (`at_text` is the stored 'at' verbatim,
    /// '' when none, for the compare-and-set of the next step) and the counters the release script keeps.
    bool automatic = false;
    AdmissionState admission;
    std::string at_text;
    std::int64_t used = 0;
    std::int64_t busy_ms = 0;
    std::int64_t active_ms = 0;
};

/// The gate's verdict on a presented token.
enum class GateOutcome { Active, Waiting, Ended, Invalid };

struct GateCheck {
    GateOutcome outcome = GateOutcome::Invalid;
    std::int64_t position = 0;    ///< when Waiting
    std::int64_t expires_at = 0;  ///< when Active: the (slid) expiry, epoch ms
};

/// One row of queue.queue_tokens as the audit writer upserts it. Times are epoch ms, 0 = NULL.
struct AuditRecord {
    std::string id;
    std::string user_id;
    std::int64_t schedule_id = 0;
    TokenState state = TokenState::Waiting;
    std::int64_t position = 0;  ///< arrival number
    std::int64_t issued_at = 0;
    std::int64_t admitted_at = 0;
    std::int64_t expires_at = 0;
    std::int64_t ended_at = 0;
};

}  // namespace marquee::queue
