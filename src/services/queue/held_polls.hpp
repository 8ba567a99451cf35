#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace marquee::core {
class Counter;
}

namespace marquee::queue {

struct RoomView;

/// ADR 0049: this process's held polls (GET /api/v1/queue/me?waitMs=), each a WAITING fan waiting for its
/// state to change. A held poll is registered at the fan's place (its score in the waiting set) and woken
/// when a view of the room (the memory's refresh, or this process's own admission step) shows the head past
/// that place (admission took it, FIFO), when the room's view cannot be trusted any more (its epoch marker
/// lost), when the schedule is seen sold out, or when the process stops. Bounded: past `max_held`, hold()
/// refuses (the caller answers at once). Thread-safe: a waiter's timer is only touched on the executor of
/// the coroutine that holds it, which must run one handler at a time (a connection's strand, where every
/// HTTP handler and event stream runs, or a single-threaded loop); the registry's mutex is never held across
/// a co_await.
class HeldPolls {
  public:
    explicit HeldPolls(std::size_t max_held = kDefaultMaxHeld);
    static constexpr std::size_t kDefaultMaxHeld = 20'000;

    struct Waiter;
    /// Registers a held poll of the fan at `place`, to be waited for on `executor` (the caller's own, a
    /// strand); nullptr when `max_held` are held already or the registry
    /// is stopped. A waiter whose place the last view already passed is woken at once.
    std::shared_ptr<Waiter> hold(std::int64_t schedule_id, std::int64_t place,
                                 const boost::asio::any_io_executor& executor);
    /// Waits until woken or `until`, then unregisters: true when woken (a change to look at), false at the
    /// timeout.
    boost::asio::awaitable<bool> wait(std::shared_ptr<Waiter> waiter,
                                      std::chrono::steady_clock::time_point until);

    /// A new view of the room (one the poll memory kept): wakes the held polls whose place it passed, or all
    /// of the schedule's when it has no head or lost its epoch marker; the k-th of n woken answers k/n of the
    /// spread after the first (place order), so one admission step's fans arrive over the step's period.
    void note_view(std::int64_t schedule_id, const RoomView& view);
    /// Wakes every held poll of the schedule (sold out).
    void wake_all(std::int64_t schedule_id);
    /// Wakes every held poll and refuses new ones (the process stops).
    void stop();

    /// The spread of one view's wake-ups (WaitingRoom sets its memory period, the admission tick at most 500
    /// ms).
    void set_spread(std::chrono::milliseconds spread);
    /// Changes the bound (tests; holds already registered stay).
    void set_max_held(std::size_t max_held);

    struct Counts {
        std::size_t held = 0;         ///< registered now
        std::uint64_t woken = 0;      ///< waits that ended woken
        std::uint64_t timed_out = 0;  ///< waits that ended at their timeout
        std::uint64_t refused = 0;    ///< holds refused (over the bound or stopped)
    };
    Counts counts() const;
    /// Prometheus counters for the outcomes (may be null).
    void set_metrics(core::Counter* woken, core::Counter* timed_out, core::Counter* refused);

  private:
    using Places = std::multimap<std::int64_t, std::shared_ptr<Waiter>>;
    struct Room {
        Places waiters;
        bool has_view = false;
        bool has_head = false;
        std::int64_t head = 0;  ///< the last kept view's head: places before it were admitted
    };
    /// Marks the waiter woken, to answer at `at` (the past: at once).
    static void wake(const std::shared_ptr<Waiter>& waiter, std::chrono::steady_clock::time_point at);
    void unregister(const std::shared_ptr<Waiter>& waiter);
    /// Under mutex_: the waiters of `room` before `end`, in place order, taken out of it into `due`.
    void take(Room& room, Places::iterator end, std::vector<std::shared_ptr<Waiter>>& due);

    std::size_t max_held_;
    std::chrono::milliseconds spread_{0};
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, Room> rooms_;
    std::size_t held_ = 0;
    bool stopped_ = false;
    std::atomic<std::uint64_t> woken_{0};
    std::atomic<std::uint64_t> timed_out_{0};
    std::atomic<std::uint64_t> refused_{0};
    core::Counter* woken_metric_ = nullptr;
    core::Counter* timed_out_metric_ = nullptr;
    core::Counter* refused_metric_ = nullptr;
};

}  // namespace marquee::queue
