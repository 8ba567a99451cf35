#include "services/queue/poll_memory.hpp"

#include <algorithm>
#include <utility>

namespace marquee::queue {

std::optional<std::int64_t> decide_position(const FanMemory& fan, const std::optional<RoomView>& view,
                                            std::int64_t now_steady_ms, const MemoryLimits& limits) {
    if (!view || fan.place <= 0 || fan.rank <= 0) return std::nullopt;
    if (now_steady_ms - view->read_ms > limits.max_view_age_ms) return std::nullopt;
    if (!view->epoch || view->pre > 0) return std::nullopt;
    if (now_steady_ms - fan.confirmed_ms > limits.max_fan_age_ms) return std::nullopt;
    // Sent strictly before the script's answer came back: the script's answer is the newer. A view sent in
    // the same millisecond is taken as the newer one, which is safe either way: an older view has a head and
    // a counter no further than the fan's confirmation, so it yields the confirmed position or nothing.
    if (view->read_ms < fan.confirmed_ms) return fan.rank;
    // The view saw Redis after the script did: the fan is still waiting only if it is still in the set.
    if (!view->has_head || view->head > fan.place) return std::nullopt;
    if (view->admitted < fan.admitted) return std::nullopt;  // the counter was lost (Redis restarted)
    const std::int64_t position = fan.rank - (view->admitted - fan.admitted);
    if (position < 1) return std::nullopt;
    return position;
}

PollMemory::PollMemory(MemoryLimits limits, std::size_t max_fans) : limits_(limits), max_fans_(max_fans) {}

std::optional<PollMemory::Answer> PollMemory::answer(std::int64_t schedule_id, const std::string& user_id,
                                                     std::int64_t now_steady_ms, std::int64_t now_epoch_ms) {
    std::lock_guard lock(mutex_);
    const auto room = rooms_.find(schedule_id);
    if (room == rooms_.end()) return std::nullopt;
    const auto fan = room->second.fans.find(user_id);
    if (fan == room->second.fans.end()) return std::nullopt;
    const std::optional<std::int64_t> position =
        decide_position(fan->second, room->second.view, now_steady_ms, limits_);
    if (!position) return std::nullopt;
    fan->second.polled_ms = std::max(fan->second.polled_ms, now_epoch_ms);
    room->second.used_ms = now_steady_ms;
    return Answer{fan->second.token, *position};
}

void PollMemory::remember(std::int64_t schedule_id, const std::string& user_id, FanMemory fan) {
    std::lock_guard lock(mutex_);
    Room& room = rooms_[schedule_id];
    room.used_ms = std::max(room.used_ms, fan.confirmed_ms);
    const auto it = room.fans.find(user_id);
    if (it != room.fans.end()) {
        // Never move the flushed last-seen back (a slower script's answer may come after a flush).
        fan.seen_ms = std::max(fan.seen_ms, it->second.seen_ms);
        fan.polled_ms = std::max(fan.polled_ms, it->second.polled_ms);
        it->second = std::move(fan);
        return;
    }
    if (fans_ >= max_fans_) return;
    room.fans.emplace(user_id, std::move(fan));
    ++fans_;
}

void PollMemory::forget(std::int64_t schedule_id, const std::string& user_id) {
    std::lock_guard lock(mutex_);
    const auto room = rooms_.find(schedule_id);
    if (room == rooms_.end()) return;
    fans_ -= room->second.fans.erase(user_id);
}

bool PollMemory::note_view(std::int64_t schedule_id, const RoomView& view) {
    std::lock_guard lock(mutex_);
    const auto room = rooms_.find(schedule_id);
    // Only schedules that have remembered fans keep a view (an admission step of a schedule nobody polls
    // through this process's memory adds nothing).
    if (room == rooms_.end()) return false;
    if (room->second.view && room->second.view->read_ms > view.read_ms) return false;
    room->second.view = view;
    return true;
}

std::optional<std::int64_t> PollMemory::place(std::int64_t schedule_id, const std::string& user_id) const {
    std::lock_guard lock(mutex_);
    const auto room = rooms_.find(schedule_id);
    if (room == rooms_.end()) return std::nullopt;
    const auto fan = room->second.fans.find(user_id);
    if (fan == room->second.fans.end() || fan->second.place <= 0) return std::nullopt;
    return fan->second.place;
}

std::optional<RoomView> PollMemory::view(std::int64_t schedule_id) const {
    std::lock_guard lock(mutex_);
    const auto room = rooms_.find(schedule_id);
    if (room == rooms_.end()) return std::nullopt;
    return room->second.view;
}

std::vector<std::int64_t> PollMemory::schedules(std::int64_t now_steady_ms, std::int64_t idle_ms) {
    std::lock_guard lock(mutex_);
    std::vector<std::int64_t> out;
    for (auto it = rooms_.begin(); it != rooms_.end();) {
        if (now_steady_ms - it->second.used_ms > idle_ms) {
            fans_ -= it->second.fans.size();
            it = rooms_.erase(it);
            continue;
        }
        if (!it->second.fans.empty()) out.push_back(it->first);
        ++it;
    }
    return out;
}

std::vector<std::pair<std::string, std::int64_t>> PollMemory::due_seen(std::int64_t schedule_id,
                                                                       std::int64_t now_epoch_ms,
                                                                       std::int64_t after_ms) {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::int64_t>> out;
    const auto room = rooms_.find(schedule_id);
    if (room == rooms_.end()) return out;
    for (auto& [user, fan] : room->second.fans) {
        if (fan.polled_ms > fan.seen_ms && now_epoch_ms - fan.seen_ms >= after_ms) {
            out.emplace_back(fan.token, fan.polled_ms);
            fan.seen_ms = fan.polled_ms;
        }
    }
    return out;
}

std::size_t PollMemory::fans() const {
    std::lock_guard lock(mutex_);
    return fans_;
}

}  // namespace marquee::queue
