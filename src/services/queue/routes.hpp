#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"

namespace marquee::queue {

class WaitingRoom;

/// HTTP in and out of the waiting room (api/openapi.yaml, tag queue). Every route needs a JWT (401).
class Routes {
  public:
    /// `room` must outlive the routes and every event stream they start.
    explicit Routes(std::shared_ptr<WaitingRoom> room) : room_(std::move(room)) {}

    void add_to(http::Router& router);

    /// POST /api/v1/schedules/{scheduleId}/queue
    boost::asio::awaitable<http::Response> join(http::Context& ctx);
    /// GET /api/v1/queue/me?scheduleId=
    boost::asio::awaitable<http::Response> me(http::Context& ctx);
    /// GET /api/v1/queue/me/events?scheduleId= (Server-Sent Events)
    boost::asio::awaitable<http::Response> events(http::Context& ctx);

  private:
    std::shared_ptr<WaitingRoom> room_;
};

}  // namespace marquee::queue
