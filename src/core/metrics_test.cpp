#include "core/metrics.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace marquee::core {
namespace {

TEST(Metrics, CounterRendersWithLabels) {
    MetricsRegistry registry;
    auto& requests = registry.counter("http_requests_total", "Requests served");
    requests.with({{"route", "/healthz"}, {"status", "200"}}).inc();
    requests.with({{"route", "/healthz"}, {"status", "200"}}).inc(2);
    const auto text = registry.render();
    EXPECT_NE(text.find("# TYPE http_requests_total counter"), std::string::npos);
    EXPECT_NE(text.find("http_requests_total{route=\"/healthz\",status=\"200\"} 3\n"), std::string::npos);
}

TEST(Metrics, ARemovedChildIsNoLongerRendered) {
    MetricsRegistry registry;
    auto& waiting = registry.gauge("queue_schedule_waiting", "WAITING tokens of a live schedule");
    waiting.with({{"schedule", "1"}}).set(4);
    waiting.with({{"schedule", "2"}}).set(7);
    EXPECT_TRUE(waiting.remove({{"schedule", "1"}}));
    EXPECT_FALSE(waiting.remove({{"schedule", "1"}}));
    const auto text = registry.render();
    EXPECT_EQ(text.find("queue_schedule_waiting{schedule=\"1\"}"), std::string::npos);
    EXPECT_NE(text.find("queue_schedule_waiting{schedule=\"2\"} 7\n"), std::string::npos);
}

TEST(Metrics, CounterAdvancesToAHigherTotalButNeverBack) {
    Counter counter;
    counter.advance_to(5);
    EXPECT_EQ(counter.value(), 5u);
    counter.advance_to(3);  // a scrape that read an older total
    EXPECT_EQ(counter.value(), 5u);
    counter.inc();
    counter.advance_to(9);
    EXPECT_EQ(counter.value(), 9u);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    MetricsRegistry registry;
    auto& h = registry.histogram("latency_seconds", "Latency").with({}, std::vector<double>{0.1, 1});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    const auto text = registry.render();
    EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos);
    EXPECT_DOUBLE_EQ(h.sum(), 5.55);
}

TEST(Metrics, ObservationOnABoundFallsInThatBucket) {
    Histogram h({0.1, 1});
    h.observe(0.1);
    EXPECT_EQ(h.bucket_counts(), (std::vector<std::uint64_t>{1, 0, 0}));
}

TEST(Metrics, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Metrics, SameNameWithOtherTypeIsRejected) {
    MetricsRegistry registry;
    registry.counter("x", "x");
    EXPECT_THROW(registry.gauge("x", "x"), std::logic_error);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
    MetricsRegistry registry;
    auto& family = registry.counter("hits_total", "hits");
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) family.with({{"k", "v"}}).inc();
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(family.with({{"k", "v"}}).value(), 40000u);
}

TEST(Metrics, ScrapeHooksRunBeforeRender) {
    MetricsRegistry registry;
    auto& gauge = registry.gauge("pool_in_use", "in use").with({});
    int calls = 0;
    registry.on_scrape([&] { gauge.set(++calls * 2); });
    EXPECT_NE(registry.render().find("pool_in_use 2\n"), std::string::npos);
    EXPECT_NE(registry.render().find("pool_in_use 4\n"), std::string::npos);
}

}  // namespace
}  // namespace marquee::core
