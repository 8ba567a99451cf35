#include "services/queue/admission.hpp"

#include <algorithm>
#include <cmath>

namespace marquee::queue {
namespace {

struct Range {
    double floor;
    double ceiling;
    double start;
};

/// The limits made consistent: 1 <= floor <= start <= ceiling.
Range range_of(const AdmissionLimits& limits) {
    const double floor = std::max(1u, limits.floor);
    const double ceiling = std::max<double>(floor, limits.ceiling);
    const double start = std::clamp<double>(limits.start, floor, ceiling);
    return {floor, ceiling, start};
}

}  // namespace

std::string_view to_string(AdmissionMove move) {
    switch (move) {
        case AdmissionMove::Start:
            return "start";
        case AdmissionMove::Hold:
            return "hold";
        case AdmissionMove::Increase:
            return "increase";
        case AdmissionMove::Decrease:
            return "decrease";
    }
    return "hold";
}

bool admission_due(const AdmissionState& state, std::int64_t now, const AdmissionLimits& limits) {
    // A clock that went back (another Redis after a failover) counts as due, so the state never freezes.
    return state.at == 0 || now < state.at || now - state.at >= limits.interval.count();
}

AdmissionState admission_start(const AdmissionLimits& limits) {
    const Range r = range_of(limits);
    AdmissionState state;
    state.bound = r.start;
    state.rate = r.start;
    return state;
}

double pool_cap(double handover_ms, const AdmissionLaw& law) {
    if (!std::isfinite(handover_ms) || handover_ms <= 0 || !std::isfinite(law.budget_ms) ||
        law.budget_ms <= 0) {
        return 0;
    }
    return law.budget_ms / handover_ms;
}

std::int64_t applied_bound(double bound) {
    if (!std::isfinite(bound) || bound < 1) return 1;
    return static_cast<std::int64_t>(std::floor(bound));
}

AdmissionDecision admission_step(const AdmissionState& state, const AdmissionSample& sample,
                                 const AdmissionLimits& limits, const AdmissionLaw& law) {
    const Range r = range_of(limits);
    AdmissionDecision decision;
    AdmissionState& next = decision.next;
    next = state;
    next.at = sample.now;
    next.used = sample.used;
    next.busy_ms = sample.busy_ms;
    next.active_ms = sample.active_ms;
    // The pool's capacity: this process's measurement when it has one, else the last one any replica stored.
    if (std::isfinite(sample.handover_ms) && sample.handover_ms > 0) next.handover_ms = sample.handover_ms;
    if (!std::isfinite(next.handover_ms) || next.handover_ms < 0) next.handover_ms = 0;
    decision.pool_cap = pool_cap(next.handover_ms, law);

    const bool broken = !std::isfinite(state.bound) || !std::isfinite(state.rate) || state.bound <= 0 ||
                        state.rate <= 0 || !std::isfinite(state.base_ms) || !std::isfinite(state.throughput);
    if (state.at == 0 || broken) {
        const AdmissionState fresh = admission_start(limits);
        next.bound = fresh.bound;
        next.rate = fresh.rate;
        next.base_ms = 0;
        next.throughput = 0;
        next.probing = true;
        decision.move = AdmissionMove::Start;
        return decision;
    }

    // Counters that went backwards (the hash vanished and came back) restart the deltas from here.
    const std::int64_t done = sample.used >= state.used ? sample.used - state.used : 0;
    const std::int64_t busy = sample.busy_ms >= state.busy_ms ? sample.busy_ms - state.busy_ms : 0;
    const std::int64_t in_active =
        sample.active_ms >= state.active_ms ? sample.active_ms - state.active_ms : 0;
    const double seconds = sample.now > state.at ? static_cast<double>(sample.now - state.at) / 1000.0 : 0.0;

    if (seconds > 0) {
        const double x = static_cast<double>(done) / seconds;
        next.throughput = state.throughput > 0 ? 0.5 * state.throughput + 0.5 * x : x;
    }
    const double bound = std::clamp(state.bound, r.floor, r.ceiling);
    const bool holding_back =
        sample.waiting > 0 && static_cast<double>(sample.active) >= law.full * std::floor(bound);
    const bool measured = done >= std::max<std::int64_t>(1, law.min_samples);
    double active_ms = 0;
    if (measured) {
        decision.purchase_ms = static_cast<double>(busy) / static_cast<double>(done);
        active_ms = static_cast<double>(in_active) / static_cast<double>(done);
        // The base creeps up only while the room is not full (its purchases then show the unloaded system);
        // under a full room it only falls, or it would follow the queueing it is meant to detect.
        const double drift = holding_back ? 1.0 : law.base_drift;
        next.base_ms =
            state.base_ms > 0 ? std::min(decision.purchase_ms, state.base_ms * drift) : decision.purchase_ms;
    }

    // Slower than twice the fastest seen lately, and slower than the budget: a purchase that stays within
    // the budget is not worth fewer fans (on a shared machine the base is noisy, the budget is not).
    const bool slow = measured && state.base_ms > 0 &&
                      decision.purchase_ms > std::max(law.tolerance * state.base_ms, law.budget_ms);
    const bool congested = sample.shed > 0 || slow;
    if (congested) {
        next.bound = std::max(r.floor, bound * law.decrease);
        next.probing = false;
        decision.move = AdmissionMove::Decrease;
    } else if (holding_back && done >= std::max<std::int64_t>(
                                           1, std::min(law.min_samples, static_cast<std::int64_t>(bound)))) {
        // Growth needs evidence: an interval with too few completions says nothing about how the system takes
        // the bound (a stalled sale completes nothing), so it holds (ADR 0019). A room smaller than
        // min_samples needs only as many completions as it holds, or it could never grow.
        double grown = state.probing ? bound * 2 : bound + std::max(1.0, r.start / 4);
        if (state.probing && decision.pool_cap > 0 && grown >= decision.pool_cap) {
            // ADR 0045: the slow start stops where the pool, as measured now, serves one statement per fan
            // within the budget; the purchase time it would otherwise wait for comes one interval late.
            grown = std::max(bound, decision.pool_cap);
            next.probing = false;
            decision.capped = true;
        }
        next.bound = std::min(r.ceiling, grown);
        decision.move = next.bound > bound ? AdmissionMove::Increase : AdmissionMove::Hold;
    } else {
        next.bound = bound;
        decision.move = AdmissionMove::Hold;
    }

    // The room turns over once per time in ACTIVE; admitting `headroom` times that refills it in time
    // without letting a burst of fans in at once. Unmeasured: one bound per second.
    const double turnover_s = measured && active_ms > 0 ? std::max(active_ms, 10.0) / 1000.0 : 1.0;
    next.rate = std::clamp(law.rate_headroom * next.bound / turnover_s, r.floor, 10 * r.ceiling);
    if (!measured && state.rate > 0) next.rate = std::max(next.rate, std::min(state.rate, 10 * r.ceiling));
    return decision;
}

}  // namespace marquee::queue
