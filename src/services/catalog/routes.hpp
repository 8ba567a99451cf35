#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"

namespace marquee::catalog {

class Service;

/// The catalog's HTTP surface: decode, call the service, encode. Reads are public; /api/v1/admin/* needs
/// the `admin` role.
class Routes {
  public:
    explicit Routes(Service& service) : service_(service) {}
    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> list_concerts(http::Context& ctx);
    boost::asio::awaitable<http::Response> get_concert(http::Context& ctx);
    boost::asio::awaitable<http::Response> list_schedules(http::Context& ctx);
    boost::asio::awaitable<http::Response> list_seats(http::Context& ctx);
    boost::asio::awaitable<http::Response> get_seat_map(http::Context& ctx);
    boost::asio::awaitable<http::Response> get_availability(http::Context& ctx);
    boost::asio::awaitable<http::Response> stream_availability(http::Context& ctx);
    boost::asio::awaitable<http::Response> create_concert(http::Context& ctx);
    boost::asio::awaitable<http::Response> create_schedule(http::Context& ctx);
    boost::asio::awaitable<http::Response> create_seat_map(http::Context& ctx);

    Service& service_;
};

}  // namespace marquee::catalog
