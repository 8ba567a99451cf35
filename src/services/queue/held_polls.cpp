#include "services/queue/held_polls.hpp"

#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"
#include "services/queue/poll_memory.hpp"

namespace marquee::queue {

namespace asio = boost::asio;

/// One held poll. `timer` and `woken` are touched only on the holder's executor, which must run one handler
/// at a time (a connection's strand, as every HTTP handler and event stream runs on; or a single-threaded
/// loop): the wait runs there and wake() posts there, so a wake that comes before the wait has started is
/// seen by it. `registered` and `at` are touched only under the registry's mutex.
struct HeldPolls::Waiter {
    explicit Waiter(const asio::any_io_executor& executor) : executor(executor), timer(executor) {}
    asio::any_io_executor executor;
    asio::steady_timer timer;
    bool woken = false;
    std::chrono::steady_clock::time_point wake_at{};  ///< a spread wake: answer at this time (after `woken`)
    std::int64_t schedule_id = 0;
    bool registered = false;
    Places::iterator at;
};

HeldPolls::HeldPolls(std::size_t max_held) : max_held_(max_held) {}

std::shared_ptr<HeldPolls::Waiter> HeldPolls::hold(std::int64_t schedule_id, std::int64_t place,
                                                   const asio::any_io_executor& executor) {
    auto waiter = std::make_shared<Waiter>(executor);
    waiter->schedule_id = schedule_id;
    std::lock_guard lock(mutex_);
    if (stopped_ || held_ >= max_held_) {
        ++refused_;
        if (refused_metric_ != nullptr) refused_metric_->inc();
        return nullptr;
    }
    Room& room = rooms_[schedule_id];
    // A view kept between the caller's look at memory and now already passed the place: no wait (nothing
    // else touches the waiter yet, so the strand rule is kept).
    if (room.has_view && (!room.has_head || room.head > place)) {
        waiter->woken = true;
        return waiter;
    }
    waiter->at = room.waiters.emplace(place, waiter);
    waiter->registered = true;
    ++held_;
    return waiter;
}

void HeldPolls::wake(const std::shared_ptr<Waiter>& waiter, std::chrono::steady_clock::time_point at) {
    asio::post(waiter->executor, [waiter, at] {
        if (!waiter->woken) waiter->wake_at = at;
        waiter->woken = true;
        waiter->timer.cancel();
    });
}

void HeldPolls::unregister(const std::shared_ptr<Waiter>& waiter) {
    std::lock_guard lock(mutex_);
    if (!waiter->registered) return;
    waiter->registered = false;
    const auto room = rooms_.find(waiter->schedule_id);
    if (room == rooms_.end()) return;
    room->second.waiters.erase(waiter->at);
    --held_;
}

asio::awaitable<bool> HeldPolls::wait(std::shared_ptr<Waiter> waiter,
                                      std::chrono::steady_clock::time_point until) {
    // On the holder's executor, where wake() cancels the timer. (No co_spawn onto a strand of its own: its
    // entry point still used the waiter after this frame, resumed inline, had freed it.)
    boost::system::error_code ec;
    if (!waiter->woken) {
        waiter->timer.expires_at(until);
        co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    // A wake spread over the period: its turn (a later wake, a sell-out or a stop, cancels this wait too).
    if (waiter->woken && waiter->wake_at > std::chrono::steady_clock::now()) {
        waiter->timer.expires_at(waiter->wake_at);
        co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    const bool woken = waiter->woken;
    unregister(waiter);
    if (woken) {
        ++woken_;
        if (woken_metric_ != nullptr) woken_metric_->inc();
    } else {
        ++timed_out_;
        if (timed_out_metric_ != nullptr) timed_out_metric_->inc();
    }
    co_return woken;
}

void HeldPolls::take(Room& room, Places::iterator end, std::vector<std::shared_ptr<Waiter>>& due) {
    for (auto w = room.waiters.begin(); w != end;) {
        w->second->registered = false;
        due.push_back(std::move(w->second));
        w = room.waiters.erase(w);
        --held_;
    }
}

void HeldPolls::note_view(std::int64_t schedule_id, const RoomView& view) {
    std::vector<std::shared_ptr<Waiter>> due;
    std::chrono::milliseconds spread{0};
    {
        std::lock_guard lock(mutex_);
        spread = spread_;
        // Kept even before any poll is held, for hold()'s look at the last view (only schedules the poll
        // memory keeps views of come here).
        Room& room = rooms_[schedule_id];
        room.has_view = view.epoch;
        room.has_head = view.has_head;
        room.head = view.head;
        // Admission takes the lowest places first: every place before the head has left the waiting set.
        // A lost epoch (the room is being rebuilt) tells nothing: everyone looks again.
        take(room, !view.epoch || !view.has_head ? room.waiters.end() : room.waiters.lower_bound(view.head),
             due);
    }
    // Spread over the period in place order: the fans one admission step let in arrive at the rate admission
    // meant, not all at once (measured: all at once, the pool shed and the controller shrank the bound).
    const auto now = std::chrono::steady_clock::now();
    const auto n = static_cast<std::int64_t>(due.size());
    for (std::int64_t i = 0; i < n; ++i) {
        wake(due[static_cast<std::size_t>(i)], now + spread * i / n);
    }
}

void HeldPolls::wake_all(std::int64_t schedule_id) {
    std::vector<std::shared_ptr<Waiter>> due;
    {
        std::lock_guard lock(mutex_);
        const auto it = rooms_.find(schedule_id);
        if (it == rooms_.end()) return;
        take(it->second, it->second.waiters.end(), due);
    }
    for (const auto& waiter : due) wake(waiter, {});
}

void HeldPolls::stop() {
    std::vector<std::shared_ptr<Waiter>> due;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        for (auto& [schedule, room] : rooms_) take(room, room.waiters.end(), due);
    }
    for (const auto& waiter : due) wake(waiter, {});
}

void HeldPolls::set_spread(std::chrono::milliseconds spread) {
    std::lock_guard lock(mutex_);
    spread_ = spread;
}

void HeldPolls::set_max_held(std::size_t max_held) {
    std::lock_guard lock(mutex_);
    max_held_ = max_held;
}

HeldPolls::Counts HeldPolls::counts() const {
    Counts out;
    {
        std::lock_guard lock(mutex_);
        out.held = held_;
    }
    out.woken = woken_.load();
    out.timed_out = timed_out_.load();
    out.refused = refused_.load();
    return out;
}

void HeldPolls::set_metrics(core::Counter* woken, core::Counter* timed_out, core::Counter* refused) {
    woken_metric_ = woken;
    timed_out_metric_ = timed_out;
    refused_metric_ = refused;
}

}  // namespace marquee::queue
