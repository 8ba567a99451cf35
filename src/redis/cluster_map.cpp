#include "redis/cluster_map.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace marquee::redis {
namespace {

constexpr std::array<std::uint16_t, 256> make_crc_table() {
    std::array<std::uint16_t, 256> table{};
    for (unsigned byte = 0; byte < 256; ++byte) {
        auto crc = static_cast<std::uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = static_cast<std::uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
        }
        table[byte] = crc;
    }
    return table;
}

constexpr std::array<std::uint16_t, 256> kCrcTable = make_crc_table();

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x >= 'a' && x <= 'z' ? x - 32 : x) == (y >= 'a' && y <= 'z' ? y - 32 : y);
           });
}

std::optional<std::int64_t> to_int(std::string_view text) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

std::int64_t integer_of(const Reply& reply) {
    if (reply.kind() == Reply::Kind::Integer) return reply.as_integer();
    if (const auto value = to_int(reply.as_string())) return *value;
    throw CommandError("redis cluster map: expected a number, got '" + reply.as_string() + "'");
}

std::uint16_t slot_of(const Reply& reply) {
    const std::int64_t value = integer_of(reply);
    if (value < 0 || value >= static_cast<std::int64_t>(kSlots)) {
        throw CommandError("redis cluster map: slot " + std::to_string(value) + " out of range");
    }
    return static_cast<std::uint16_t>(value);
}

/// A host as the cluster reports it: "" or nil is the node that was asked, "?" unknown (nullopt).
std::optional<std::string> host_of(const Reply& reply, std::string_view asked_host) {
    if (reply.is_nil()) return std::string(asked_host);
    const std::string& host = reply.as_string();
    if (host == "?") return std::nullopt;
    if (host.empty()) return std::string(asked_host);
    return host;
}

std::optional<std::uint16_t> port_of(const Reply& reply) {
    const std::int64_t port = integer_of(reply);
    if (port <= 0 || port > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(port);
}

/// The value of `name` in a RESP2 flattened map [name, value, name, value, ...]; nullptr when absent.
const Reply* field(const std::vector<Reply>& map, std::string_view name) {
    for (std::size_t i = 0; i + 1 < map.size(); i += 2) {
        if (map[i].kind() != Reply::Kind::Array && map[i].as_string() == name) return &map[i + 1];
    }
    return nullptr;
}

}  // namespace

