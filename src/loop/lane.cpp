#include "loop/lane.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "core/problem.hpp"

namespace marquee::loop {

namespace asio = boost::asio;

/// One waiting caller. Exactly one of leave() (a place: true) and its timer (max_wait passed: false) settles
/// it, whichever first sets `settled`; the caller resumes on its own executor, never inside the one that
/// settled it (which may hold a lock or be another caller).
struct Lane::Ticket {
    explicit Ticket(asio::any_io_executor on) : executor(std::move(on)), timer(executor) {}

    void resume_with(bool granted) {
        asio::post(executor, [handler = std::move(resume), granted]() mutable { handler(granted); });
    }

    asio::any_io_executor executor;  ///< the waiting caller's own
    std::function<void(bool)> resume;
    std::atomic<bool> settled{false};
    asio::steady_timer timer;  ///< max_wait from joining the line; cancelled by the caller once let in
};

namespace {

std::string ms(std::chrono::steady_clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

Lane::Lane(std::size_t concurrency, std::size_t max_waiting, std::string service, std::string detail,
           std::chrono::milliseconds max_wait, Now now)
    : concurrency_(concurrency),
      max_waiting_(max_waiting),
      service_(std::move(service)),
      detail_(std::move(detail)),
      max_wait_(std::max(max_wait, std::chrono::milliseconds{0})),
      now_(now ? std::move(now) : Now([] { return Clock::now(); })) {}

Lane::~Lane() = default;

Lane::Pass& Lane::Pass::operator=(Pass&& other) noexcept {
    if (this != &other) {
        if (line_ != nullptr) line_->leave(since_);
        line_ = other.line_;
        since_ = other.since_;
        other.line_ = nullptr;
    }
    return *this;
}

Lane::Pass::~Pass() {
    if (line_ != nullptr) line_->leave(since_);
}

asio::awaitable<Lane::Pass> Lane::enter() {
    if (concurrency_ == 0) co_return Pass();
    {
        std::lock_guard lock(mutex_);
        if (inside_ < concurrency_ && waiting_.empty()) {
            ++inside_;
            counts_.inside = inside_;
            co_return Pass(this, now_());
        }
        if (waiting_.size() >= max_waiting_) {
            ++counts_.refused;
            throw core::Problem::unavailable(service_, detail_);
        }
        if (max_wait_.count() > 0) {
            const Clock::duration expected = expected_wait_locked();
            if (expected > max_wait_) {
                ++counts_.refused_slow;
                throw core::Problem::unavailable(service_, detail_ + " (the wait in line would be about " +
                                                               ms(expected) + " ms, longer than the " +
                                                               ms(max_wait_) + " ms a caller waits at most)");
            }
        }
    }
    // The place is handed over by leave() (inside_ stays counted for us), or taken here if one came free
    // between the check above and the line; or max_wait passes first and the caller leaves the line.
    std::shared_ptr<Ticket> ticket;
    const bool granted = co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [this, &ticket](auto handler) {
            ticket = std::make_shared<Ticket>(asio::get_associated_executor(handler));
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            ticket->resume = [shared](bool granted) { std::move (*shared)(granted); };
            std::unique_lock lock(mutex_);
            if (inside_ < concurrency_ && waiting_.empty()) {
                ++inside_;
                counts_.inside = inside_;
                ticket->settled = true;
                lock.unlock();
                ticket->resume_with(true);
                return;
            }
            waiting_.push_back(ticket);
            ++counts_.waited;
            counts_.most_waiting = std::max(counts_.most_waiting, waiting_.size());
            if (max_wait_.count() > 0) {
                // Started under the lock, so no leave() can let the caller in before its timer runs.
                ticket->timer.expires_after(max_wait_);
                ticket->timer.async_wait(
                    [this, weak = std::weak_ptr<Ticket>(ticket)](const boost::system::error_code& error) {
                        if (error) return;  // cancelled: the caller was let in
                        const std::shared_ptr<Ticket> waiting = weak.lock();
                        if (waiting == nullptr || waiting->settled.exchange(true)) return;
                        time_out(waiting);  // still in line, so the line is still alive
                    });
            }
        },
        asio::use_awaitable);
    if (!granted) {
        throw core::Problem::unavailable(
            service_, detail_ + " (waited " + ms(max_wait_) + " ms in line, the longest a caller waits)");
    }
    ticket->timer.cancel();
    co_return Pass(this, now_());
}

void Lane::time_out(const std::shared_ptr<Ticket>& ticket) {
    {
        std::lock_guard lock(mutex_);
        const auto at = std::find(waiting_.begin(), waiting_.end(), ticket);
        if (at != waiting_.end()) waiting_.erase(at);
        ++counts_.timed_out;
    }
    ticket->resume_with(false);
}

void Lane::leave(Clock::time_point since) {
    const Clock::duration held = std::max(now_() - since, Clock::duration{0});
    std::shared_ptr<Ticket> next;
    {
        std::lock_guard lock(mutex_);
        Clock::duration& slot = holds_[static_cast<std::size_t>(holds_measured_ % kWindow)];
        holds_sum_ += held - slot;
        slot = held;
        ++holds_measured_;
        // A caller whose max_wait passed is settled already (its timer is taking it out of the line): skip
        // it.
        while (!waiting_.empty()) {
            std::shared_ptr<Ticket> front = std::move(waiting_.front());
            waiting_.pop_front();
            if (!front->settled.exchange(true)) {
                next = std::move(front);
                break;
            }
        }
        if (next == nullptr) {
            --inside_;
            counts_.inside = inside_;
            return;
        }
    }
    next->resume_with(true);
}

Lane::Clock::duration Lane::mean_hold_locked() const {
    const std::uint64_t count = std::min<std::uint64_t>(holds_measured_, kWindow);
    return count == 0 ? Clock::duration{0} : holds_sum_ / static_cast<Clock::duration::rep>(count);
}

Lane::Clock::duration Lane::expected_wait_locked() const {
    if (holds_measured_ < kMinMeasured) return Clock::duration{0};
    // Every place busy (the caller would wait): places come free at concurrency / mean hold, and the caller
    // gets in after the waiting callers ahead of it, plus one.
    return mean_hold_locked() * static_cast<Clock::duration::rep>(waiting_.size() + 1) /
           static_cast<Clock::duration::rep>(concurrency_);
}

Lane::Stats Lane::stats() const {
    std::lock_guard lock(mutex_);
    Stats out = counts_;
    out.inside = inside_;
    out.waiting = waiting_.size();
    out.mean_hold = mean_hold_locked();
    return out;
}

}  // namespace marquee::loop
