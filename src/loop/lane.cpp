#include "loop/lane.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/problem.hpp"

namespace marquee::loop {

namespace asio = boost::asio;

namespace {

/// Resumes a waiter on its own executor (never inside the caller, which may hold a lock or be another
/// caller).
template <typename Waiter>
void resume(Waiter waiter) {
    asio::post(waiter.executor, std::move(waiter.resume));
}

}  // namespace

Lane::Pass& Lane::Pass::operator=(Pass&& other) noexcept {
    if (this != &other) {
        if (line_ != nullptr) line_->leave();
        line_ = other.line_;
        other.line_ = nullptr;
    }
    return *this;
}

Lane::Pass::~Pass() {
    if (line_ != nullptr) line_->leave();
}

asio::awaitable<Lane::Pass> Lane::enter() {
    if (concurrency_ == 0) co_return Pass();
    {
        std::lock_guard lock(mutex_);
        if (inside_ < concurrency_ && waiting_.empty()) {
            ++inside_;
            counts_.inside = inside_;
            co_return Pass(this);
        }
        if (waiting_.size() >= max_waiting_) {
            ++counts_.refused;
            throw core::Problem::unavailable(service_, detail_);
        }
    }
    // The place is handed over by leave() (inside_ stays counted for us), or taken here if one came free
    // between the check above and the line.
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [this](auto handler) {
            const asio::any_io_executor executor = asio::get_associated_executor(handler);
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            Waiter waiter{executor, [shared] { std::move (*shared)(); }};
            std::unique_lock lock(mutex_);
            if (inside_ < concurrency_ && waiting_.empty()) {
                ++inside_;
                counts_.inside = inside_;
                lock.unlock();
                resume(std::move(waiter));
                return;
            }
            waiting_.push_back(std::move(waiter));
            ++counts_.waited;
            counts_.most_waiting = std::max(counts_.most_waiting, waiting_.size());
        },
        asio::use_awaitable);
    co_return Pass(this);
}

void Lane::leave() {
    Waiter next;
    {
        std::lock_guard lock(mutex_);
        if (waiting_.empty()) {
            --inside_;
            counts_.inside = inside_;
            return;
        }
        next = std::move(waiting_.front());
        waiting_.pop_front();
    }
    resume(std::move(next));
}

Lane::Stats Lane::stats() const {
    std::lock_guard lock(mutex_);
    Stats out = counts_;
    out.inside = inside_;
    out.waiting = waiting_.size();
    return out;
}

}  // namespace marquee::loop
