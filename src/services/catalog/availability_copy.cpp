#include "services/catalog/availability_copy.hpp"

#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "services/catalog/base64.hpp"

namespace marquee::catalog {

namespace asio = boost::asio;
namespace json = boost::json;

std::shared_ptr<const AvailabilitySnapshot> make_snapshot(std::int64_t schedule_id, std::int64_t version,
                                                          std::int32_t seat_count, std::string taken) {
    auto snapshot = std::make_shared<AvailabilitySnapshot>();
    snapshot->schedule_id = schedule_id;
    snapshot->version = version;
    snapshot->seat_count = seat_count;
    snapshot->etag = "\"" + std::to_string(version) + "\"";
    const json::object body{{"scheduleId", schedule_id},
                            {"version", version},
                            {"seatCount", seat_count},
                            {"taken", base64_encode(taken)}};
    snapshot->body = json::serialize(body);
    snapshot->taken = std::move(taken);
    return snapshot;
}

AvailabilityCopy::AvailabilityCopy(AvailabilityCopySettings settings, Load load,
                                   std::function<Clock::time_point()> now)
    : settings_(settings), load_(std::move(load)), now_(std::move(now)) {}

AvailabilityCopy::Snapshot AvailabilityCopy::fresh(std::int64_t schedule_id) {
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(schedule_id);
    if (it == entries_.end()) return nullptr;
    Entry& entry = it->second;
    entry.used_at = now;
    if (!entry.snapshot || entry.read_at <= entry.invalidated || now - entry.read_at >= settings_.max_age) {
        return nullptr;
    }
    return entry.snapshot;
}

asio::awaitable<AvailabilityCopy::Snapshot> AvailabilityCopy::get(std::int64_t schedule_id) {
    if (Snapshot snapshot = fresh(schedule_id)) co_return snapshot;
    const Clock::time_point now = now_();
    Snapshot previous;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        ++loads_;
        if (const auto it = entries_.find(schedule_id); it != entries_.end()) {
            previous = it->second.snapshot;
            generation = it->second.generation;
        }
    }
    if (settings_.max_age.count() <= 0) {
        co_return co_await load(schedule_id, std::move(previous), now);
    }
    // Readers share a read only within one max_age window and one invalidation generation, so a shared
    // read never started more than max_age before its reader, nor before the schedule's last local write.
    const auto window = (now.time_since_epoch() / settings_.max_age);
    std::string key =
        std::to_string(schedule_id) + ":" + std::to_string(window) + ":" + std::to_string(generation);
    db::SingleFlight<Snapshot>::Load run = [this, schedule_id, previous, now] {
        return load(schedule_id, previous, now);
    };
    co_return co_await flights_.run(std::move(key), std::move(run));
}

asio::awaitable<AvailabilityCopy::Snapshot> AvailabilityCopy::load(std::int64_t schedule_id,
                                                                   Snapshot previous,
                                                                   Clock::time_point read_at) {
    Snapshot snapshot = co_await load_(schedule_id, std::move(previous));
    store(schedule_id, snapshot, read_at);
    co_return snapshot;
}

void AvailabilityCopy::store(std::int64_t schedule_id, const Snapshot& snapshot, Clock::time_point read_at) {
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(schedule_id);
    evict_locked(now, it == entries_.end());
    it = entries_.find(schedule_id);
    if (it == entries_.end()) {
        if (settings_.max_schedules == 0) return;
        it = entries_.emplace(schedule_id, Entry{}).first;
    }
    Entry& entry = it->second;
    entry.used_at = now;
    // A slower, older read finishing after a newer one never replaces it.
    if (entry.snapshot && read_at < entry.read_at) return;
    entry.snapshot = snapshot;
    entry.read_at = read_at;
}

void AvailabilityCopy::invalidate(std::int64_t schedule_id) {
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(schedule_id);
    if (it == entries_.end()) {
        // Not held, but a first read may be in flight: remember the write, so that read is not served as
        // fresh. Such entries count against the cap and age out like any other.
        if (settings_.max_schedules == 0) return;
        evict_locked(now, true);
        it = entries_.emplace(schedule_id, Entry{}).first;
        it->second.used_at = now;
    }
    it->second.invalidated = now;
    ++it->second.generation;
}

void AvailabilityCopy::evict_locked(Clock::time_point now, bool adding) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (now - it->second.used_at >= settings_.idle_ttl) {
            it = entries_.erase(it);
            ++evictions_;
        } else {
            ++it;
        }
    }
    const std::size_t room = adding ? 1 : 0;
    while (!entries_.empty() && entries_.size() + room > settings_.max_schedules) {
        auto oldest = entries_.begin();
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->second.used_at < oldest->second.used_at) oldest = it;
        }
        entries_.erase(oldest);
        ++evictions_;
    }
}

std::size_t AvailabilityCopy::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::uint64_t AvailabilityCopy::loads() const {
    std::lock_guard lock(mutex_);
    return loads_;
}

std::uint64_t AvailabilityCopy::evictions() const {
    std::lock_guard lock(mutex_);
    return evictions_;
}

}  // namespace marquee::catalog
