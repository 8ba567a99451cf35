#include "payment_gateway/recovery_loop.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/trace_context.hpp"

namespace marquee::payment_gateway {

namespace asio = boost::asio;

asio::awaitable<void> run_recovery_passes(std::string job, std::chrono::milliseconds period,
                                          std::function<bool()> stopped,
                                          std::function<asio::awaitable<void>()> pass) {
    std::string failed = job + " pass failed";
    std::replace(failed.begin(), failed.end(), '-', ' ');
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopped()) {
        timer.expires_after(period);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || stopped()) co_return;
        const auto context = core::make_log_context(core::TraceContext::start(), {{"job", job}});
        const auto traced = core::with_log_context(timer.get_executor(), context);
        try {
            co_await asio::co_spawn(traced, pass(), asio::use_awaitable);
        } catch (const std::exception& e) {
            const core::LogContextScope scope(context);
            core::log_warn(failed, {{"error", e.what()}});
        }
    }
}

}  // namespace marquee::payment_gateway
