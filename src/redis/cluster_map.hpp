#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.hpp"

namespace marquee::redis {

/// Redis Cluster's 16384 hash slots (docs/decisions/0020-redis-cluster-routing.md).
inline constexpr std::size_t kSlots = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis Cluster hashes keys.
std::uint16_t crc16(std::string_view bytes) noexcept;

/// The slot of a key: CRC16 & 16383 of the whole key, or of its hash tag when it has one (the bytes between
/// the first `{` and the first `}` after it, if at least one byte lies between them: `{user1000}.following`
/// hashes `user1000`, `foo{}{bar}` hashes the whole key).
std::uint16_t key_slot(std::string_view key) noexcept;

/// Which argument of a command is its first key, for routing: nullopt for a command without keys (PING,
/// SCRIPT LOAD, EVAL with 0 keys), 3 for EVAL/EVALSHA/FCALL with keys, 1 otherwise.
std::optional<std::size_t> first_key_index(const std::vector<std::string>& args);

/// A node's address as the cluster names it.
struct NodeAddress {
    std::string host;
    std::uint16_t port = 0;

    std::string text() const { return host + ":" + std::to_string(port); }
    friend bool operator==(const NodeAddress&, const NodeAddress&) = default;
};

/// A `MOVED <slot> <host:port>` or `ASK <slot> <host:port>` error reply (hiredis gives it without the `-`).
struct Redirect {
    enum class Kind { Moved, Ask };
    Kind kind = Kind::Moved;
    std::uint16_t slot = 0;
    NodeAddress to;

    friend bool operator==(const Redirect&, const Redirect&) = default;
};

/// Parses a redirect; nullopt for any other error text. An empty host (`MOVED 3999 :6380`) means the host the
/// command was sent to, `asked_host`.
std::optional<Redirect> parse_redirect(std::string_view error, std::string_view asked_host);

/// One contiguous slot range and the nodes serving it.
struct SlotRange {
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    NodeAddress primary;
    std::vector<NodeAddress> replicas;

    friend bool operator==(const SlotRange&, const SlotRange&) = default;
};

/// The slot ranges from a `CLUSTER SHARDS` reply (Redis 7): per shard, its slots and the node whose role is
/// master and whose health is online; a shard without one (its primary failed, no replica promoted yet) is
/// left out, so its slots have no primary. Endpoints `""`/nil mean `asked_host`; `?` (unknown) nodes are
/// skipped. Throws CommandError for a reply of another shape.
std::vector<SlotRange> parse_cluster_shards(const Reply& reply, std::string_view asked_host);

/// The same from `CLUSTER SLOTS` (the fallback for servers without CLUSTER SHARDS): [first, last, primary,
/// replicas...], each node [host, port, id, ...].
std::vector<SlotRange> parse_cluster_slots(const Reply& reply, std::string_view asked_host);

/// What a node answered with an error that is about the cluster rather than the command: retried or
/// rerouted by the client, never returned to the caller as a reply.
enum class ClusterError { None, Moved, Ask, TryAgain, ClusterDown, ReadOnly, MasterDown, Loading };
ClusterError classify_error(std::string_view error) noexcept;

/// slot -> node index, 16384 entries; kNoNode where no live primary serves the slot.
class SlotTable {
  public:
    static constexpr std::uint16_t kNoNode = 0xffff;

    SlotTable() { owner_.fill(kNoNode); }
    /// Builds the table from ranges; every primary gets an index into nodes().
    explicit SlotTable(const std::vector<SlotRange>& ranges);

    /// The primary of `slot`, or nullptr.
    const NodeAddress* primary(std::uint16_t slot) const noexcept {
        const std::uint16_t index = owner_[slot];
        return index == kNoNode ? nullptr : &nodes_[index];
    }
    /// Points `slot` at `node` (a MOVED answer), adding the node if new; returns its index.
    std::uint16_t assign(std::uint16_t slot, const NodeAddress& node);
    /// The primaries, indexed as owner() answers (a MOVED may add one).
    const std::vector<NodeAddress>& nodes() const noexcept { return nodes_; }
    /// The index in nodes() of the primary of `slot`, or kNoNode.
    std::uint16_t owner(std::uint16_t slot) const noexcept { return owner_[slot]; }
    /// The replicas the map named (other nodes to ask for a fresh map).
    const std::vector<NodeAddress>& replicas() const noexcept { return replicas_; }
    /// Slots without a primary.
    std::size_t unserved() const noexcept;
    bool empty() const noexcept { return nodes_.empty(); }

  private:
    std::uint16_t index_of(const NodeAddress& node);

    std::array<std::uint16_t, kSlots> owner_{};
    std::vector<NodeAddress> nodes_;
    std::vector<NodeAddress> replicas_;
};

}  // namespace marquee::redis
