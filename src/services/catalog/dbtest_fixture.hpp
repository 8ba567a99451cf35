#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "coroutines.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "local_services.hpp"
#include "redis/client.hpp"
#include "services/catalog/rules.hpp"
#include "services/catalog/service.hpp"

namespace marquee::catalog::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// The real local PostgreSQL (migrated) and Redis, and a Service on them. Each test makes its own concerts
/// and schedules, so tests run in parallel and in any order.
class CatalogDbTest : public ::testing::Test {
  protected:
    CatalogDbTest()
        : db_(io_.get_executor(), db::PoolOptions{test::database_url(), 4, 10s, "catalog-dbtest"}),
          redis_(io_.get_executor(), redis::ClientOptions{test::redis_url(), 4, 2s}),
          service_(std::make_unique<Service>(db_, redis_, metrics_)) {}

    void SetUp() override {
        // booking too: a cold availability view is rebuilt from booking.seat_states.
        std::vector<std::string> services{"catalog", "booking"};
        run(db::migrate(db_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
    }

    /// Runs `task` to completion on this thread; exceptions come out of get().
    template <typename T>
    T run(asio::awaitable<T> task) {
        return test::run_here(io_, std::move(task));
    }

    Concert make_concert(const std::string& prefix = "concert") {
        return run(service_->create_concert(NewConcert{test::unique_name(prefix), "Artist", "Venue", ""}));
    }

    Schedule make_schedule(std::int64_t concert_id, int day = 24) {
        NewSchedule s;
        s.starts_at = *parse_rfc3339("2027-12-" + std::to_string(day) + "T19:00:00Z");
        s.booking_opens_at = *parse_rfc3339("2026-01-01T00:00:00Z");
        s.booking_closes_at = *parse_rfc3339("2027-12-" + std::to_string(day) + "T18:00:00Z");
        return run(service_->create_schedule(concert_id, s));
    }

    std::vector<ZoneLayout> layout(int vip_rows, int r_rows, int per_row) {
        return {{"VIP", 150000, "#aa0000", vip_rows, per_row}, {"R", 90000, "#0000aa", r_rows, per_row}};
    }

    std::uint64_t counter(const std::string& name, const std::string& cache) {
        return metrics_.counter(name, "").with({{"cache", cache}}).value();
    }

    asio::io_context io_;
    core::MetricsRegistry metrics_;
    db::Pool db_;
    redis::Client redis_;
    std::unique_ptr<Service> service_;
};

}  // namespace marquee::catalog::testing
