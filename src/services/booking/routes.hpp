#pragma once

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "services/booking/service.hpp"

namespace marquee::booking {

/// HTTP in and out for seat holds: POST /api/v1/reservations, GET /api/v1/reservations,
/// GET /api/v1/reservations/{reservationId}, DELETE /api/v1/reservations/{reservationId}.
/// Every route needs the caller's access token; POST also an ACTIVE `X-Queue-Token` for the schedule.
class Routes {
  public:
    explicit Routes(Service& service) : service_(service) {}
    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> hold(http::Context& ctx);
    /// hold()'s full path: the service's hold (every check, Redis, the database) and its 201.
    boost::asio::awaitable<http::Response> hold_through(std::string user, std::string token,
                                                        HoldRequest request, std::optional<std::string> key);
    boost::asio::awaitable<http::Response> list(http::Context& ctx);
    boost::asio::awaitable<http::Response> get(http::Context& ctx);
    boost::asio::awaitable<http::Response> release(http::Context& ctx);

    Service& service_;
};

/// A reservation as the API shows it.
boost::json::object to_json(const Reservation& r);

}  // namespace marquee::booking
