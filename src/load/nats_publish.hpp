#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

namespace marquee::load {

struct NatsPublishOptions {
    std::string url = "nats://127.0.0.1:4222";
    std::uint64_t messages = 20'000;
    int max_pending = 256;      ///< asynchronous publishes in flight; 1: one js_Publish at a time
    std::size_t payload = 128;  ///< bytes per message (an outbox event is about this size)
};

/// The JetStream publish-and-ack ceiling: publishes `messages` small messages to a file-backed stream of its
/// own (created, then deleted) and waits for every ack. {messages, acked, errors, seconds, acks_per_s}.
/// Throws std::runtime_error when NATS is unreachable or JetStream refuses the stream.
boost::json::object nats_publish(const NatsPublishOptions& options);

}  // namespace marquee::load
