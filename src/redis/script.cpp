#include "redis/script.hpp"

#include <array>
#include <memory>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>

namespace marquee::redis {
namespace {

std::string sha1_hex(const std::string& text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr) != 1) {
        throw std::runtime_error("SHA-1 of a Lua script failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(std::size_t{size} * 2);
    for (unsigned int i = 0; i < size; ++i) {
        hex.push_back(kHex[digest[i] >> 4]);
        hex.push_back(kHex[digest[i] & 0x0f]);
    }
    return hex;
}

}  // namespace

Script::Script(std::string source) {
    std::string sha = sha1_hex(source);
    text_ = std::make_shared<const Text>(Text{std::move(source), std::move(sha)});
}

}  // namespace marquee::redis
