#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace marquee::mq {
class Consumer;
}

namespace marquee::catalog {

class AvailabilityBitset;

/// Applies `reservation.*` events to the availability bitsets: held → Held, confirmed → Sold, expired and
/// cancelled → Available. mark() is idempotent, so JetStream's at-least-once delivery is harmless; a message
/// is acked only after its bits are written, so a crash re-applies it. Its lag is the staleness bound of
/// availability (docs/decisions/0007).
///
/// Not wired into install() yet: booking's outbox relay and the `MARQUEE` stream arrive with issue 5. Wiring:
/// `pull_consumer(ConsumerSpec("MARQUEE", "catalog-availability", "marquee.reservation.>"))`, then
/// `poll_once` in a loop on ServiceContext::executor.
class AvailabilityConsumer {
  public:
    explicit AvailabilityConsumer(AvailabilityBitset& bitset) : bitset_(bitset) {}

    struct Outcome {
        std::size_t applied = 0;     ///< events whose bits were written (and acked)
        std::size_t terminated = 0;  ///< poison messages, never redelivered
        std::size_t retried = 0;     ///< naked after a Redis failure, redelivered after a pause
    };
    /// Fetches up to `max` messages (waiting up to `wait` for the first) and applies them in order.
    boost::asio::awaitable<Outcome> poll_once(mq::Consumer& consumer, std::size_t max,
                                              std::chrono::milliseconds wait);

  private:
    AvailabilityBitset& bitset_;
};

}  // namespace marquee::catalog
