#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/expiring_set.hpp"

namespace marquee::booking {

/// Queue passes this process checked ACTIVE a moment ago, per (fan, schedule, X-Queue-Token), so that a hold
/// TakenMemory already refuses can be answered 409 `seat-taken` without the queue check's Redis round trip
/// (ADR 0038 amends ADR 0015, point 3). It only ever chooses which refusal a fan gets: a hold that is not
/// refused from TakenMemory runs the queue check as before, and nothing is granted on a remembered pass.
///
/// Staleness: a pass is remembered from the end of a check that found it ACTIVE for at most `bound`. So a
/// pass that became USED or EXPIRED (or was revoked) less than `bound` ago may get 409 for a seat known taken
/// where a fresh check would answer 403/410, and the pass's idle expiry slides at most once per `bound` while
/// its fan only meets taken seats. At most `capacity` passes; when full, the expired ones go, and if that is
/// not enough, all of them (forgetting only costs a queue check): a core::ExpiringSet. Thread-safe.
class PassMemory {
  public:
    using Clock = std::chrono::steady_clock;

    /// bound 0: off (nothing is remembered, nothing is fresh).
    explicit PassMemory(std::chrono::milliseconds bound, std::size_t capacity = 65'536);

    bool enabled() const noexcept { return passes_.enabled(); }

    /// The queue check found `queue_token` ACTIVE for `user_id` on `schedule_id` at `checked_at`.
    void remember(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
                  Clock::time_point checked_at);
    /// Whether that pass was found ACTIVE less than `bound` before `now`.
    bool fresh(std::string_view user_id, std::int64_t schedule_id, std::string_view queue_token,
               Clock::time_point now);

    std::size_t size() const { return passes_.size(); }

  private:
    /// Writes the key of a pass into `out` (its old contents go; its storage is kept).
    static void key(std::string& out, std::string_view user_id, std::int64_t schedule_id,
                    std::string_view queue_token);

    core::ExpiringSet<std::string> passes_;
};

}  // namespace marquee::booking
