#include "services/booking/taken_memory.hpp"

namespace marquee::booking {

TakenMemory::TakenMemory(std::chrono::milliseconds bound, std::size_t capacity) : seats_(bound, capacity) {}

std::size_t TakenMemory::SeatHash::operator()(const Seat& s) const noexcept {
    const auto a = static_cast<std::uint64_t>(s.schedule_id);
    const auto b = static_cast<std::uint64_t>(s.seat_id);
    return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ULL) ^ (b + 0x632BE59BD9B4E019ULL + (a << 6)));
}

void TakenMemory::remember(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                           Clock::time_point seen_at) {
    if (!enabled() || seats.empty()) return;
    // The later sighting wins (with its refresh instant); an older answer arriving late shortens nothing.
    seats_.remember_all(seats, seen_at, seen_at + bound() / 2, SeatOf{schedule_id});
}

TakenMemory::Known TakenMemory::lookup(std::int64_t schedule_id, const std::vector<std::int64_t>& seats,
                                       Clock::time_point now, Claim claim) {
    Known out;
    const auto claimed_until = now + bound() / 4;
    seats_.for_each_fresh(
        seats, now,
        [&](std::int64_t seat, Clock::time_point& refresh_at) {
            out.seats.push_back(seat);
            if (now < refresh_at) return;
            out.refresh = true;
            // This caller asks; the others keep being refused until its answer or a quarter of the bound.
            if (claim == Claim::Yes) refresh_at = claimed_until;
        },
        SeatOf{schedule_id});
    return out;
}

std::vector<std::int64_t> TakenMemory::known_taken(std::int64_t schedule_id,
                                                   const std::vector<std::int64_t>& seats,
                                                   Clock::time_point now) {
    return lookup(schedule_id, seats, now, Claim::No).seats;
}

void TakenMemory::forget(std::int64_t schedule_id, const std::vector<std::int64_t>& seats) {
    seats_.forget_all(seats, SeatOf{schedule_id});
}

}  // namespace marquee::booking
