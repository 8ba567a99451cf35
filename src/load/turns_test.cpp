#include "load/turns.hpp"

#include <map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace marquee::load {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

/// `fans` coroutines wait at a gate, as the flash sale's users wait for the opening, then all take a send
/// turn at once. Records the order they passed in, the turn each passed in, and how many had passed when an
/// answer already waiting on a socket was read.
struct Burst {
    asio::io_context ioc{1};
    SendTurns turns;
    asio::steady_timer gate{ioc, asio::steady_timer::time_point::max()};
    std::vector<unsigned> order;
    std::map<std::uint64_t, unsigned> per_turn;  ///< turns() when passing -> how many passed then
    std::optional<std::size_t> passed_when_read;

    explicit Burst(std::size_t per_turn_limit) : turns(ioc.get_executor(), per_turn_limit) {}

    void run(unsigned fans) {
        for (unsigned i = 0; i < fans; ++i) {
            asio::co_spawn(
                ioc,
                [this, i]() -> asio::awaitable<void> {
                    co_await gate.async_wait(kTuple);
                    co_await turns.take();
                    order.push_back(i);
                    ++per_turn[turns.turns()];
                },
                asio::detached);
        }
        asio::local::stream_protocol::socket server(ioc);
        asio::local::stream_protocol::socket client(ioc);
        asio::local::connect_pair(server, client);
        char byte = 0;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                // Everyone is at the gate: an answer is on the wire, and the gate opens for all at once.
                asio::steady_timer settle(ioc);
                settle.expires_after(std::chrono::milliseconds(1));
                co_await settle.async_wait(kTuple);
                client.async_read_some(
                    asio::buffer(&byte, 1),
                    [this](boost::system::error_code, std::size_t) { passed_when_read = order.size(); });
                asio::write(server, asio::buffer("x", 1));
                gate.cancel();
            },
            asio::detached);
        ioc.run();
    }
};

TEST(SendTurns, LetsABurstGoInArrivalOrderAtMostPerTurnAtATime) {
    Burst burst(8);
    burst.run(100);
    ASSERT_EQ(burst.order.size(), 100u);
    for (unsigned i = 0; i < 100; ++i) EXPECT_EQ(burst.order[i], i) << "fan " << i << " passed out of order";
    for (const auto& [turn, passed] : burst.per_turn) EXPECT_LE(passed, 8u) << "turn " << turn;
    EXPECT_GE(burst.per_turn.size(), 13u);  // 100 sends, 8 a turn
    EXPECT_GT(burst.turns.waits(), 0u);
}

TEST(SendTurns, ReadsAnAnswerBeforeTheWholeBurstIsSent) {
    // Without turns every woken fan would send before the socket is polled (Asio runs ready handlers first
    // in, first out): the answer would be read after all 1,000 had passed.
    Burst burst(8);
    burst.run(1000);
    ASSERT_EQ(burst.order.size(), 1000u);
    ASSERT_TRUE(burst.passed_when_read.has_value());
    EXPECT_LT(*burst.passed_when_read, 1000u);
}

TEST(SendTurns, ATurnAsLargeAsTheBurstReadsTheAnswerOnlyAfterEveryoneSent) {
    // The behaviour the turns are for, shown with one turn that holds the whole burst (as with no turns).
    Burst burst(1000);
    burst.run(1000);
    ASSERT_TRUE(burst.passed_when_read.has_value());
    EXPECT_EQ(*burst.passed_when_read, 1000u);
}

TEST(SendTurns, WithRoomInTheTurnASendGoesAtOnce) {
    asio::io_context ioc{1};
    SendTurns turns(ioc.get_executor(), 4);
    int passed = 0;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                co_await turns.take();
                ++passed;
            }
        },
        asio::detached);
    ioc.run();
    EXPECT_EQ(passed, 3);
    EXPECT_EQ(turns.waits(), 0u);
}

TEST(SendTurns, RefusesATurnOfNoSends) {
    asio::io_context ioc{1};
    EXPECT_THROW(SendTurns(ioc.get_executor(), 0), std::invalid_argument);
}

TEST(BurstClock, MeasuresFromTheFirstSendToTheLastAnswer) {
    using std::chrono::milliseconds;
    const BurstClock::time_point t0{std::chrono::seconds(100)};
    BurstClock clock;
    EXPECT_EQ(clock.to_json().at("answered").as_uint64(), 0u);
    EXPECT_FALSE(clock.to_json().contains("per_s"));
    clock.answered(t0 + milliseconds(10), t0 + milliseconds(500));
    clock.answered(t0, t0 + milliseconds(2000));  // sent first, answered last
    clock.answered(t0 + milliseconds(300), t0 + milliseconds(400));
    const auto j = clock.to_json();
    EXPECT_EQ(j.at("answered").as_uint64(), 3u);
    EXPECT_DOUBLE_EQ(j.at("sends_ms").as_double(), 300.0);
    EXPECT_DOUBLE_EQ(j.at("first_answer_ms").as_double(), 400.0);
    EXPECT_DOUBLE_EQ(j.at("last_answer_ms").as_double(), 2000.0);
    EXPECT_DOUBLE_EQ(j.at("per_s").as_double(), 1.5);  // 3 answers in 2 s
    // Answers at 400, 500 and 2000 ms after the first send: the median is the second, p95 and p99 the last.
    EXPECT_DOUBLE_EQ(j.at("since_first_send_p50_ms").as_double(), 500.0);
    EXPECT_DOUBLE_EQ(j.at("since_first_send_p95_ms").as_double(), 2000.0);
    EXPECT_DOUBLE_EQ(j.at("since_first_send_p99_ms").as_double(), 2000.0);
}

}  // namespace
}  // namespace marquee::load
