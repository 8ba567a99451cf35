#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "mq/nats.hpp"

namespace marquee::core {
class MetricsRegistry;
class Counter;
class Gauge;
}  // namespace marquee::core
namespace marquee::db {
class Pool;
}

namespace marquee::outbox {

/// True for `<schema>.outbox` with a lower-case SQL identifier as schema (`booking.outbox`,
/// `payment.outbox`, a test's `test_x1.outbox`). The table name is spliced into SQL, so only names of
/// this shape are accepted; it comes from code, never from a request.
bool is_outbox_table(std::string_view table);

/// `<prefix>.<event_type>`: `marquee.reservation.held`.
std::string subject_for(std::string_view prefix, std::string_view event_type);

/// The advisory-lock key of one outbox table (FNV-1a 64 of "marquee-outbox-relay:" + table): every replica's
/// relay of that table computes the same key, so only one of them publishes at a time.
std::int64_t lock_key(std::string_view table);

struct RelayOptions {
    /// The outbox table: `<schema>.outbox` with the columns of booking.outbox (is_outbox_table).
    std::string table = "booking.outbox";
    /// Subjects are `<subject_prefix>.<event_type>`; the stream takes `<subject_prefix>.>`.
    std::string subject_prefix = "marquee";
    std::string stream = "MARQUEE";
    /// Rows read, published and marked per pass.
    std::size_t batch_size = 100;
    /// The pause after a pass that found fewer than batch_size rows.
    std::chrono::milliseconds idle_period{50};
    /// The pause after a failed pass (NATS or PostgreSQL down).
    std::chrono::milliseconds retry_period{1000};
    /// A pass stops publishing after this long (and marks what it published), which bounds how long its
    /// transaction stays open: this plus one NATS deadline.
    std::chrono::milliseconds pass_budget{2000};
    /// How long JetStream keeps events: a new durable consumer replays at most this much.
    std::chrono::milliseconds stream_max_age{std::chrono::hours(24 * 7)};
    int stream_replicas = 1;  ///< --nats-stream-replicas
};

/// Moves one outbox table's rows to NATS JetStream, in id order, at least once (docs/sequences/
/// queue-hold-pay.md section 4). Each pass is one PostgreSQL transaction that takes
/// `pg_try_advisory_xact_lock(lock_key(table))` and reads the oldest unpublished rows (no row locks);
/// holding the lock, it publishes them one by one to `<prefix>.<event_type>` with `Nats-Msg-Id` = event_id
/// (JetStream drops a re-publish inside its duplicate window) and the row's `traceparent` header, then sets
/// `published_at` on those acknowledged and commits. One relay per table works at a time across replicas, so
/// a seat's events enter the stream in the order booking wrote them.
///
/// The exception to "no transaction across a network call" is deliberate and bounded: the transaction holds
/// only the advisory lock while it publishes, for at most pass_budget plus one NATS deadline, and
/// PostgreSQL ends it (`idle_in_transaction_session_timeout`) if this process freezes.
class Relay {
  public:
    /// Throws std::invalid_argument when options.table is not `<schema>.outbox` or batch_size is 0.
    Relay(db::Pool& db, mq::Nats& nats, core::MetricsRegistry& metrics, RelayOptions options);

    /// Creates the stream `options.stream` over `<subject_prefix>.>` (or updates it). Idempotent;
    /// Problem unavailable("nats") when NATS is down.
    boost::asio::awaitable<void> ensure_stream();

    /// One pass: publishes up to batch_size unpublished rows in id order, marks them published and returns
    /// how many; 0 when the table is empty or another relay holds its lock. When a publish fails, the rows
    /// published before it are marked, the rest stay unpublished for the next pass, and the
    /// Problem unavailable("nats") propagates; PostgreSQL failures are Problem unavailable("postgres").
    /// Sets the gauges outbox_unpublished and outbox_lag_seconds.
    boost::asio::awaitable<std::size_t> publish_pending();

    /// ensure_stream (retried until NATS answers), then publish_pending in a loop: again at once after a
    /// full batch, after idle_period otherwise, after retry_period on a failure (logged once per outage; the
    /// stream is ensured again before the next pass, in case it is what went missing).
    /// Returns after stop().
    boost::asio::awaitable<void> run();
    void stop() noexcept { stopped_ = true; }

    const RelayOptions& options() const noexcept { return options_; }

  private:
    db::Pool& db_;
    mq::Nats& nats_;
    RelayOptions options_;
    std::int64_t lock_key_;
    std::string select_sql_;
    std::string mark_sql_;
    std::string stats_sql_;
    core::Counter& published_;
    core::Gauge& unpublished_;
    core::Gauge& lag_seconds_;
    std::atomic<bool> stopped_{false};
};

/// Starts `Relay(db, nats, metrics, options).run()` on `executor`, logging if it ever ends with an error.
/// The relay lives while the returned handle or its loop does; dropping the handle stops the loop.
/// `db`, `nats` and `metrics` must outlive both.
std::shared_ptr<void> start_relay(const boost::asio::any_io_executor& executor, db::Pool& db, mq::Nats& nats,
                                  core::MetricsRegistry& metrics, RelayOptions options);

}  // namespace marquee::outbox
