#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace marquee::core {

/// A monotonically increasing count. Lock-free to update.
class Counter {
  public:
    void inc(std::uint64_t by = 1) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }
    /// Raises the count to `total` if it is lower: for a count kept elsewhere and copied in when scraped
    /// (scrapes may race; the count never goes back).
    void advance_to(std::uint64_t total) noexcept {
        std::uint64_t current = value_.load(std::memory_order_relaxed);
        while (current < total && !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
        }
    }

  private:
    std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (pool in use, queue length).
class Gauge {
  public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(double by) noexcept;
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0};
};

/// Cumulative-bucket histogram in the Prometheus sense; observations in seconds (or any unit).
class Histogram {
  public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value) noexcept;
    const std::vector<double>& upper_bounds() const noexcept { return bounds_; }
    /// Per-bucket (non-cumulative) counts; the last is +Inf.
    std::vector<std::uint64_t> bucket_counts() const;
    std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
    double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

/// Default latency buckets in seconds: 0.5 ms .. 10 s.
std::vector<double> latency_buckets();

using Labels = std::vector<std::pair<std::string, std::string>>;

/// A metric name with one child per label set. Children stay until remove(), so references stay valid.
template <typename Metric>
class Family {
  public:
    template <typename... Args>
    Metric& with(const Labels& labels, Args&&... args);
    /// Drops the child with these labels (a reference to it from with() becomes invalid): for label sets that
    /// end, such as a schedule's after its sale (ADR 0027). False if there was none.
    bool remove(const Labels& labels) {
        std::lock_guard lock(mutex_);
        return children_.erase(labels) > 0;
    }

  private:
    friend class MetricsRegistry;
    std::mutex mutex_;
    std::map<Labels, std::unique_ptr<Metric>> children_;
};

/// Holds every metric of the process and renders the Prometheus text exposition format 0.0.4.
class MetricsRegistry {
  public:
    Family<Counter>& counter(const std::string& name, const std::string& help);
    Family<Gauge>& gauge(const std::string& name, const std::string& help);
    Family<Histogram>& histogram(const std::string& name, const std::string& help);
    /// Runs before every render(): how pool sizes and queue lengths become gauges at scrape time.
    void on_scrape(std::function<void()> hook);
    std::string render() const;

    static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  private:
    struct Entry {
        std::string help;
        std::string type;
        std::unique_ptr<Family<Counter>> counters;
        std::unique_ptr<Family<Gauge>> gauges;
        std::unique_ptr<Family<Histogram>> histograms;
    };
    Entry& entry(const std::string& name, const std::string& help, const std::string& type);

    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    std::vector<std::function<void()>> hooks_;
};

/// Escapes a label value per the exposition format (backslash, quote, newline).
std::string escape_label_value(std::string_view value);

template <typename Metric>
template <typename... Args>
Metric& Family<Metric>::with(const Labels& labels, Args&&... args) {
    std::lock_guard lock(mutex_);
    auto it = children_.find(labels);
    if (it == children_.end()) {
        it = children_.emplace(labels, std::make_unique<Metric>(std::forward<Args>(args)...)).first;
    }
    return *it->second;
}

}  // namespace marquee::core
