#include "load/turns.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace marquee::load {

namespace asio = boost::asio;

struct SendTurns::Waiter {
    asio::steady_timer timer;
    bool released = false;
};

SendTurns::SendTurns(asio::any_io_executor executor, std::size_t per_turn)
    : executor_(std::move(executor)), per_turn_(per_turn) {
    if (per_turn_ == 0) throw std::invalid_argument("a turn must let at least one send go");
}

asio::awaitable<void> SendTurns::take() {
    if (waiting_.empty() && used_ < per_turn_) {
        if (used_++ == 0) ++turns_;
        arm();
        co_return;
    }
    ++waits_;
    Waiter waiter{asio::steady_timer(executor_, asio::steady_timer::time_point::max())};
    waiting_.push_back(&waiter);
    most_waiting_ = std::max(most_waiting_, waiting_.size());
    arm();
    while (!waiter.released) {
        co_await waiter.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void SendTurns::arm() {
    if (armed_) return;
    armed_ = true;
    // Posted behind every handler ready now, the reactor's poll among them: the next turn starts only after
    // the answers that arrived meanwhile have been taken.
    asio::post(executor_, [this] { next_turn(); });
}

void SendTurns::next_turn() {
    armed_ = false;
    used_ = 0;
    while (used_ < per_turn_ && !waiting_.empty()) {
        Waiter* next = waiting_.front();
        waiting_.pop_front();
        next->released = true;
        next->timer.cancel();
        ++used_;
    }
    if (used_ > 0) {
        ++turns_;
        arm();  // this turn's count is reset by the next one
    }
}

void BurstClock::answered(time_point sent, time_point at) {
    answers_.push_back(at);
    if (count_++ == 0) {
        first_sent_ = sent;
        last_sent_ = sent;
        first_answer_ = at;
        last_answer_ = at;
        return;
    }
    first_sent_ = std::min(*first_sent_, sent);
    last_sent_ = std::max(last_sent_, sent);
    first_answer_ = std::min(first_answer_, at);
    last_answer_ = std::max(last_answer_, at);
}

boost::json::object BurstClock::to_json() const {
    boost::json::object out{{"answered", count_}};
    if (!first_sent_) return out;
    const auto ms = [](time_point a, time_point b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
    };
    out["sends_ms"] = ms(*first_sent_, last_sent_);
    out["first_answer_ms"] = ms(*first_sent_, first_answer_);
    out["last_answer_ms"] = ms(*first_sent_, last_answer_);
    const double window = ms(*first_sent_, last_answer_);
    out["per_s"] = window > 0 ? static_cast<double>(count_) * 1000.0 / window : 0.0;
    std::vector<time_point> sorted = answers_;
    std::sort(sorted.begin(), sorted.end());
    for (const int percent : {50, 95, 99}) {
        // The nearest rank: the smallest answer time with at least `percent` % of the answers at or before
        // it.
        const std::size_t rank = (sorted.size() * static_cast<std::size_t>(percent) + 99) / 100;
        const time_point at = sorted[std::max<std::size_t>(rank, 1) - 1];
        out["since_first_send_p" + std::to_string(percent) + "_ms"] = ms(*first_sent_, at);
    }
    return out;
}

}  // namespace marquee::load
