#include "services/booking/taken_memory.hpp"

#include <algorithm>

namespace marquee::booking {

TakenMemory::TakenMemory(std::chrono::milliseconds bound, std::size_t capacity)
    : bound_(std::max(bound, std::chrono::milliseconds{0})), capacity_(std::max<std::size_t>(capacity, 1)) {}

std::size_t TakenMemory::SeatHash::operator()(const Seat& s) const noexcept {
    const auto a = static_cast<std::uint64_t>(s.schedule_id);
    const auto b = static_cast<std::uint64_t>(s.seat_id);
    return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ULL) ^ (b + 0x632BE59BD9B4E019ULL + (a << 6)));
}

void TakenMemory::remember(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                           Clock::time_point seen_at) {
    if (!enabled() || seats.empty()) return;
    const auto until = seen_at + bound_;
    std::lock_guard lock(mutex_);
    if (until_.size() + seats.size() > capacity_) {
        std::erase_if(until_, [seen_at](const auto& entry) { return entry.second <= seen_at; });
        if (until_.size() + seats.size() > capacity_) until_.clear();
    }
    for (const auto seat : seats) {
        auto [it, inserted] = until_.try_emplace(Seat{schedule_id, seat}, until);
        if (!inserted) it->second = std::max(it->second, until);
    }
}

std::vector<std::int64_t> TakenMemory::known_taken(std::int64_t schedule_id,
                                                   const std::vector<std::int64_t>& seats,
                                                   Clock::time_point now) {
    std::vector<std::int64_t> out;
    if (!enabled()) return out;
    std::lock_guard lock(mutex_);
    if (until_.empty()) return out;
    for (const auto seat : seats) {
        const auto it = until_.find(Seat{schedule_id, seat});
        if (it == until_.end()) continue;
        if (now < it->second) {
            out.push_back(seat);
        } else {
            until_.erase(it);
        }
    }
    return out;
}

void TakenMemory::forget(std::int64_t schedule_id, const std::vector<std::int64_t>& seats) {
    if (!enabled()) return;
    std::lock_guard lock(mutex_);
    for (const auto seat : seats) until_.erase(Seat{schedule_id, seat});
}

std::size_t TakenMemory::size() const {
    std::lock_guard lock(mutex_);
    return until_.size();
}

}  // namespace marquee::booking
