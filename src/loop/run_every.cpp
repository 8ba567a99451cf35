#include "loop/run_every.hpp"

#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace marquee::loop {

namespace asio = boost::asio;

asio::awaitable<void> run_every(const std::atomic<bool>& stopping, Period period, Pass pass,
                                OnFailure on_failure) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopping) {
        const auto started = std::chrono::steady_clock::now();
        try {
            co_await pass();
        } catch (const std::exception& e) {
            on_failure(e);
        }
        timer.expires_at(started + period());
        co_await timer.async_wait(asio::use_awaitable);
    }
}

OnFailure warn(std::string message) {
    return [message = std::move(message)](const std::exception& e) {
        core::log_warn(message, {{"error", e.what()}});
    };
}

}  // namespace marquee::loop
