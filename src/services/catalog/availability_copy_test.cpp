#include "services/catalog/availability_copy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "coroutines.hpp"

namespace marquee::catalog {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = AvailabilityCopy::Clock;

/// What Redis holds: each schedule's version, changed by write(); a read counts and answers it.
struct FakeRedis {
    std::map<std::int64_t, std::int64_t> versions;
    int reads = 0;

    asio::awaitable<AvailabilityCopy::Snapshot> read(std::int64_t schedule_id,
                                                     AvailabilityCopy::Snapshot previous) {
        ++reads;
        const std::int64_t version = versions[schedule_id];
        if (previous && previous->version == version) co_return previous;
        co_return make_snapshot(schedule_id, version, 4, std::string(1, static_cast<char>(version << 4)));
    }
};

class AvailabilityCopyTest : public ::testing::Test {
  protected:
    AvailabilityCopy make(AvailabilityCopySettings settings) {
        return AvailabilityCopy(
            settings,
            [this](std::int64_t id, AvailabilityCopy::Snapshot previous) {
                return redis_.read(id, std::move(previous));
            },
            [this] { return now_; });
    }
    std::int64_t version_read(AvailabilityCopy& copy, std::int64_t schedule_id) {
        return test::run_here(io_, copy.get(schedule_id))->version;
    }

    asio::io_context io_;
    FakeRedis redis_;
    Clock::time_point now_{std::chrono::hours(1)};
};

TEST(AvailabilitySnapshot, CarriesTheEtagAndTheDocument) {
    const auto snapshot = make_snapshot(7, 42, 10, std::string("\x80\x40", 2));
    EXPECT_EQ(snapshot->etag, "\"42\"");
    const auto body = boost::json::parse(snapshot->body).as_object();
    EXPECT_EQ(body.at("scheduleId").as_int64(), 7);
    EXPECT_EQ(body.at("version").as_int64(), 42);
    EXPECT_EQ(body.at("seatCount").as_int64(), 10);
    EXPECT_EQ(body.at("taken").as_string(), "gEA=");
}

TEST_F(AvailabilityCopyTest, ServesFromMemoryWithinMaxAgeThenReadsAgain) {
    AvailabilityCopy copy = make({.max_age = 100ms});
    redis_.versions[1] = 1;
    EXPECT_EQ(version_read(copy, 1), 1);
    redis_.versions[1] = 2;  // another replica applied an event
    now_ += 99ms;
    EXPECT_EQ(version_read(copy, 1), 1);  // still within the bound: memory
    EXPECT_EQ(redis_.reads, 1);
    now_ += 1ms;
    EXPECT_EQ(version_read(copy, 1), 2);
    EXPECT_EQ(redis_.reads, 2);
    EXPECT_EQ(copy.loads(), 2u);
}

// The stated bound, over many interleavings: a write that happened by time t is seen by every read that
// starts at or after t + max_age.
TEST_F(AvailabilityCopyTest, EveryReadStartingMaxAgeAfterAWriteSeesIt) {
    AvailabilityCopy copy = make({.max_age = 50ms});
    const Clock::time_point start = now_;
    std::vector<std::pair<Clock::time_point, std::int64_t>> writes;  // (when, version)
    for (int step = 0; step < 400; ++step) {
        now_ = start + step * 3ms;
        if (step % 11 == 0) {
            ++redis_.versions[1];
            writes.emplace_back(now_, redis_.versions[1]);
        }
        if (step % 2 == 0) {
            const std::int64_t seen = version_read(copy, 1);
            for (const auto& [when, version] : writes) {
                if (now_ >= when + 50ms) {
                    EXPECT_GE(seen, version) << "read at step " << step;
                }
            }
        }
    }
    EXPECT_LT(redis_.reads, 200);  // and most reads came from memory
}

TEST_F(AvailabilityCopyTest, AWriteThroughThisProcessIsSeenByTheNextRead) {
    AvailabilityCopy copy = make({.max_age = 1000ms});
    EXPECT_EQ(version_read(copy, 1), 0);
    redis_.versions[1] = 5;
    copy.invalidate(1);  // AvailabilityBitset's listener after mark() returned
    EXPECT_EQ(copy.fresh(1), nullptr);
    now_ += 1ms;
    EXPECT_EQ(version_read(copy, 1), 5);
    EXPECT_NE(copy.fresh(1), nullptr);  // and that read is served from memory again
}

TEST_F(AvailabilityCopyTest, AnUnchangedVersionKeepsTheSameSnapshot) {
    AvailabilityCopy copy = make({.max_age = 10ms});
    const auto first = test::run_here(io_, copy.get(3));
    now_ += 20ms;
    const auto second = test::run_here(io_, copy.get(3));
    EXPECT_EQ(redis_.reads, 2);
    EXPECT_EQ(first.get(), second.get());  // the body was not built again
}

// A thousand fans on one stale schedule cost one Redis read: readers of one max_age window share it.
TEST(AvailabilityCopyShared, ReadersOfOneWindowShareOneRead) {
    asio::io_context io;
    asio::steady_timer gate(io, asio::steady_timer::time_point::max());
    int reads = 0;
    const Clock::time_point now{std::chrono::hours(1)};
    AvailabilityCopy copy(
        {.max_age = 100ms},
        [&](std::int64_t id, AvailabilityCopy::Snapshot) -> asio::awaitable<AvailabilityCopy::Snapshot> {
            ++reads;
            co_await gate.async_wait(asio::as_tuple(asio::use_awaitable));  // still in flight for everyone
            co_return make_snapshot(id, 7, 4, std::string(1, '\0'));
        },
        [&] { return now; });
    int answered = 0;
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                if ((co_await copy.get(9))->version == 7) ++answered;
            },
            asio::detached);
    }
    io.poll();  // every reader is waiting on the one read
    gate.cancel();
    io.run();
    EXPECT_EQ(reads, 1);
    EXPECT_EQ(answered, 50);
}

