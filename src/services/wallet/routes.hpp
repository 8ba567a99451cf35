#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "services/wallet/service.hpp"

namespace marquee::wallet {

/// HTTP in and out for the wallet: GET /api/v1/wallet, POST /api/v1/wallet/charges,
/// GET /api/v1/wallet/charges/{chargeId}. Every route needs the caller's access token.
class Routes {
  public:
    Routes(Service& service, Store& store) : service_(service), store_(store) {}
    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> wallet(http::Context& ctx);
    boost::asio::awaitable<http::Response> charge(http::Context& ctx);
    boost::asio::awaitable<http::Response> get_charge(http::Context& ctx);

    Service& service_;
    Store& store_;
};

}  // namespace marquee::wallet
