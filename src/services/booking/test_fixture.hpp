#pragma once
// Test-only: the real local PostgreSQL (catalog and booking migrated) and Redis, a Store and a Service on
// them, and helpers that make a schedule with seats through catalog's tables. Used by booking_dbtest.cpp and
// tests/concurrency/booking_concurrency_test.cpp.

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "coroutines.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "local_services.hpp"
#include "redis/client.hpp"
#include "services/booking/service.hpp"
#include "services/booking/store.hpp"

namespace marquee::booking::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct TestSchedule {
    std::int64_t id = 0;
    std::vector<std::int64_t> seats;  ///< by seat_index
    std::int64_t price = 0;
};

/// The queue check stand-in: a UUID token is ACTIVE (its id is itself); anything else is refused.
inline QueueCheck stub_queue_check() {
    return [](std::string, std::int64_t, std::string token) -> asio::awaitable<std::string> {
        if (token.empty()) throw core::Problem::forbidden("queue-token-required", "no queue token");
        co_return token;
    };
}

class BookingDbTest : public ::testing::Test {
  protected:
    explicit BookingDbTest(int threads = 2, std::size_t pool_size = 8) : threads_count_(threads) {
        pool_size_ = pool_size;
    }

    void SetUp() override {
        core::init_logging(core::LogLevel::Error);
        for (int i = 0; i < threads_count_; ++i) threads_.emplace_back([this] { ioc_.run(); });
        pool_ = std::make_unique<db::Pool>(
            ioc_.get_executor(), db::PoolOptions{test::database_url(), pool_size_, 10s, "booking-dbtest"});
        redis_ = std::make_unique<redis::Client>(ioc_.get_executor(),
                                                 redis::ClientOptions{test::redis_url(), pool_size_, 5000ms});
        std::vector<std::string> services{"catalog", "booking"};
        run(db::migrate(*pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
        store_ = std::make_unique<Store>(*pool_);
        service_ =
            std::make_unique<Service>(*store_, *redis_, stub_queue_check(), metrics_, ServiceOptions{});
    }

    void TearDown() override {
        service_.reset();
        store_.reset();
        redis_.reset();
        pool_.reset();
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }

    template <typename T>
    T run(asio::awaitable<T> work) {
        return test::run_on(ioc_, std::move(work));
    }

    db::Result sql(const std::string& statement, db::Params params = {}) {
        return run(pool_->query(statement, std::move(params)));
    }

    std::string new_uuid() { return sql("SELECT gen_random_uuid()::text").get<std::string>(0, 0); }

    /// A concert with one schedule open for booking and `seats` seats of one zone priced `price`.
    TestSchedule make_schedule(int seats, std::int64_t price = 90000) {
        const auto title = test::unique_name("booking-concert");
        auto r = sql(
            "WITH c AS (INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1, 'Artist', 'Venue') "
            "RETURNING id), s AS (INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, "
            "booking_closes_at, seat_count) SELECT id, now() + interval '30 days', now() - interval '1 day', "
            "now() + interval '29 days', $2 FROM c RETURNING id), z AS (INSERT INTO catalog.zones "
            "(schedule_id, name, price, color) SELECT id, 'R', $3, '#0000aa' FROM s RETURNING id, "
            "schedule_id) INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, "
            "y) "
            "SELECT z.schedule_id, z.id, g, 'A', g + 1, g, 0 FROM z, generate_series(0, $2 - 1) g "
            "RETURNING schedule_id, id, seat_index",
            db::params(title, seats, price));
        TestSchedule out;
        out.price = price;
        out.seats.resize(static_cast<std::size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) {
            out.id = r.get<std::int64_t>(i, "schedule_id");
            out.seats[static_cast<std::size_t>(r.get<std::int64_t>(i, "seat_index"))] =
                r.get<std::int64_t>(i, "id");
        }
        return out;
    }

    HoldRequest request(const TestSchedule& s, std::vector<std::int64_t> seats) {
        std::sort(seats.begin(), seats.end());
        return HoldRequest{s.id, seats};
    }

    Reservation hold(const std::string& user, const TestSchedule& s, std::vector<std::int64_t> seats) {
        return run(service_->hold(user, new_uuid(), request(s, std::move(seats))));
    }

    /// The problem a call threw, or nullopt when it succeeded.
    template <typename F>
    std::optional<core::Problem> problem_of(F&& f) {
        try {
            f();
        } catch (const core::Problem& p) {
            return p;
        }
        return std::nullopt;
    }

    /// Live (HELD or SOLD) seat rows of one seat.
    std::int64_t live_rows(const TestSchedule& s, std::int64_t seat) {
        return sql("SELECT count(*)::bigint FROM booking.reservation_seats WHERE schedule_id = $1 AND "
                   "seat_id = $2 "
                   "AND state IN ('HELD', 'SOLD')",
                   db::params(s.id, seat))
            .get<std::int64_t>(0, 0);
    }

    /// Moves a hold's clock back so it is overdue (as if its 5 minutes had passed).
    void make_overdue(const std::string& reservation_id) {
        sql("UPDATE booking.reservations SET created_at = now() - interval '10 minutes', "
            "expires_at = now() - interval '1 second' WHERE id = $1::uuid",
            db::params(reservation_id));
    }

    std::int64_t outbox_count(const std::string& reservation_id, const std::string& event) {
        return sql("SELECT count(*)::bigint FROM booking.outbox WHERE aggregate_id = $1::uuid AND event_type "
                   "= $2",
                   db::params(reservation_id, event))
            .get<std::int64_t>(0, 0);
    }

    int threads_count_;
    std::size_t pool_size_ = 8;
    asio::io_context ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
    std::vector<std::thread> threads_;
    core::MetricsRegistry metrics_;
    std::unique_ptr<db::Pool> pool_;
    std::unique_ptr<redis::Client> redis_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<Service> service_;
};

}  // namespace marquee::booking::testing
