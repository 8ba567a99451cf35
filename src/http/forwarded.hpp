#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marquee::http {

/// The client's address behind reverse proxies we trust (the NGINX Ingress, a load balancer). A request from
/// a trusted proxy carries the chain in `X-Forwarded-For`; its rightmost address that is not itself a
/// trusted proxy is the client (anything left of it was written by the client and can be forged). A request
/// from any other peer is that peer, whatever its headers say. With no trusted proxies (the default), the
/// header is never read.
class TrustedProxies {
  public:
    TrustedProxies() = default;
    /// `cidrs`: addresses or networks, e.g. "10.0.0.0/8", "192.168.1.7", "fd00::/8". Throws
    /// core::ConfigError naming a bad entry.
    explicit TrustedProxies(const std::vector<std::string>& cidrs);

    bool empty() const noexcept { return networks_.empty(); }
    bool trusts(std::string_view address) const;
    std::string client_address(const std::string& peer, std::optional<std::string_view> forwarded_for) const;

  private:
    struct Network {
        std::array<unsigned char, 16> bytes{};  ///< IPv4 as IPv4-mapped IPv6
        unsigned prefix = 0;                    ///< bits, of the 128
    };
    std::vector<Network> networks_;
};

}  // namespace marquee::http
