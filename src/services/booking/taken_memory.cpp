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
    if (seats.empty()) return;
    seats_.remember_all(seats, seen_at, KeyOf{schedule_id});
}

std::vector<std::int64_t> TakenMemory::known_taken(std::int64_t schedule_id,
                                                   const std::vector<std::int64_t>& seats,
                                                   Clock::time_point now) {
    std::vector<std::int64_t> out;
    seats_.for_each_fresh(
        seats, now, [&out](std::int64_t seat) { out.push_back(seat); }, KeyOf{schedule_id});
    return out;
}

void TakenMemory::forget(std::int64_t schedule_id, const std::vector<std::int64_t>& seats) {
    seats_.forget_all(seats, KeyOf{schedule_id});
}

}  // namespace marquee::booking
