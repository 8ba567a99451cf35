#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "services/payment/service.hpp"

namespace marquee::payment {

/// HTTP in and out for payments: POST /api/v1/payments (Idempotency-Key and an ACTIVE X-Queue-Token) and
/// GET /api/v1/payments/{paymentId}. Every route needs the caller's access token.
class Routes {
  public:
    explicit Routes(Service& service) : service_(service) {}
    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> pay(http::Context& ctx);
    boost::asio::awaitable<http::Response> get(http::Context& ctx);

    Service& service_;
};

/// A payment as the API shows it.
boost::json::object to_json(const Payment& p);

}  // namespace marquee::payment
