#include "services/queue/admin_routes.hpp"

#include <charconv>
#include <string>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/problem.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/stats.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr int kAuditDefault = 100;
constexpr int kAuditMax = 1000;

int audit_limit(const http::Context& ctx) {
    const std::optional<std::string> text = ctx.query("limit");
    if (!text) return kAuditDefault;
    int limit = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc{} || end != text->data() + text->size() || limit < 1 || limit > kAuditMax) {
        throw core::Problem::invalid_field("limit", "limit must be an integer from 1 to 1000");
    }
    return limit;
}

}  // namespace

void AdminRoutes::add_to(http::Router& router) {
    router.get("/api/v1/admin/schedules/{id}/controls",
               [this](http::Context& ctx) { return get_controls(ctx); });
    router.patch("/api/v1/admin/schedules/{id}/controls",
                 [this](http::Context& ctx) { return patch_controls(ctx); });
    router.get("/api/v1/admin/schedules/{id}/audit", [this](http::Context& ctx) { return get_audit(ctx); });
    router.get("/api/v1/admin/schedules/{id}/stats", [this](http::Context& ctx) { return get_stats(ctx); });
}

asio::awaitable<std::int64_t> AdminRoutes::schedule_of(http::Context& ctx) {
    ctx.require_role("admin");
    const std::int64_t schedule_id = ctx.id_param("id");
    if (schedule_exists_ && !(co_await schedule_exists_(schedule_id))) {
        throw core::Problem::not_found("no such schedule");
    }
    co_return schedule_id;
}

asio::awaitable<http::Response> AdminRoutes::get_controls(http::Context& ctx) {
    const std::int64_t schedule_id = co_await schedule_of(ctx);
    const ScheduleControls controls = co_await controls_->read(schedule_id);
    co_return http::json(to_json(controls));
}

asio::awaitable<http::Response> AdminRoutes::patch_controls(http::Context& ctx) {
    const std::int64_t schedule_id = co_await schedule_of(ctx);
    ControlsPatch patch = parse_controls_patch(ctx.json_object());
    const ScheduleControls controls = co_await controls_->change(schedule_id, ctx.user().user_id, patch);
    co_return http::json(to_json(controls));
}

asio::awaitable<http::Response> AdminRoutes::get_audit(http::Context& ctx) {
    const std::int64_t schedule_id = co_await schedule_of(ctx);
    const int limit = audit_limit(ctx);
    const std::vector<ControlAudit> rows = co_await controls_->audit(schedule_id, limit);
    json::array items;
    for (const ControlAudit& row : rows) {
        items.push_back(json::object{{"at", row.at},
                                     {"actor", row.actor},
                                     {"field", row.field},
                                     {"before", row.before},
                                     {"after", row.after}});
    }
    co_return http::json(json::object{{"items", std::move(items)}});
}

asio::awaitable<http::Response> AdminRoutes::get_stats(http::Context& ctx) {
    const std::int64_t schedule_id = co_await schedule_of(ctx);
    const ScheduleStats stats = co_await stats_->read(schedule_id);
    co_return http::json(to_json(stats));
}

}  // namespace marquee::queue
