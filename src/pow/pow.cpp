#include "pow/pow.hpp"

#include <string>

#include <openssl/evp.h>

namespace marquee::pow {

int leading_zero_bits(const unsigned char* digest, std::size_t size) {
    int bits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        if (digest[i] == 0) {
            bits += 8;
            continue;
        }
        for (int b = 7; b >= 0 && (digest[i] & (1U << b)) == 0; --b) ++bits;
        break;
    }
    return bits;
}

bool solves(std::string_view challenge, std::string_view nonce, int difficulty) {
    if (difficulty <= 0) return true;
    std::string input;
    input.reserve(challenge.size() + 1 + nonce.size());
    input.append(challenge).push_back(':');
    input.append(nonce);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr) != 1) return false;
    return leading_zero_bits(digest, length) >= difficulty;
}

std::uint64_t solve(std::string_view challenge, int difficulty) {
    std::string input(challenge);
    input.push_back(':');
    const std::size_t base = input.size();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    for (std::uint64_t nonce = 0;; ++nonce) {
        input.resize(base);
        input += std::to_string(nonce);
        EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
        if (leading_zero_bits(digest, length) >= difficulty) return nonce;
    }
}

}  // namespace marquee::pow
