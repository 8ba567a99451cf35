// End to end: seat events from booking's outbox reach catalog's availability
// (docs/sequences/queue-hold-pay.md section 4): hold a seat through the API → outbox relay → NATS JetStream →
// catalog-availability consumer → Redis bitset → GET .../availability shows it taken; release it → available
// again. The schedule and its seats come from make_seats (catalog's tables).
#include <chrono>
#include <thread>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

/// How long an event may take from booking's commit to catalog's bitset: the relay's idle period and
/// JetStream delivery are well under a second when healthy; the bound is generous for a loaded CI machine.
constexpr auto kEventDeadline = 10s;

class EventsEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        process_ = new MarqueeProcess({"--service=auth,queue,catalog,booking"},
                                      {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "100000"},
                                       {"MARQUEE_QUEUE_ADMIT_PER_SECOND", "1000"},
                                       {"MARQUEE_QUEUE_TICK_MS", "50"}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    /// Polls GET .../availability until `taken` is `expected` (base64 of the bitset); returns the last body.
    static json::object availability_when(std::int64_t schedule, const std::string& expected) {
        const std::string path = "/api/v1/schedules/" + std::to_string(schedule) + "/availability";
        const auto deadline = std::chrono::steady_clock::now() + kEventDeadline;
        json::object body;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto reply = http_request(port(), "GET", path);
            if (reply.status != 200) {
                ADD_FAILURE() << reply.status << " " << reply.body;
                return body;
            }
            body = reply.json();
            if (body.at("taken").as_string() == expected) return body;
            std::this_thread::sleep_for(20ms);  // polling pace, not synchronisation: the deadline decides
        }
        ADD_FAILURE() << "availability still " << json::serialize(body) << ", expected taken " << expected;
        return body;
    }

    static MarqueeProcess* process_;
};
MarqueeProcess* EventsEndToEnd::process_ = nullptr;

TEST_F(EventsEndToEnd, AHeldSeatShowsTakenInAvailabilityAndFreeAgainAfterRelease) {
    const Seats seats = make_seats(4);
    // One byte of bits, seat index 0 first from the most significant bit: 0x00 and 0x40 (seat index 1).
    const std::string all_free = "AA==";
    const std::string seat_one_taken = "QA==";
    const json::object before = availability_when(seats.schedule, all_free);
    EXPECT_EQ(before.at("seatCount").as_int64(), 4);

    const auto fan = admitted(port(), new_fan(port(), "events-fan"), seats.schedule);
    const auto held = post_hold(port(), hold_body(seats.schedule, {seats.ids[1]}), fan);
    ASSERT_EQ(held.status, 201) << held.body;
    const std::string reservation(held.json().at("id").as_string());

    const json::object taken = availability_when(seats.schedule, seat_one_taken);
    EXPECT_GT(taken.at("version").as_int64(), before.at("version").as_int64());

    EXPECT_EQ(http_request(port(), "DELETE", "/api/v1/reservations/" + reservation, {}, fan).status, 204);
    const json::object freed = availability_when(seats.schedule, all_free);
    EXPECT_GT(freed.at("version").as_int64(), taken.at("version").as_int64());

    const auto metrics = http_request(port(), "GET", "/metrics");
    EXPECT_NE(metrics.body.find("outbox_published_total{outbox=\"booking.outbox\"}"), std::string::npos);
}

}  // namespace
}  // namespace marquee::test
