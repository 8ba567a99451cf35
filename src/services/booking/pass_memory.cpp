#include "services/booking/pass_memory.hpp"

namespace marquee::booking {

PassMemory::PassMemory(std::chrono::milliseconds bound, std::size_t capacity) : passes_(bound, capacity) {}

std::string PassMemory::key(std::string_view user_id, std::int64_t schedule_id,
                            std::string_view queue_token) {
    // The user id is a UUID and the schedule a number, so '/' cannot occur inside the first two parts.
    std::string k;
    k.reserve(user_id.size() + queue_token.size() + 24);
    k.append(user_id).append(1, '/').append(std::to_string(schedule_id)).append(1, '/').append(queue_token);
    return k;
}

void PassMemory::remember(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
                          Clock::time_point checked_at) {
    if (!enabled()) return;
    passes_.remember(key(user_id, schedule_id, queue_token), checked_at);
}

bool PassMemory::fresh(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
                       Clock::time_point now) {
    if (!enabled()) return false;
    return passes_.fresh(key(user_id, schedule_id, queue_token), now);
}

}  // namespace marquee::booking
