#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/metrics.hpp"
#include "http/router.hpp"

namespace marquee::app {

/// One dependency /readyz asks: answers true when it is usable. Must not throw; has its own deadline.
struct ReadinessCheck {
    std::string name;
    std::function<boost::asio::awaitable<bool>()> check;
};

/// The operational endpoints every Marquee process serves, whatever its --service:
/// GET /healthz (alive), GET /readyz (dependencies answer), GET /metrics (Prometheus), GET /openapi.yaml.
class OpsRoutes {
  public:
    OpsRoutes(core::MetricsRegistry& metrics, std::vector<ReadinessCheck> checks,
              std::string openapi_document,
              std::chrono::milliseconds readiness_deadline = std::chrono::milliseconds(2000));
    void add_to(http::Router& router);

  private:
    boost::asio::awaitable<http::Response> healthz(http::Context& ctx);
    boost::asio::awaitable<http::Response> readyz(http::Context& ctx);
    boost::asio::awaitable<http::Response> metrics(http::Context& ctx);
    boost::asio::awaitable<http::Response> openapi(http::Context& ctx);

    core::MetricsRegistry& metrics_;
    std::vector<ReadinessCheck> checks_;
    std::string openapi_;
    std::chrono::milliseconds readiness_deadline_;
};

}  // namespace marquee::app
