#include "services/catalog/availability_consumer.hpp"

#include "core/log.hpp"
#include "core/problem.hpp"
#include "mq/nats.hpp"
#include "services/catalog/availability.hpp"
#include "services/catalog/events.hpp"

namespace marquee::catalog {

namespace asio = boost::asio;

asio::awaitable<AvailabilityConsumer::Outcome> AvailabilityConsumer::poll_once(
    mq::Consumer& consumer, std::size_t max, std::chrono::milliseconds wait) {
    Outcome outcome;
    std::vector<mq::Message> messages = co_await consumer.fetch(max, wait);
    for (mq::Message& message : messages) {
        std::optional<SeatEvent> event = parse_seat_event(message.subject(), message.data());
        if (!event) {
            core::log_warn("unreadable seat event terminated",
                           {{"subject", message.subject()}, {"sequence", message.stream_sequence()}});
            co_await message.term();
            ++outcome.terminated;
            continue;
        }
        bool written = false;
        try {
            co_await bitset_.mark(event->schedule_id, std::move(event->seat_indexes), event->state);
            written = true;
        } catch (const core::Problem& problem) {
            core::log_warn("seat event not applied, redelivering", {{"detail", problem.detail()}});
        }
        if (written) {
            co_await message.ack();
            ++outcome.applied;
        } else {
            co_await message.nak(std::chrono::seconds(1));
            ++outcome.retried;
        }
    }
    co_return outcome;
}

}  // namespace marquee::catalog
