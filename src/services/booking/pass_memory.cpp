#include "services/booking/pass_memory.hpp"

#include <algorithm>

namespace marquee::booking {

PassMemory::PassMemory(std::chrono::milliseconds bound, std::size_t capacity)
    : bound_(std::max(bound, std::chrono::milliseconds{0})), capacity_(std::max<std::size_t>(capacity, 1)) {}

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
    const auto until = checked_at + bound_;
    std::string k = key(user_id, schedule_id, queue_token);
    std::lock_guard lock(mutex_);
    if (until_.size() >= capacity_ && !until_.contains(k)) {
        std::erase_if(until_, [checked_at](const auto& entry) { return entry.second <= checked_at; });
        if (until_.size() >= capacity_) until_.clear();
    }
    auto [it, inserted] = until_.try_emplace(std::move(k), until);
    if (!inserted) it->second = std::max(it->second, until);
}

bool PassMemory::fresh(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
                       Clock::time_point now) {
    if (!enabled()) return false;
    const std::string k = key(user_id, schedule_id, queue_token);
    std::lock_guard lock(mutex_);
    const auto it = until_.find(k);
    if (it == until_.end()) return false;
    if (now < it->second) return true;
    until_.erase(it);
    return false;
}

std::size_t PassMemory::size() const {
    std::lock_guard lock(mutex_);
    return until_.size();
}

}  // namespace marquee::booking
