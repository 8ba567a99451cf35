#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "services/auth/service.hpp"

namespace marquee::auth {

/// HTTP in and out for /api/v1/auth/*: decode, call the service, encode.
class Routes {
  public:
    explicit Routes(Service& service) : service_(service) {}

    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> signup(http::Context& ctx);
    boost::asio::awaitable<http::Response> login(http::Context& ctx);
    boost::asio::awaitable<http::Response> refresh(http::Context& ctx);
    boost::asio::awaitable<http::Response> logout(http::Context& ctx);
    boost::asio::awaitable<http::Response> me(http::Context& ctx);

    Service& service_;
};

}  // namespace marquee::auth
