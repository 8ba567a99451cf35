#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace marquee::queue {

/// The limits of the automatic admission (ADR 0016): the ACTIVE bound of a schedule stays in [floor,
/// ceiling], starts at `start`, and the controller takes one step per schedule per `interval`.
struct AdmissionLimits {
    unsigned floor = 16;
    unsigned ceiling = 2000;
    unsigned start = 64;
    std::chrono::milliseconds interval{1000};
};

/// The controller's state of one schedule. It lives in Redis (the hash `queue:{S}:admission`), so every
/// replica's scheduler admits under the same bound and any of them may take the next step.
struct AdmissionState {
    std::int64_t at = 0;         ///< epoch ms of the last step; 0: never stepped (the bound is `start`)
    double bound = 0;            ///< the ACTIVE bound in force (fractional; admission uses its floor)
    double rate = 0;             ///< admits per second in force
    double base_ms = 0;          ///< the lowest purchase time seen lately: the uncongested one; 0: not yet
    double throughput = 0;       ///< purchases (tokens turned USED) per second, smoothed; 0: not yet
    bool probing = true;         ///< slow start: the bound doubles until the first sign of congestion
    std::int64_t used = 0;       ///< the counters below as the last step saw them
    std::int64_t busy_ms = 0;    ///< sum of purchase times (first passed gate check -> USED)
    std::int64_t active_ms = 0;  ///< sum of times in ACTIVE (admitted -> USED)
    /// The PostgreSQL pool's measured time between hand-overs to queued callers, as the last step that had a
    /// measurement saw it (ADR 0045). Kept here, in the shared state, so a step taken by a replica whose pool
    /// has not queued yet still caps the slow start. 0: never measured.
    double handover_ms = 0;
};

/// What a step sees: the schedule's counters now (kept by the release script in the same hash) and the
/// room's occupancy from the admission pass that preceded it.
struct AdmissionSample {
    std::int64_t now = 0;        ///< epoch ms (the Redis clock)
    std::int64_t used = 0;       ///< tokens turned USED so far
    std::int64_t busy_ms = 0;    ///< their purchase times summed
    std::int64_t active_ms = 0;  ///< their times in ACTIVE summed
    std::int64_t waiting = 0;    ///< WAITING tokens now
    std::int64_t active = 0;     ///< ACTIVE tokens now
    /// Pressure seen by this process since its last step: PostgreSQL pool callers shed or timed out
    /// (requests that became 503). Any is congestion.
    std::uint64_t shed = 0;
    /// The stepping process's PostgreSQL pool: the smoothed time between hand-overs to queued callers, i.e.
    /// the time the pool takes per statement when it is the bottleneck (1 / statements per second). 0: not
    /// measured (fewer than 32 hand-overs so far); the shared state's last value stands in (ADR 0045).
    double handover_ms = 0;
};

enum class AdmissionMove { Start, Hold, Increase, Decrease };
std::string_view to_string(AdmissionMove move);

struct AdmissionDecision {
    AdmissionState next;
    AdmissionMove move = AdmissionMove::Hold;
    double purchase_ms = 0;  ///< mean purchase time of the interval's completions; 0 when too few
    double pool_cap = 0;     ///< the slow start's cap from the pool's capacity (ADR 0045); 0: unmeasured
    bool capped = false;     ///< the slow start stopped at pool_cap in this step
};

/// Tunables of the control law; the defaults are what ADR 0016 argues for.
struct AdmissionLaw {
    double tolerance = 2.0;    ///< congestion: the interval's purchase time above tolerance x base ...
    double budget_ms = 80;     ///< ... and above this budget (hold + top-up + payment; ADR 0045's amendments)
    double decrease = 0.7;     ///< multiplicative decrease
    double base_drift = 1.02;  ///< the base may creep up this much per step (it re-learns a slower system)
    std::int64_t min_samples = 5;  ///< completions an interval needs before its purchase time counts
    double full = 0.9;             ///< the bound holds fans back when ACTIVE >= full x bound and some wait
    double rate_headroom = 2.0;    ///< admits/s = headroom x bound / time in ACTIVE
};

/// Whether the schedule's controller is due for a step at `now`.
bool admission_due(const AdmissionState& state, std::int64_t now, const AdmissionLimits& limits);

/// One step of the controller: AIMD with a slow start, on the purchase time and the pressure signal.
///  - first step: bound = start, rate = start per second;
///  - congested (pool sheds, or purchase time > max(tolerance x base, budget)): bound x decrease, slow start
///    ends;
///  - the bound holds fans back (some wait, ACTIVE >= full x bound), the interval measured at least
///    `min_samples` completions (or the bound's, if fewer) and no congestion: slow start doubles the bound,
///    afterwards it grows by start / 4 per step (an interval with fewer completions holds: no growth without
///    evidence, ADR 0019);
///  - the slow start never doubles past what the PostgreSQL pool serves within the budget (ADR 0045): with
///    the pool's time between hand-overs h measured, cap = budget_ms / h (as many fans as the pool gives one
///    statement each within the budget). A doubling that would pass the cap stops at it (or stays, if the
///    bound is already there) and ends the slow start; growth goes on by start / 4 per step, so the
///    purchase time (which lags one interval) has the time to show the queueing;
///  - otherwise it holds.
/// The bound stays in [floor, ceiling]. admits/s = headroom x bound / (mean time in ACTIVE), so the room
/// refills in half the time a fan spends in it; in [floor, 10 x ceiling] per second. Pure: no I/O, no clock.
AdmissionDecision admission_step(const AdmissionState& state, const AdmissionSample& sample,
                                 const AdmissionLimits& limits, const AdmissionLaw& law = {});

/// ADR 0045: the most fans the slow start lets in, from the pool's time between hand-overs (ms): the
/// budget over it; 0 when `handover_ms` is not a positive finite number (unmeasured: no cap).
double pool_cap(double handover_ms, const AdmissionLaw& law = {});

/// The bound and rate to admit under before any step (and when the stored state is unreadable).
AdmissionState admission_start(const AdmissionLimits& limits);

/// The ACTIVE bound a Redis script applies: floor of `bound`, at least 1.
std::int64_t applied_bound(double bound);

}  // namespace marquee::queue
