#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"

namespace marquee::queue {

class Controls;
class Stats;

/// The operator's API of a schedule (issue 17, ADR 0027; api/openapi.yaml, tag admin): controls, their
/// audit, and the queue and sale figures. Admin role only (401 without a token, 403 for a fan); 404 for a
/// schedule catalog does not have.
class AdminRoutes {
  public:
    using ScheduleCheck = std::function<boost::asio::awaitable<bool>(std::int64_t)>;

    AdminRoutes(std::shared_ptr<Controls> controls, std::shared_ptr<Stats> stats,
                ScheduleCheck schedule_exists)
        : controls_(std::move(controls)),
          stats_(std::move(stats)),
          schedule_exists_(std::move(schedule_exists)) {}

    void add_to(http::Router& router);

    /// GET /api/v1/admin/schedules/{id}/controls
    boost::asio::awaitable<http::Response> get_controls(http::Context& ctx);
    /// PATCH /api/v1/admin/schedules/{id}/controls
    boost::asio::awaitable<http::Response> patch_controls(http::Context& ctx);
    /// GET /api/v1/admin/schedules/{id}/audit?limit=
    boost::asio::awaitable<http::Response> get_audit(http::Context& ctx);
    /// GET /api/v1/admin/schedules/{id}/stats
    boost::asio::awaitable<http::Response> get_stats(http::Context& ctx);

  private:
    /// The admin's user id and the schedule id, or the 401/403/404 problem.
    boost::asio::awaitable<std::int64_t> schedule_of(http::Context& ctx);

    std::shared_ptr<Controls> controls_;
    std::shared_ptr<Stats> stats_;
    ScheduleCheck schedule_exists_;
};

}  // namespace marquee::queue
