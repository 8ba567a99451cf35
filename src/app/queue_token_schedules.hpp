#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace marquee::app {

/// The schedule each queue token passed an ACTIVE check for in this process, by (user id, token): a token
/// belongs to one schedule for good, so the pair never changes meaning. Payment uses it as a hint to check
/// the token before reading the reservation; the check itself still goes to Redis every time, and
/// payment.pay refuses a reservation of another schedule (ADR 0013). Bounded: forgotten all at once when
/// full (a miss costs one read, never a wrong answer). Thread-safe.
class QueueTokenSchedules {
  public:
    explicit QueueTokenSchedules(std::size_t capacity = 100'000) : capacity_(capacity) {}

    void remember(const std::string& user_id, const std::string& token, std::int64_t schedule_id);
    std::optional<std::int64_t> find(const std::string& user_id, const std::string& token) const;

  private:
    static std::string key(const std::string& user_id, const std::string& token);

    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::int64_t> schedules_;
};

}  // namespace marquee::app
