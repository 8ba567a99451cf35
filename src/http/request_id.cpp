#include "http/request_id.hpp"

#include <random>

namespace marquee::http {

std::string new_request_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (std::size_t half = 0; half < 2; ++half) {
        auto bits = rng();
        for (std::size_t i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 0xF];
    }
    return id;
}

std::string accept_request_id(std::string_view from_client) {
    if (from_client.empty() || from_client.size() > 128) return new_request_id();
    for (const char c : from_client) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return new_request_id();
    }
    return std::string(from_client);
}

}  // namespace marquee::http
