#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace marquee::queue {

/// ADR 0039: what this process remembers of a WAITING fan, from the last script that read the fan's token
/// (a join or a poll that went to Redis).
struct FanMemory {
    std::string token;
    std::int64_t place = 0;         ///< the token's score in the waiting set (its arrival number or place)
    std::int64_t rank = 0;          ///< its 1-based position when the script ran
    std::int64_t admitted = 0;      ///< the schedule's admitted counter when the script ran
    std::int64_t confirmed_ms = 0;  ///< steady-clock ms when the script's answer came back
    std::int64_t seen_ms = 0;       ///< epoch ms of the last-seen time Redis holds for the token
    std::int64_t polled_ms = 0;     ///< epoch ms of the fan's last poll (answered from memory or not)
};

/// ADR 0039: one schedule's waiting room as one read (once per period, or right after this process's own
/// admission step) saw it.
struct RoomView {
    bool has_head = false;      ///< the waiting set had a token
    std::int64_t head = 0;      ///< the lowest score in the waiting set (the next fan to be admitted)
    std::int64_t admitted = 0;  ///< the admitted counter (tokens admission took from the waiting set, ever)
    std::int64_t pre = 0;       ///< tokens in the pre-queue (an opening may put places ahead of anyone)
    bool epoch = true;          ///< the schedule's epoch marker was there (ADR 0022)
    std::int64_t read_ms = 0;   ///< steady-clock ms when the read was SENT (it saw Redis at or after this)
};

/// The bounds of a memory answer.
struct MemoryLimits {
    std::int64_t max_view_age_ms = 1'500;  ///< a view older than this decides nothing (the refresh stalled)
    /// A fan not confirmed by a script for this long goes to the script again (bounds any drift of the
    /// position, e.g. from idle tokens ahead that expired).
    std::int64_t max_fan_age_ms = 900'000;
};

/// The decision (pure): the fan's position if memory can tell that the fan is still WAITING, else nullopt
/// (the caller asks Redis). Memory never says anything but WAITING; a fan who may have been admitted, or
/// ended, or whose room memory cannot see clearly, is undecided.
///  - no view, a view older than max_view_age_ms, a lost epoch or a pre-queue being opened: undecided;
///  - a fan confirmed more than max_fan_age_ms ago: undecided;
///  - a view sent before the fan's confirmation came back: the confirmed position (the script's answer is at
///    least as new as the view);
///  - else the fan is still in the waiting set only if the head is at or before its place (admission takes
///    the lowest places first, FIFO): its position is the confirmed one less what admission took since.
std::optional<std::int64_t> decide_position(const FanMemory& fan, const std::optional<RoomView>& view,
                                            std::int64_t now_steady_ms, const MemoryLimits& limits);

/// ADR 0039: this process's memory of WAITING fans and of each schedule's room, for answering a WAITING
/// fan's poll without a Redis script. Bounded (`max_fans`; past it new fans are not remembered and go to
/// Redis as before). Thread-safe.
class PollMemory {
  public:
    explicit PollMemory(MemoryLimits limits = {}, std::size_t max_fans = 1'000'000);

    const MemoryLimits& limits() const noexcept { return limits_; }

    /// The fan's WAITING status from memory: {token, position}, nullopt when undecided. Notes the poll
    /// (`now_epoch_ms`) for the last-seen flush.
    struct Answer {
        std::string token;
        std::int64_t position = 0;
    };
    std::optional<Answer> answer(std::int64_t schedule_id, const std::string& user_id,
                                 std::int64_t now_steady_ms, std::int64_t now_epoch_ms);

    /// A script said the fan is WAITING (remember) or anything else (forget).
    void remember(std::int64_t schedule_id, const std::string& user_id, FanMemory fan);
    void forget(std::int64_t schedule_id, const std::string& user_id);
    /// A new view of the schedule's room (kept only if newer than the one held): true when kept.
    bool note_view(std::int64_t schedule_id, const RoomView& view);
    /// ADR 0049: the remembered fan's place (its score in the waiting set), nullopt when not remembered.
    std::optional<std::int64_t> place(std::int64_t schedule_id, const std::string& user_id) const;
    std::optional<RoomView> view(std::int64_t schedule_id) const;

    /// The schedules with remembered fans; schedules nobody polled through memory for `idle_ms` are
    /// dropped first, with their fans.
    std::vector<std::int64_t> schedules(std::int64_t now_steady_ms, std::int64_t idle_ms);

    /// The waiting tokens whose last poll Redis does not know yet and whose known last-seen time is at
    /// least `after_ms` old: {token, last poll epoch ms}. They are marked as flushed (the caller writes them
    /// with ZADD XX GT, so a lost write only makes a later flush come sooner).
    std::vector<std::pair<std::string, std::int64_t>> due_seen(std::int64_t schedule_id,
                                                               std::int64_t now_epoch_ms,
                                                               std::int64_t after_ms);

    std::size_t fans() const;

  private:
    struct Room {
        std::optional<RoomView> view;
        std::unordered_map<std::string, FanMemory> fans;
        std::int64_t used_ms = 0;  ///< steady ms of the last poll or remember
    };
    MemoryLimits limits_;
    std::size_t max_fans_;
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, Room> rooms_;
    std::size_t fans_ = 0;
};

}  // namespace marquee::queue
