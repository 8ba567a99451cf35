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
    const std::lock_guard lock(mutex_);
    std::size_t incoming = 0;
    for (const auto seat : seats) incoming += seats_.contains(Seat{schedule_id, seat}) ? 0 : 1;
    make_room(incoming, seen_at);
    const Entry seen{seen_at + bound_, seen_at + bound_ / 2};
    for (const auto seat : seats) {
        auto [it, inserted] = seats_.try_emplace(Seat{schedule_id, seat}, seen);
        // The later sighting wins; an older answer arriving late shortens nothing.
        if (!inserted && it->second.until < seen.until) it->second = seen;
    }
}

TakenMemory::Known TakenMemory::lookup(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                                       Clock::time_point now, Claim claim) {
    Known out;
    if (!enabled()) return out;
    const std::lock_guard lock(mutex_);
    if (seats_.empty()) return out;
    for (const auto seat : seats) {
        const auto it = seats_.find(Seat{schedule_id, seat});
        if (it == seats_.end()) continue;
        if (now >= it->second.until) {  // lapsed: gone
            seats_.erase(it);
            continue;
        }
        out.seats.push_back(seat);
        if (now >= it->second.refresh_at) out.refresh = true;
    }
    if (out.refresh && claim == Claim::Yes) {
        // This caller asks; the others keep being refused until its answer or a quarter of the bound.
        for (const auto seat : out.seats) {
            auto& entry = seats_.at(Seat{schedule_id, seat});
            if (now >= entry.refresh_at) entry.refresh_at = now + bound_ / 4;
        }
    }
    return out;
}

std::vector<std::int64_t> TakenMemory::known_taken(std::int64_t schedule_id,
                                                   const std::vector<std::int64_t>& seats,
                                                   Clock::time_point now) {
    return lookup(schedule_id, seats, now, Claim::No).seats;
}

void TakenMemory::forget(std::int64_t schedule_id, const std::vector<std::int64_t>& seats) {
    if (!enabled()) return;
    const std::lock_guard lock(mutex_);
    for (const auto seat : seats) seats_.erase(Seat{schedule_id, seat});
}

std::size_t TakenMemory::size() const {
    const std::lock_guard lock(mutex_);
    return seats_.size();
}

void TakenMemory::make_room(std::size_t incoming, Clock::time_point now) {
    if (seats_.size() + incoming <= capacity_) return;
    std::erase_if(seats_, [now](const auto& entry) { return entry.second.until <= now; });
    if (seats_.size() + incoming > capacity_) seats_.clear();
}

}  // namespace marquee::booking
