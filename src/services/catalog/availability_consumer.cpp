#include "services/catalog/availability_consumer.hpp"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "mq/nats.hpp"
#include "services/catalog/availability.hpp"
#include "services/catalog/events.hpp"

namespace marquee::catalog {

namespace asio = boost::asio;

namespace {
/// Events per fetch, and how long one fetch waits for the first (it holds a NATS worker thread meanwhile,
/// and stop() is seen after it returns).
constexpr std::size_t kFetchBatch = 100;
constexpr std::chrono::milliseconds kFetchWait{1000};
/// How long the second fetch of a poll waits for more events after the first arrived: about nothing, so an
/// event is applied as soon as it arrives instead of when a batch fills or the fetch's wait runs out.
constexpr std::chrono::milliseconds kDrainWait{2};
}  // namespace

mq::ConsumerSpec AvailabilityConsumer::consumer_spec() {
    mq::ConsumerSpec spec("MARQUEE", "catalog-availability", "marquee.reservation.>");
    spec.ack_wait = kRedeliveryBound;
    spec.max_deliver = -1;  // never drop an event after N deliveries: a seat's state must arrive, always
    return spec;
}

asio::awaitable<AvailabilityConsumer::Outcome> AvailabilityConsumer::poll_once(
    mq::Consumer& consumer, std::size_t max, std::chrono::milliseconds wait) {
    Outcome outcome;
    // A fetch of N lingers until N messages came or its wait ran out (libnats' pull request semantics), so a
    // lone event would wait out the whole `wait`: fetch one (returns when it arrives), then whatever else is
    // already there.
    std::vector<mq::Message> messages = co_await consumer.fetch(1, wait);
    if (!messages.empty() && max > 1) {
        std::vector<mq::Message> more = co_await consumer.fetch(max - 1, kDrainWait);
        for (mq::Message& message : more) messages.push_back(std::move(message));
    }
    const auto executor = co_await asio::this_coro::executor;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        mq::Message& message = messages[i];
        if (stopped_) {
            // Hand the rest back at once rather than leave them to the redelivery bound (ack_wait).
            co_await nak_rest(messages, i);
            break;
        }
        // Each event is handled in the trace of the request that caused it (the outbox row's traceparent,
        // forwarded by the relay as a NATS header), so its log lines join that purchase's (ADR 0010).
        const std::optional<std::string> traceparent = message.header("traceparent");
        const std::optional<std::string> tracestate = message.header("tracestate");
        boost::json::object fields;
        fields["subject"] = message.subject();
        fields["sequence"] = message.stream_sequence();
        const auto traced = core::with_log_context(
            executor, core::make_log_context(core::TraceContext::continue_from(traceparent, tracestate),
                                             std::move(fields)));
        auto applying = apply(message);
        Applied applied = Applied::Retried;
        try {
            applied = co_await asio::co_spawn(traced, std::move(applying), asio::use_awaitable);
        } catch (const std::exception& e) {
            // Its ack (or nak) failed: NATS redelivers it after ack_wait (kRedeliveryBound) and mark() is
            // idempotent. The rest of the batch is still applied: abandoning it would leave every one of
            // them to ack_wait too.
            core::log_warn("seat event ack failed, redelivered after ack_wait",
                           {{"sequence", message.stream_sequence()}, {"error", e.what()}});
        }
        switch (applied) {
            case Applied::Written:
                ++outcome.applied;
                break;
            case Applied::Terminated:
                ++outcome.terminated;
                break;
            case Applied::Retried:
                ++outcome.retried;
                break;
        }
    }
    co_return outcome;
}

asio::awaitable<void> AvailabilityConsumer::nak_rest(std::vector<mq::Message>& messages, std::size_t from) {
    for (std::size_t i = from; i < messages.size(); ++i) {
        try {
            co_await messages[i].nak();
        } catch (const std::exception&) {
            // NATS gone: ack_wait brings it back
        }
    }
}

asio::awaitable<AvailabilityConsumer::Applied> AvailabilityConsumer::apply(mq::Message message) {
    std::optional<SeatEvent> event = parse_seat_event(message.subject(), message.data());
    if (!event) {
        core::log_warn("unreadable seat event terminated", {});
        co_await message.term();
        co_return Applied::Terminated;
    }
    const auto schedule_id = event->schedule_id;
    const auto seats = event->seat_indexes.size();
    bool written = false;
    try {
        co_await bitset_.mark(event->schedule_id, std::move(event->seat_indexes), event->state);
        written = true;
    } catch (const core::Problem& problem) {
        core::log_warn("seat event not applied, redelivering", {{"detail", problem.detail()}});
    }
    if (!written) {
        co_await message.nak(std::chrono::seconds(1));
        co_return Applied::Retried;
    }
    co_await message.ack();
    core::log_info("seat event applied", {{"schedule_id", schedule_id}, {"seats", seats}});
    co_return Applied::Written;
}

asio::awaitable<void> AvailabilityConsumer::run(mq::Nats& nats, mq::ConsumerSpec spec,
                                                std::chrono::milliseconds retry_period) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::optional<mq::Consumer> consumer;
    bool failing = false;
    while (!stopped_) {
        std::string error;
        try {
            if (!consumer) {
                mq::ConsumerSpec bind = spec;
                consumer = co_await nats.pull_consumer(std::move(bind));
            }
            co_await poll_once(*consumer, kFetchBatch, kFetchWait);
            if (failing) core::log_info("availability consumer recovered", {{"durable", spec.durable}});
            failing = false;
            continue;
        } catch (const core::Problem& problem) {
            error = problem.detail();
        }
        consumer.reset();  // bind again: the stream may have been created or recreated meanwhile
        if (!failing) {
            core::log_warn("availability consumer failing, retrying",
                           {{"durable", spec.durable}, {"error", error}});
        }
        failing = true;
        timer.expires_after(retry_period);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

}  // namespace marquee::catalog
