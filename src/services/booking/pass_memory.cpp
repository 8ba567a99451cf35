#include "services/booking/pass_memory.hpp"

#include <array>
#include <charconv>
#include <utility>

namespace marquee::booking {

PassMemory::PassMemory(std::chrono::milliseconds bound, std::size_t capacity) : passes_(bound, capacity) {}

void PassMemory::key(std::string& out, std::string_view user_id, std::int64_t schedule_id,
                     std::string_view queue_token) {
    // The user id is a UUID and the schedule a number, so '/' cannot occur inside the first two parts.
    std::array<char, 24> schedule{};
    const auto digits = std::to_chars(schedule.data(), schedule.data() + schedule.size(), schedule_id).ptr;
    out.clear();
    out.reserve(user_id.size() + queue_token.size() + schedule.size());
    out.append(user_id).append(1, '/').append(schedule.data(), digits).append(1, '/').append(queue_token);
}

void PassMemory::remember(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
                          Clock::time_point checked_at) {
    if (!enabled()) return;
    std::string k;
    key(k, user_id, schedule_id, queue_token);
    passes_.remember(std::move(k), checked_at);
}

bool PassMemory::fresh(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
                       Clock::time_point now) {
    if (!enabled()) return false;
    // Asked on every hold (ADR 0038): the key is built in this thread's buffer, not allocated per lookup.
    thread_local std::string k;
    key(k, user_id, schedule_id, queue_token);
    return passes_.fresh(k, now);
}

}  // namespace marquee::booking
