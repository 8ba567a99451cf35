#include "app/queue_token_schedules.hpp"

namespace marquee::app {

std::string QueueTokenSchedules::key(const std::string& user_id, const std::string& token) {
    std::string k;
    k.reserve(user_id.size() + 1 + token.size());
    k.append(user_id).push_back(' ');
    k.append(token);
    return k;
}

void QueueTokenSchedules::remember(const std::string& user_id, const std::string& token,
                                   std::int64_t schedule_id) {
    std::string k = key(user_id, token);
    const std::lock_guard lock(mutex_);
    if (schedules_.size() >= capacity_ && schedules_.find(k) == schedules_.end()) schedules_.clear();
    schedules_[std::move(k)] = schedule_id;
}

std::optional<std::int64_t> QueueTokenSchedules::find(const std::string& user_id,
                                                      const std::string& token) const {
    const std::string k = key(user_id, token);
    const std::lock_guard lock(mutex_);
    const auto it = schedules_.find(k);
    if (it == schedules_.end()) return std::nullopt;
    return it->second;
}

}  // namespace marquee::app
