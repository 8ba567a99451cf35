#include "core/metrics.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace marquee::core {
namespace {

void atomic_add(std::atomic<double>& target, double by) noexcept {
    double current = target.load(std::memory_order_relaxed);
    while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
    }
}

std::string format_labels(const Labels& labels, std::string_view extra_key = {},
                          std::string_view extra = {}) {
    if (labels.empty() && extra_key.empty()) return {};
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ',';
        first = false;
        out += k + "=\"" + escape_label_value(v) + "\"";
    }
    if (!extra_key.empty()) {
        if (!first) out += ',';
        out += std::string(extra_key) + "=\"" + std::string(extra) + "\"";
    }
    out += '}';
    return out;
}

std::string format_number(double v) {
    if (v == static_cast<double>(static_cast<std::int64_t>(v)) && v < 1e15 && v > -1e15) {
        return fmt::format("{}", static_cast<std::int64_t>(v));
    }
    return fmt::format("{}", v);
}

}  // namespace

void Gauge::add(double by) noexcept {
    atomic_add(value_, by);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
        throw std::invalid_argument("histogram bounds unsorted");
    }
    for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    atomic_add(sum_, value);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
    std::vector<std::uint64_t> out(bounds_.size() + 1);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
    return out;
}

std::vector<double> latency_buckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

MetricsRegistry::Entry& MetricsRegistry::entry(const std::string& name, const std::string& help,
                                               const std::string& type) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = entries_.try_emplace(name);
    Entry& e = it->second;
    if (inserted) {
        e.help = help;
        e.type = type;
        if (type == "counter") e.counters = std::make_unique<Family<Counter>>();
        if (type == "gauge") e.gauges = std::make_unique<Family<Gauge>>();
        if (type == "histogram") e.histograms = std::make_unique<Family<Histogram>>();
    } else if (e.type != type) {
        throw std::logic_error("metric " + name + " registered as " + e.type + " and " + type);
    }
    return e;
}

Family<Counter>& MetricsRegistry::counter(const std::string& name, const std::string& help) {
    return *entry(name, help, "counter").counters;
}
Family<Gauge>& MetricsRegistry::gauge(const std::string& name, const std::string& help) {
    return *entry(name, help, "gauge").gauges;
}
Family<Histogram>& MetricsRegistry::histogram(const std::string& name, const std::string& help) {
    return *entry(name, help, "histogram").histograms;
}

void MetricsRegistry::on_scrape(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::render() const {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard lock(mutex_);
        hooks = hooks_;
    }
    for (const auto& hook : hooks) hook();
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, e] : entries_) {
        out.append("# HELP ").append(name).append(" ").append(e.help);
        out.append("\n# TYPE ").append(name).append(" ").append(e.type).append("\n");
        if (e.counters) {
            std::lock_guard family_lock(e.counters->mutex_);
            for (const auto& [labels, c] : e.counters->children_) {
                out += name + format_labels(labels) + " " + std::to_string(c->value()) + "\n";
            }
        }
        if (e.gauges) {
            std::lock_guard family_lock(e.gauges->mutex_);
            for (const auto& [labels, g] : e.gauges->children_) {
                out += name + format_labels(labels) + " " + format_number(g->value()) + "\n";
            }
        }
        if (e.histograms) {
            std::lock_guard family_lock(e.histograms->mutex_);
            for (const auto& [labels, h] : e.histograms->children_) {
                const auto counts = h->bucket_counts();
                std::uint64_t cumulative = 0;
                for (std::size_t i = 0; i < counts.size(); ++i) {
                    cumulative += counts[i];
                    const std::string le =
                        i < h->upper_bounds().size() ? fmt::format("{}", h->upper_bounds()[i]) : "+Inf";
                    out += name + "_bucket" + format_labels(labels, "le", le) + " " +
                           std::to_string(cumulative) + "\n";
                }
                out += name + "_sum" + format_labels(labels) + " " + fmt::format("{}", h->sum()) + "\n";
                out += name + "_count" + format_labels(labels) + " " + std::to_string(cumulative) + "\n";
            }
        }
    }
    return out;
}

}  // namespace marquee::core
