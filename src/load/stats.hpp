#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <boost/json/object.hpp>

#include "load/histogram.hpp"

namespace marquee::load {

/// What one endpoint saw: latencies of the answered requests, answers by status, transport errors.
struct EndpointStats {
    Histogram latency;
    std::map<unsigned, std::uint64_t> statuses;
    std::uint64_t transport_errors = 0;
    std::uint64_t answered() const noexcept { return latency.count(); }
};

/// Per-endpoint statistics of one run, keyed by a short endpoint name ("hold", "availability").
class Recorder {
  public:
    void answered(const std::string& endpoint, unsigned status, std::uint64_t latency_us);
    void failed(const std::string& endpoint);
    const std::map<std::string, EndpointStats>& endpoints() const noexcept { return endpoints_; }
    std::uint64_t total_answered() const;

    /// A fixed-width table: requests, requests/s, p50/p95/p99/max ms, statuses.
    std::string table(double seconds) const;
    /// {"<endpoint>": {count, rps, p50_ms, p95_ms, p99_ms, p999_ms, max_ms, mean_ms, statuses, errors}}
    boost::json::object to_json(double seconds) const;

  private:
    std::map<std::string, EndpointStats> endpoints_;
};

}  // namespace marquee::load
