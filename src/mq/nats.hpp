#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace marquee::mq {

struct NatsOptions {
    /// nats://host:port, or a cluster's nodes as a comma-separated list (each one tried; a dead node's
    /// clients move to another).
    std::string url;
    /// Deadline of one call (publish ack, stream/consumer admin, ack, ping), counted from the call.
    std::chrono::milliseconds timeout{2000};
    std::string name = "marquee";  ///< the connection name the server shows
    /// Threads that run libnats' blocking calls, never an Asio I/O thread. A fetch holds one for its wait.
    std::size_t worker_threads = 4;
};

/// Message headers in order; a name may repeat. Nats-Msg-Id and W3C traceparent are headers like any other.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// The URLs in a comma-separated list, blanks around each trimmed, empty entries dropped.
std::vector<std::string> split_urls(std::string_view list);

/// The value of the first header called `name` (exact spelling, as NATS compares them).
std::optional<std::string> find_header(const Headers& headers, std::string_view name);

/// Not an aggregate on purpose: GCC 12 destroys a braced aggregate temporary twice when it is built
/// inside a co_await expression (`co_await nats.ensure_stream(StreamSpec{...})` would double-free).
struct StreamSpec {
    StreamSpec(std::string name, std::vector<std::string> subjects)
        : name(std::move(name)), subjects(std::move(subjects)) {}

    std::string name;
    std::vector<std::string> subjects;
    /// Publishes carrying a Nats-Msg-Id already seen within this window are acknowledged as duplicates
    /// and not stored again.
    std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
    std::chrono::milliseconds max_age{0};  ///< 0: keep messages until limits say otherwise
    /// Copies kept by a NATS cluster (1 on a single server; 3 in production). ensure_stream brings an
    /// existing stream to this number too, so it must match what operations want.
    int replicas = 1;
};

/// Not an aggregate, for the GCC 12 reason given at StreamSpec.
struct ConsumerSpec {
    ConsumerSpec(std::string stream, std::string durable, std::string filter_subject)
        : stream(std::move(stream)), durable(std::move(durable)), filter_subject(std::move(filter_subject)) {}

    std::string stream;
    std::string durable;         ///< the consumer's name; survives restarts of Marquee (no '.')
    std::string filter_subject;  ///< empty: every subject of the stream
    /// A fetched message not acked within this is delivered again.
    std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
    std::int64_t max_deliver = -1;  ///< -1: no limit
};

struct PublishAck {
    std::string stream;
    std::uint64_t sequence = 0;
    bool duplicate = false;  ///< the msg_id was seen within the duplicate window: nothing new was stored
};

/// One JetStream message fetched from a pull consumer. Cheap to copy (shared); ack or nak it once. The last
/// copy dropped without a successful ack, nak or term naks it (redelivered at once, not after ack_wait).
class Message {
  public:
    const std::string& subject() const;
    const std::string& data() const;
    const Headers& headers() const;
    std::optional<std::string> header(std::string_view name) const { return find_header(headers(), name); }
    /// 1 on first delivery, 2 after one nak or ack timeout, ...
    std::uint64_t delivery_count() const;
    std::uint64_t stream_sequence() const;

    /// Acknowledges and waits for the server to confirm it, so a returned ack will not be redelivered.
    boost::asio::awaitable<void> ack();
    /// Asks for redelivery, after `delay` if given.
    boost::asio::awaitable<void> nak(std::chrono::milliseconds delay = std::chrono::milliseconds{0});
    /// Never redeliver (a poison message); the consumer moves on.
    boost::asio::awaitable<void> term();

    struct Impl;
    explicit Message(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  private:
    std::shared_ptr<Impl> impl_;
};

/// A durable pull consumer. Fetch from one coroutine at a time.
class Consumer {
  public:
    Consumer() = default;
    /// Up to `max` messages, waiting up to `wait` for the first; empty when none arrived in time.
    boost::asio::awaitable<std::vector<Message>> fetch(std::size_t max, std::chrono::milliseconds wait);

    struct Impl;
    explicit Consumer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  private:
    std::shared_ptr<Impl> impl_;
};

/// A NATS connection with JetStream, on libnats. libnats runs its own I/O threads; its blocking calls run
/// on a small pool of our own, and each awaiting coroutine resumes on its own executor.
///
/// Failures: NATS down or too slow, a JetStream API error, a missing stream for a subject: all
/// `core::Problem::unavailable("nats", ...)` (503 + Retry-After). The connection reconnects forever in
/// the background (publishes fail fast with 503 while it is down), so Marquee recovers when NATS does.
///
/// Note for callers on GCC 12: build vectors (subjects, headers) before `co_await`, not as braced lists
/// inside the co_await expression, which GCC 12 rejects ("array used as initializer"); and never pass a
/// braced aggregate temporary inside a co_await expression (GCC 12 destroys it twice).
class Nats {
  public:
    /// Tries to connect once (bounded by options.timeout) and keeps retrying in the background when NATS
    /// is unreachable: it does not throw for that, ping() is false until it connects. Blocks up to the
    /// timeout, so construct it at start-up, not on an I/O thread. Throws core::ConfigError for a bad URL.
    explicit Nats(NatsOptions options);
    /// Waits for the blocking calls in flight (each bounded by its deadline or fetch wait) to end and hand
    /// their results to their callers' executors: none completes into an io_context destroyed after this
    /// Nats, even when a suspended caller (a fetch loop's Consumer) still holds the connection. Calls made
    /// after it fail at once. Destroy it after the io_context stops running coroutines, before the
    /// io_context itself.
    ~Nats();
    Nats(Nats&&) noexcept;
    Nats& operator=(Nats&&) noexcept;

    /// For /readyz: connected, and a PING round trip completes within the timeout. Never throws.
    boost::asio::awaitable<bool> ping();

    /// Creates the stream, or updates it to `spec` if it exists with another configuration. Idempotent.
    boost::asio::awaitable<void> ensure_stream(StreamSpec spec);
    /// Deletes the stream and its messages; no error if it does not exist.
    boost::asio::awaitable<void> delete_stream(std::string name);

    /// JetStream publish; waits for the stream's ack. A non-empty `msg_id` is sent as Nats-Msg-Id.
    boost::asio::awaitable<PublishAck> publish(std::string subject, std::string payload, std::string msg_id,
                                               Headers headers = {});

    /// Creates the durable consumer (or updates it to `spec`) and binds a pull subscription to it.
    /// Dropping the Consumer unsubscribes but keeps the durable on the server.
    boost::asio::awaitable<Consumer> pull_consumer(ConsumerSpec spec);

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace marquee::mq
