#include "services/queue/token_id.hpp"

#include <array>
#include <cctype>
#include <stdexcept>

#include <openssl/rand.h>

#include "core/ids.hpp"

namespace marquee::queue {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::size_t kTextSize = 36;

}  // namespace

std::string new_token_id() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        // Without the CSPRNG a token would be guessable: refuse rather than degrade.
        throw std::runtime_error("RAND_bytes failed: no secure randomness for a queue token");
    }
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // variant 10xx (RFC 9562)
    std::string text;
    text.reserve(kTextSize);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
        text.push_back(kHex[bytes[i] >> 4]);
        text.push_back(kHex[bytes[i] & 0x0f]);
    }
    return text;
}

std::optional<std::string> normalize_token_id(std::string_view text) {
    return core::normalize_uuid(text);
}

}  // namespace marquee::queue
