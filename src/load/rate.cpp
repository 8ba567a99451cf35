#include "load/rate.hpp"

#include <algorithm>
#include <stdexcept>

namespace marquee::load {

std::optional<std::uint64_t> Budget::claim(Clock::time_point now) {
    if (now >= deadline_) return std::nullopt;
    if (max_ != 0 && next_ >= max_) return std::nullopt;
    return next_++;
}

RateSchedule::RateSchedule(double per_second, Clock::time_point start)
    : per_second_(per_second), start_(start) {
    if (!(per_second > 0)) throw std::invalid_argument("a fixed rate must be above 0 per second");
}

Clock::time_point RateSchedule::due(std::uint64_t index) const {
    const auto offset = std::chrono::duration<double>(static_cast<double>(index) / per_second_);
    return start_ + std::chrono::duration_cast<Clock::duration>(offset);
}

Pacer::Pacer(std::uint64_t max_requests, Clock::time_point start, Clock::time_point deadline,
             double per_second)
    : budget_(max_requests, deadline) {
    if (per_second > 0) schedule_.emplace(per_second, start);
}

std::optional<Pacer::Slot> Pacer::claim(Clock::time_point now) {
    if (schedule_ && schedule_->due(budget_.claimed()) >= budget_.deadline()) return std::nullopt;
    const auto index = budget_.claim(now);
    if (!index) return std::nullopt;
    return Slot{*index, schedule_ ? schedule_->due(*index) : kAtSend};
}

std::uint64_t Pacer::due_before(Clock::time_point end) const {
    if (!schedule_) return budget_.claimed();
    end = std::min(end, budget_.deadline());
    // The first index due at or after `end`, from an estimate corrected against due() itself.
    const double seconds = std::chrono::duration<double>(end - schedule_->due(0)).count();
    std::uint64_t n = seconds > 0 ? static_cast<std::uint64_t>(seconds * schedule_->per_second()) : 0;
    while (n > 0 && schedule_->due(n - 1) >= end) --n;
    while (schedule_->due(n) < end) ++n;
    const auto max = budget_.max_requests();
    return max != 0 ? std::min(n, max) : n;
}

std::uint64_t latency_us(Clock::time_point due, Clock::time_point done) {
    if (done <= due) return 0;
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(done - due).count());
}

}  // namespace marquee::load