TEST_F(AvailabilityCopyTest, ZeroMaxAgeReadsRedisEveryTime) {
    AvailabilityCopy copy = make({.max_age = 0ms});
    for (int i = 0; i < 3; ++i) version_read(copy, 1);
    EXPECT_EQ(redis_.reads, 3);
    EXPECT_EQ(copy.fresh(1), nullptr);
}

TEST_F(AvailabilityCopyTest, IdleSchedulesAreDropped) {
    AvailabilityCopy copy = make({.max_age = 100ms, .idle_ttl = 1s});
    version_read(copy, 1);
    version_read(copy, 2);
    now_ += 500ms;
    version_read(copy, 2);  // 2 is read again, 1 is not
    now_ += 600ms;
    version_read(copy, 3);  // a new schedule: 1 has been idle 1.1 s
    EXPECT_EQ(copy.size(), 2u);
    EXPECT_EQ(copy.evictions(), 1u);
    const int before = redis_.reads;
    version_read(copy, 1);
    EXPECT_EQ(redis_.reads, before + 1);
}

TEST_F(AvailabilityCopyTest, TheCapDropsTheLeastRecentlyRead) {
    AvailabilityCopy copy = make({.max_age = 10s, .idle_ttl = 60s, .max_schedules = 2});
    version_read(copy, 1);
    now_ += 1ms;
    version_read(copy, 2);
    now_ += 1ms;
    version_read(copy, 1);  // 1 is now the most recently read
    now_ += 1ms;
    version_read(copy, 3);
    EXPECT_EQ(copy.size(), 2u);
    EXPECT_NE(copy.fresh(1), nullptr);
    EXPECT_NE(copy.fresh(3), nullptr);
    EXPECT_EQ(copy.fresh(2), nullptr);
    EXPECT_EQ(copy.evictions(), 1u);
}

}  // namespace
}  // namespace marquee::catalog
