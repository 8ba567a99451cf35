#include "app/ops_routes.hpp"

#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/problem.hpp"
#include "http/response.hpp"

namespace marquee::app {

namespace asio = boost::asio;

OpsRoutes::OpsRoutes(core::MetricsRegistry& metrics, std::vector<ReadinessCheck> checks,
                     std::string openapi_document, std::chrono::milliseconds readiness_deadline)
    : metrics_(metrics),
      checks_(std::move(checks)),
      openapi_(std::move(openapi_document)),
      readiness_deadline_(readiness_deadline) {}

void OpsRoutes::add_to(http::Router& router) {
    router.get("/healthz", [this](http::Context& ctx) { return healthz(ctx); });
    router.get("/readyz", [this](http::Context& ctx) { return readyz(ctx); });
    router.get("/metrics", [this](http::Context& ctx) { return metrics(ctx); });
    router.get("/openapi.yaml", [this](http::Context& ctx) { return openapi(ctx); });
}

// GET /healthz: the process is alive and its event loop answers. Never touches a dependency, so a
// database outage does not make Kubernetes restart healthy pods.
asio::awaitable<http::Response> OpsRoutes::healthz(http::Context&) {
    co_return http::json(boost::json::object{{"status", "ok"}});
}

// GET /readyz: every dependency answers within the readiness deadline, asked concurrently so one slow
// dependency costs the deadline once, not once per check.
asio::awaitable<http::Response> OpsRoutes::readyz(http::Context&) {
    struct State {
        std::mutex mutex;
        std::vector<int> results;  // -1 pending, 0 failed, 1 ok
        std::size_t pending;
        asio::steady_timer done;
        State(const asio::any_io_executor& ex, std::size_t n) : results(n, -1), pending(n), done(ex) {}
    };
    const auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<State>(executor, checks_.size());
    state->done.expires_after(readiness_deadline_);
    for (std::size_t i = 0; i < checks_.size(); ++i) {
        asio::co_spawn(
            executor, checks_[i].check(), [state, i, executor](const std::exception_ptr& e, bool ok) {
                std::lock_guard lock(state->mutex);
                state->results[i] = (!e && ok) ? 1 : 0;
                // Moving the expiry into the past both wakes a waiter and makes a wait that has not begun
                // return at once, so the last result can never be missed.
                if (--state->pending == 0) {
                    asio::post(executor,
                               [state] { state->done.expires_at(asio::steady_timer::time_point::min()); });
                }
            });
    }
    if (!checks_.empty()) {
        co_await state->done.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    boost::json::object checks;
    bool ready = true;
    {
        std::lock_guard lock(state->mutex);
        for (std::size_t i = 0; i < checks_.size(); ++i) {
            const int r = state->results[i];
            checks[checks_[i].name] = r == 1 ? "ok" : (r == 0 ? "failed" : "timeout");
            ready = ready && r == 1;
        }
    }
    if (!ready) {
        throw core::Problem::unavailable("dependencies", "a dependency is not ready")
            .with("checks", std::move(checks));
    }
    co_return http::json(boost::json::object{{"status", "ready"}, {"checks", std::move(checks)}});
}

asio::awaitable<http::Response> OpsRoutes::metrics(http::Context&) {
    co_return http::text(metrics_.render(), std::string(core::MetricsRegistry::kContentType));
}

asio::awaitable<http::Response> OpsRoutes::openapi(http::Context&) {
    co_return http::text(openapi_, "application/yaml");
}

}  // namespace marquee::app
