#include "load/stats.hpp"

#include <cstdio>

namespace marquee::load {

namespace {

double ms(std::uint64_t us) {
    return static_cast<double>(us) / 1000.0;
}

std::string format(const char* pattern, double value) {
    char text[64];
    std::snprintf(text, sizeof text, pattern, value);
    return text;
}

}  // namespace

void Recorder::answered(const std::string& endpoint, unsigned status, std::uint64_t latency_us) {
    auto& stats = endpoints_[endpoint];
    stats.latency.record(latency_us);
    ++stats.statuses[status];
}

void Recorder::failed(const std::string& endpoint) {
    ++endpoints_[endpoint].transport_errors;
}

std::uint64_t Recorder::total_answered() const {
    std::uint64_t total = 0;
    for (const auto& [name, stats] : endpoints_) total += stats.answered();
    return total;
}

std::string Recorder::table(double seconds) const {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "%-26s %9s %9s %8s %8s %8s %8s  %s\n", "endpoint", "requests", "req/s",
                  "p50 ms", "p95 ms", "p99 ms", "max ms", "statuses (errors)");
    out += line;
    for (const auto& [name, stats] : endpoints_) {
        const auto& h = stats.latency;
        std::string statuses;
        for (const auto& [status, count] : stats.statuses) {
            statuses += std::to_string(status) + ":" + std::to_string(count) + " ";
        }
        if (stats.transport_errors > 0) statuses += "(errors:" + std::to_string(stats.transport_errors) + ")";
        std::snprintf(line, sizeof line, "%-26s %9llu %9.1f %8.2f %8.2f %8.2f %8.2f  %s\n", name.c_str(),
                      static_cast<unsigned long long>(h.count()),
                      seconds > 0 ? static_cast<double>(h.count()) / seconds : 0.0, ms(h.percentile(50)),
                      ms(h.percentile(95)), ms(h.percentile(99)), ms(h.max()), statuses.c_str());
        out += line;
    }
    return out;
}

boost::json::object Recorder::to_json(double seconds) const {
    boost::json::object out;
    for (const auto& [name, stats] : endpoints_) {
        const auto& h = stats.latency;
        boost::json::object statuses;
        for (const auto& [status, count] : stats.statuses) statuses[std::to_string(status)] = count;
        boost::json::object entry;
        entry["count"] = h.count();
        entry["rps"] =
            std::stod(format("%.1f", seconds > 0 ? static_cast<double>(h.count()) / seconds : 0.0));
        entry["p50_ms"] = ms(h.percentile(50));
        entry["p95_ms"] = ms(h.percentile(95));
        entry["p99_ms"] = ms(h.percentile(99));
        entry["p999_ms"] = ms(h.percentile(99.9));
        entry["max_ms"] = ms(h.max());
        entry["mean_ms"] = std::stod(format("%.3f", h.mean() / 1000.0));
        entry["statuses"] = std::move(statuses);
        entry["errors"] = stats.transport_errors;
        out[name] = std::move(entry);
    }
    return out;
}

}  // namespace marquee::load
