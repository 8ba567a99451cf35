// The consumer against the real NATS JetStream and Redis, on a stream of its own.
#include <cctype>

#include "dbtest_fixture.hpp"
#include "mq/nats.hpp"
#include "services/catalog/availability_consumer.hpp"

namespace marquee::catalog::testing {
namespace {

using AvailabilityConsumerDbTest = CatalogDbTest;

asio::awaitable<void> publish_events(mq::Nats& nats, std::string prefix, std::int64_t schedule_id) {
    const std::string seats = R"({"scheduleId":)" + std::to_string(schedule_id) + R"(,"seatIndexes":[2,5]})";
    co_await nats.publish(prefix + ".reservation.held", seats, prefix + "-1");
    co_await nats.publish(prefix + ".reservation.confirmed", seats, prefix + "-2");
    co_await nats.publish(prefix + ".reservation.held", "garbage", prefix + "-3");
    const std::string other = R"({"scheduleId":)" + std::to_string(schedule_id) + R"(,"seatIndexes":[6]})";
    co_await nats.publish(prefix + ".reservation.held", other, prefix + "-4");
    co_await nats.publish(prefix + ".reservation.expired", other, prefix + "-5");
}

TEST_F(AvailabilityConsumerDbTest, AppliesHeldConfirmedAndExpiredAndTerminatesPoison) {
    mq::Nats nats(mq::NatsOptions{test::nats_url()});
    const std::string name = test::unique_name("catalogav");
    std::string prefix;
    for (const char c : name) prefix += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    const Concert concert = make_concert();
    const Schedule schedule = make_schedule(concert.id);
    run(service_->create_layout(schedule.id, layout(1, 1, 4)));

    mq::StreamSpec stream(prefix, {prefix + ".>"});
    run(nats.ensure_stream(stream));
    run(publish_events(nats, prefix, schedule.id));
    mq::ConsumerSpec spec(prefix, "catalog-availability", prefix + ".reservation.>");
    mq::Consumer consumer = run(nats.pull_consumer(spec));
    AvailabilityConsumer applier(service_->bitset());
    AvailabilityConsumer::Outcome total;
    while (total.applied + total.terminated < 5) {
        const auto outcome = run(applier.poll_once(consumer, 10, std::chrono::seconds(5)));
        ASSERT_GT(outcome.applied + outcome.terminated, 0u) << "no events arrived";
        total.applied += outcome.applied;
        total.terminated += outcome.terminated;
    }
    EXPECT_EQ(total.applied, 4u);
    EXPECT_EQ(total.terminated, 1u);

    const SeatPage page = run(service_->seats(schedule.id, std::nullopt, std::nullopt, 8));
    EXPECT_EQ(page.items[2].second, SeatState::Sold);
    EXPECT_EQ(page.items[5].second, SeatState::Sold);
    EXPECT_EQ(page.items[6].second, SeatState::Available);
    EXPECT_EQ(page.items[0].second, SeatState::Available);
    run(nats.delete_stream(prefix));
}

}  // namespace
}  // namespace marquee::catalog::testing
