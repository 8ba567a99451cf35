#include "load/rate.hpp"

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

std::uint64_t latency_us(Clock::time_point due, Clock::time_point done) {
    if (done <= due) return 0;
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(done - due).count());
}

}  // namespace marquee::load
