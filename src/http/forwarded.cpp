#include "http/forwarded.hpp"

#include <boost/asio/ip/address.hpp>

#include "core/config.hpp"

namespace marquee::http {

namespace ip = boost::asio::ip;

namespace {

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

/// An address as 16 bytes (IPv4 mapped into IPv6), or nullopt if it is not one.
std::optional<std::array<unsigned char, 16>> bytes_of(const std::string& text) {
    boost::system::error_code ec;
    const auto address = ip::make_address(text, ec);
    if (ec) return std::nullopt;
    if (address.is_v4()) return ip::make_address_v6(ip::v4_mapped, address.to_v4()).to_bytes();
    return address.to_v6().to_bytes();
}

}  // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) {
    for (const auto& entry : cidrs) {
        const auto slash = entry.find('/');
        const std::string host = trim(std::string_view(entry).substr(0, slash));
        boost::system::error_code ec;
        const auto address = ip::make_address(host, ec);
        if (ec) throw core::ConfigError("trusted-proxies: '" + entry + "' is not an address or CIDR network");
        const unsigned max = address.is_v4() ? 32 : 128;
        unsigned prefix = max;
        if (slash != std::string::npos) {
            const std::string bits = trim(std::string_view(entry).substr(slash + 1));
            if (bits.empty() || bits.size() > 3 ||
                bits.find_first_not_of("0123456789") != std::string::npos || std::stoul(bits) > max) {
                throw core::ConfigError("trusted-proxies: '" + entry + "' has a bad prefix length");
            }
            prefix = static_cast<unsigned>(std::stoul(bits));
        }
        Network network;
        network.bytes = *bytes_of(host);
        network.prefix = address.is_v4() ? prefix + 96 : prefix;
        networks_.push_back(network);
    }
}

bool TrustedProxies::trusts(std::string_view address) const {
    const auto bytes = bytes_of(std::string(address));
    if (!bytes) return false;
    for (const auto& network : networks_) {
        unsigned bits = network.prefix;
        bool match = true;
        for (std::size_t i = 0; i < 16 && bits > 0 && match; ++i) {
            const unsigned take = bits >= 8 ? 8 : bits;
            const auto mask = static_cast<unsigned char>(0xFF << (8 - take));
            match = ((*bytes)[i] & mask) == (network.bytes[i] & mask);
            bits -= take;
        }
        if (match) return true;
    }
    return false;
}

std::string TrustedProxies::client_address(const std::string& peer,
                                           std::optional<std::string_view> forwarded_for) const {
    if (networks_.empty() || !forwarded_for || !trusts(peer)) return peer;
    // Right to left: the nearest hop first; the first hop we do not trust is the client.
    std::string_view rest = *forwarded_for;
    std::string client = peer;
    while (!rest.empty()) {
        const auto comma = rest.rfind(',');
        const std::string hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (!bytes_of(hop)) break;  // garbage: stop at the last address we could vouch for
        client = hop;
        if (!trusts(hop)) break;
    }
    return client;
}

}  // namespace marquee::http
