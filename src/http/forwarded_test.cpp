#include "http/forwarded.hpp"

#include <gtest/gtest.h>

#include "core/config.hpp"

namespace marquee::http {
namespace {

TEST(TrustedProxies, WithoutTrustedProxiesTheHeaderIsIgnored) {
    const TrustedProxies none;
    EXPECT_EQ(none.client_address("10.1.2.3", "203.0.113.9"), "10.1.2.3");
}

TEST(TrustedProxies, APeerWeDoNotTrustCannotForgeItsAddress) {
    const TrustedProxies proxies({"10.0.0.0/8"});
    EXPECT_EQ(proxies.client_address("198.51.100.4", "203.0.113.9"), "198.51.100.4");
}

TEST(TrustedProxies, TheRightmostUntrustedHopIsTheClient) {
    const TrustedProxies proxies({"10.0.0.0/8", "192.168.1.7"});
    EXPECT_EQ(proxies.client_address("10.1.2.3", "203.0.113.9"), "203.0.113.9");
    // The client wrote "1.1.1.1" itself; the ingress appended the real address.
    EXPECT_EQ(proxies.client_address("10.1.2.3", "1.1.1.1, 203.0.113.9"), "203.0.113.9");
    EXPECT_EQ(proxies.client_address("10.1.2.3", "203.0.113.9, 192.168.1.7,10.9.9.9"), "203.0.113.9");
    EXPECT_EQ(proxies.client_address("10.1.2.3", std::nullopt), "10.1.2.3");
}

TEST(TrustedProxies, GarbageStopsAtTheLastAddressWeCouldVouchFor) {
    const TrustedProxies proxies({"10.0.0.0/8"});
    EXPECT_EQ(proxies.client_address("10.1.2.3", "not-an-ip"), "10.1.2.3");
    EXPECT_EQ(proxies.client_address("10.1.2.3", "203.0.113.9, ,10.0.0.5"), "10.0.0.5");
}

TEST(TrustedProxies, MatchesNetworksOfBothFamilies) {
    const TrustedProxies proxies({"10.0.0.0/8", "fd00::/8", "172.16.0.0/12"});
    EXPECT_TRUE(proxies.trusts("10.255.0.1"));
    EXPECT_TRUE(proxies.trusts("172.31.255.255"));
    EXPECT_FALSE(proxies.trusts("172.32.0.1"));
    EXPECT_TRUE(proxies.trusts("fd12::1"));
    EXPECT_FALSE(proxies.trusts("fe80::1"));
    EXPECT_TRUE(proxies.trusts("::ffff:10.0.0.1"));
    EXPECT_FALSE(proxies.trusts("11.0.0.1"));
    EXPECT_FALSE(proxies.trusts("garbage"));
}

TEST(TrustedProxies, BadEntriesAreConfigErrors) {
    EXPECT_THROW(TrustedProxies({"10.0.0.0/33"}), core::ConfigError);
    EXPECT_THROW(TrustedProxies({"10.0.0/8"}), core::ConfigError);
    EXPECT_THROW(TrustedProxies({"fd00::/129"}), core::ConfigError);
    EXPECT_THROW(TrustedProxies({"10.0.0.0/x"}), core::ConfigError);
    EXPECT_NO_THROW(TrustedProxies({"127.0.0.1", "::1"}));
}

}  // namespace
}  // namespace marquee::http
