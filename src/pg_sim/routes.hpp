#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/router.hpp"
#include "pg_sim/gateway.hpp"

namespace marquee::pg_sim {

/// The simulator's HTTP API, shaped like a real card gateway's:
///   POST /v1/payments                 approve (Idempotency-Key header required)
///   GET  /v1/payments?idempotencyKey= query by the merchant's key (how a caller learns a lost answer)
///   POST /v1/payments/{paymentKey}/cancel   cancel / refund, idempotent
///   GET|PUT /v1/admin/faults          read or change latency and failure rates at run time
///   GET  /v1/admin/stats              counts and amounts, for invariant checks
///   GET  /healthz
class Routes {
  public:
    explicit Routes(Gateway& gateway) : gateway_(gateway) {}
    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> approve(http::Context& ctx);
    boost::asio::awaitable<http::Response> find(http::Context& ctx);
    boost::asio::awaitable<http::Response> cancel(http::Context& ctx);
    boost::asio::awaitable<http::Response> refund(http::Context& ctx);
    boost::asio::awaitable<http::Response> find_refund(http::Context& ctx);
    boost::asio::awaitable<http::Response> get_faults(http::Context& ctx);
    boost::asio::awaitable<http::Response> put_faults(http::Context& ctx);
    boost::asio::awaitable<http::Response> stats(http::Context& ctx);

    Gateway& gateway_;
};

}  // namespace marquee::pg_sim
