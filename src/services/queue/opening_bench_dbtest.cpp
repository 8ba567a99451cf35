// ADR 0033, a measurement rather than a test (disabled; it asserts only that admission starts): the time from
// the first scheduler tick after a big opening to the first admission, and to the end of the opening.
// Run by hand, with the local services up:
//   MARQUEE_OPENING_BENCH_FANS=50000 build/src/services/queue/marquee_queue_dbtests
//     --gtest_also_run_disabled_tests --gtest_filter='*OpeningBench*'   (one line)
// docs/performance.md "Issue 17: admission during a big opening" has the figures and their ceiling.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "services/queue/fixture_dbtest.hpp"
#include "services/queue/opening.hpp"
#include "services/queue/scheduler.hpp"
#include "services/queue/store.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

using namespace std::chrono_literals;
using testing::test_settings;
using testing::unique_user;

class QueueOpeningBench : public testing::QueueDbTest {};

TEST_F(QueueOpeningBench, DISABLED_TimeToTheFirstAdmissionOfABigOpening) {
    const char* env = std::getenv("MARQUEE_OPENING_BENCH_FANS");
    const int fans = env != nullptr ? std::atoi(env) : 10'000;
    Settings settings = test_settings(/*max_active=*/1000, /*burst=*/50);
    auto room = std::make_shared<WaitingRoom>(redis_, settings);
    auto store = std::make_shared<Store>(db_);
    const auto schedule = catalog_schedule(/*opened_minutes_ago=*/1);  // fans join as if it opened later
    const std::int64_t in_an_hour = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        (std::chrono::system_clock::now() + 1h).time_since_epoch())
                                        .count();
    run([&]() -> asio::awaitable<void> {
        for (int i = 0; i < fans; ++i) {
            co_await room->join(unique_user(), schedule, in_an_hour);
        }
    }());

    // The production wiring: the scheduler starts the opening at its tick (its catalog opening has passed:
    // due now) and ticks on, every 50 ms here, while it runs. First, as in production where fans pre-queue
    // over the hour before the opening, the audit writer copies the PRE_QUEUE rows to PostgreSQL (ticks
    // without an opener).
    auto scheduler = std::make_shared<Scheduler>(room, store, nullptr);
    run([&]() -> asio::awaitable<void> {
        while ((co_await scheduler->tick()).audited > 0) {
        }
    }());
    scheduler->set_opener(std::make_shared<Opener>(redis_, db_, store, "the opening bench's secret"));
    double first_ms = -1;
    double opened_ms = -1;
    std::int64_t admitted = 0;
    run([&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        const auto started = std::chrono::steady_clock::now();
        const auto ms = [&] {
            return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        };
        while (ms() < 120'000) {
            const TickReport report = co_await scheduler->tick();
            admitted += report.admitted;
            if (report.admitted > 0 && first_ms < 0) first_ms = ms();
            const AdmitStep step = co_await room->admit(schedule);  // a look: what is still pre-queued
            admitted += step.admitted;
            if (step.admitted > 0 && first_ms < 0) first_ms = ms();
            if (step.pre_queued == 0 && opened_ms < 0) opened_ms = ms();
            if (first_ms >= 0 && opened_ms >= 0) {
                timer.expires_after(1s);  // the opening's last lines, before the io_context goes
                co_await timer.async_wait(asio::use_awaitable);
                break;
            }
            timer.expires_after(50ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }());
    std::printf(
        "opening bench: %d pre-queued fans, first admission after %.0f ms, pre-queue empty after %.0f "
        "ms, %lld admitted by then\n",
        fans, first_ms, opened_ms, static_cast<long long>(admitted));
    EXPECT_GT(first_ms, 0);
}

}  // namespace
}  // namespace marquee::queue
