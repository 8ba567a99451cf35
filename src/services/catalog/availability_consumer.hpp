#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "mq/nats.hpp"

namespace marquee::catalog {

class AvailabilityBitset;

/// Applies `reservation.*` events to the availability bitsets: held → Held, confirmed → Sold, expired and
/// cancelled → Available. mark() is idempotent, so JetStream's at-least-once delivery is harmless; a message
/// is acked only after its bits are written, so a crash re-applies it. Its lag is the staleness bound of
/// availability (docs/decisions/0007, 0014). install() runs it on the app's executor: run(nats,
/// consumer_spec()).
class AvailabilityConsumer {
  public:
    /// An event delivered to a replica that never acks it (the replica stopped or crashed, or its ack failed)
    /// is delivered again after this long: the consumer's ack_wait. Every replica binds one durable, so a
    /// stopping replica's fetched batch is not lost, but waits this long (docs/decisions/0014).
    static constexpr std::chrono::milliseconds kRedeliveryBound{5000};

    explicit AvailabilityConsumer(AvailabilityBitset& bitset) : bitset_(bitset) {}

    /// The durable consumer `catalog-availability` of `marquee.reservation.>` on the `MARQUEE` stream, which
    /// booking's outbox relay creates and fills (src/outbox). Every catalog replica binds the same durable,
    /// so each event is applied by one of them. ack_wait = kRedeliveryBound; no max-deliver (never dropped).
    static mq::ConsumerSpec consumer_spec();

    struct Outcome {
        std::size_t applied = 0;     ///< events whose bits were written (and acked)
        std::size_t terminated = 0;  ///< poison messages, never redelivered
        std::size_t retried = 0;     ///< naked after a Redis failure, redelivered after a pause
    };
    /// Fetches up to `max` messages (waiting up to `wait` for the first, then taking only what is already
    /// there) and applies them in order. A failed ack is logged and the batch goes on; after stop() the
    /// batch's rest is naked (redelivered at once, to another replica).
    boost::asio::awaitable<Outcome> poll_once(mq::Consumer& consumer, std::size_t max,
                                              std::chrono::milliseconds wait);

    /// Binds `spec` and applies events (poll_once) until stop(). While NATS or the stream is missing (the
    /// relay creates it, perhaps in another process) it retries every `retry_period`; after a failure it
    /// binds again. Failures are logged once per outage.
    boost::asio::awaitable<void> run(mq::Nats& nats, mq::ConsumerSpec spec,
                                     std::chrono::milliseconds retry_period = std::chrono::seconds(1));
    void stop() noexcept { stopped_ = true; }

  private:
    enum class Applied { Written, Terminated, Retried };
    /// Applies one message, acking, naking or terminating it. Runs in the message's own trace context.
    boost::asio::awaitable<Applied> apply(mq::Message message);
    boost::asio::awaitable<void> nak_rest(std::vector<mq::Message>& messages, std::size_t from);

    AvailabilityBitset& bitset_;
    std::atomic<bool> stopped_{false};
};

}  // namespace marquee::catalog