std::uint16_t crc16(std::string_view bytes) noexcept {
    std::uint16_t crc = 0;
    for (const char c : bytes) {
        crc = static_cast<std::uint16_t>((crc << 8) ^
                                         kCrcTable[((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xff]);
    }
    return crc;
}

std::uint16_t key_slot(std::string_view key) noexcept {
    if (const auto open = key.find('{'); open != std::string_view::npos) {
        if (const auto close = key.find('}', open + 1); close != std::string_view::npos && close > open + 1) {
            key = key.substr(open + 1, close - open - 1);
        }
    }
    return static_cast<std::uint16_t>(crc16(key) & (kSlots - 1));
}

std::optional<std::size_t> first_key_index(const std::vector<std::string>& args) {
    if (args.size() < 2) return std::nullopt;
    const std::string_view name = args[0];
    if (iequals(name, "EVALSHA") || iequals(name, "EVAL") || iequals(name, "EVALSHA_RO") ||
        iequals(name, "EVAL_RO") || iequals(name, "FCALL") || iequals(name, "FCALL_RO")) {
        if (args.size() < 4) return std::nullopt;
        const auto keys = to_int(args[2]);
        if (!keys || *keys <= 0) return std::nullopt;
        return 3;
    }
    static constexpr std::string_view kKeyless[] = {
        "PING",   "ECHO",   "TIME",     "INFO",      "SCRIPT",  "CLUSTER", "DBSIZE",  "FLUSHALL", "FLUSHDB",
        "CLIENT", "CONFIG", "READONLY", "READWRITE", "ASKING",  "AUTH",    "SELECT",  "COMMAND",  "FUNCTION",
        "HELLO",  "QUIT",   "LASTSAVE", "MEMORY",    "SLOWLOG", "LATENCY", "MULTI",   "EXEC",     "DISCARD",
        "WAIT",   "ROLE",   "LOLWUT",   "RANDOMKEY", "SCAN",    "KEYS",    "PUBLISH", "SAVE",     "BGSAVE"};
    for (const std::string_view keyless : kKeyless) {
        if (iequals(name, keyless)) return std::nullopt;
    }
    return 1;
}

std::optional<Redirect> parse_redirect(std::string_view error, std::string_view asked_host) {
    Redirect redirect;
    if (error.starts_with("MOVED ")) {
        redirect.kind = Redirect::Kind::Moved;
        error.remove_prefix(6);
    } else if (error.starts_with("ASK ")) {
        redirect.kind = Redirect::Kind::Ask;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const auto space = error.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const auto slot = to_int(error.substr(0, space));
    if (!slot || *slot < 0 || *slot >= static_cast<std::int64_t>(kSlots)) return std::nullopt;
    redirect.slot = static_cast<std::uint16_t>(*slot);
    std::string_view address = error.substr(space + 1);
    while (!address.empty() && (address.back() == '\r' || address.back() == '\n' || address.back() == ' ')) {
        address.remove_suffix(1);
    }
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto port = to_int(address.substr(colon + 1));
    if (!port || *port <= 0 || *port > 65535) return std::nullopt;
    const std::string_view host = address.substr(0, colon);
    if (host == "?") return std::nullopt;
    redirect.to.host = host.empty() ? std::string(asked_host) : std::string(host);
    redirect.to.port = static_cast<std::uint16_t>(*port);
    return redirect;
}

std::vector<SlotRange> parse_cluster_shards(const Reply& reply, std::string_view asked_host) {
    std::vector<SlotRange> ranges;
    for (const Reply& shard : reply.elements()) {
        const std::vector<Reply>& fields = shard.elements();
        const Reply* slots = field(fields, "slots");
        const Reply* nodes = field(fields, "nodes");
        if (slots == nullptr || nodes == nullptr) {
            throw CommandError("redis CLUSTER SHARDS: a shard without slots/nodes");
        }
        std::optional<NodeAddress> primary;
        std::vector<NodeAddress> replicas;
        for (const Reply& node : nodes->elements()) {
            const std::vector<Reply>& n = node.elements();
            const Reply* health = field(n, "health");
            if (health != nullptr && health->as_string() != "online") continue;
            std::optional<std::string> host;
            for (const std::string_view name : {"endpoint", "ip"}) {
                if (const Reply* value = field(n, name); value != nullptr) {
                    host = host_of(*value, asked_host);
                    if (host) break;
                }
            }
            const Reply* port_field = field(n, "port");
            if (!host || port_field == nullptr) continue;
            const auto port = port_of(*port_field);
            if (!port) continue;
            const Reply* role = field(n, "role");
            NodeAddress address{*host, *port};
            if (role != nullptr && role->as_string() == "master") {
                primary = std::move(address);
            } else {
                replicas.push_back(std::move(address));
            }
        }
        if (!primary) continue;
        const std::vector<Reply>& bounds = slots->elements();
        for (std::size_t i = 0; i + 1 < bounds.size(); i += 2) {
            ranges.push_back(SlotRange{slot_of(bounds[i]), slot_of(bounds[i + 1]), *primary, replicas});
        }
    }
    return ranges;
}

std::vector<SlotRange> parse_cluster_slots(const Reply& reply, std::string_view asked_host) {
    std::vector<SlotRange> ranges;
    for (const Reply& entry : reply.elements()) {
        const std::vector<Reply>& e = entry.elements();
        if (e.size() < 3) throw CommandError("redis CLUSTER SLOTS: an entry without a primary");
        std::vector<NodeAddress> nodes;
        bool primary_known = true;
        for (std::size_t i = 2; i < e.size(); ++i) {
            const std::vector<Reply>& n = e[i].elements();
            if (n.size() < 2) throw CommandError("redis CLUSTER SLOTS: a node without host and port");
            const auto host = host_of(n[0], asked_host);
            const auto port = port_of(n[1]);
            if (!host || !port) {
                if (i == 2) primary_known = false;
                continue;
            }
            nodes.push_back(NodeAddress{*host, *port});
        }
        if (!primary_known || nodes.empty()) continue;
        SlotRange range{slot_of(e[0]), slot_of(e[1]), nodes.front(), {}};
        range.replicas.assign(nodes.begin() + 1, nodes.end());
        ranges.push_back(std::move(range));
    }
    return ranges;
}

ClusterError classify_error(std::string_view error) noexcept {
    if (error.starts_with("MOVED ")) return ClusterError::Moved;
    if (error.starts_with("ASK ")) return ClusterError::Ask;
    if (error.starts_with("TRYAGAIN")) return ClusterError::TryAgain;
    if (error.starts_with("CLUSTERDOWN")) return ClusterError::ClusterDown;
    if (error.starts_with("READONLY")) return ClusterError::ReadOnly;
    if (error.starts_with("MASTERDOWN")) return ClusterError::MasterDown;
    if (error.starts_with("LOADING")) return ClusterError::Loading;
    return ClusterError::None;
}

SlotTable::SlotTable(const std::vector<SlotRange>& ranges) {
    owner_.fill(kNoNode);
    for (const SlotRange& range : ranges) {
        const std::uint16_t index = index_of(range.primary);
        for (std::size_t slot = range.first; slot <= range.last && slot < kSlots; ++slot) {
            owner_[slot] = index;
        }
        for (const NodeAddress& replica : range.replicas) {
            if (std::find(replicas_.begin(), replicas_.end(), replica) == replicas_.end()) {
                replicas_.push_back(replica);
            }
        }
    }
}

std::uint16_t SlotTable::assign(std::uint16_t slot, const NodeAddress& node) {
    const std::uint16_t index = index_of(node);
    owner_[slot & (kSlots - 1)] = index;
    return index;
}

std::uint16_t SlotTable::index_of(const NodeAddress& node) {
    const auto it = std::find(nodes_.begin(), nodes_.end(), node);
    if (it != nodes_.end()) return static_cast<std::uint16_t>(it - nodes_.begin());
    nodes_.push_back(node);
    return static_cast<std::uint16_t>(nodes_.size() - 1);
}

std::size_t SlotTable::unserved() const noexcept {
    return static_cast<std::size_t>(std::count(owner_.begin(), owner_.end(), kNoNode));
}

}  // namespace marquee::redis
