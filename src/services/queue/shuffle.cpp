#include "services/queue/shuffle.hpp"

#include <limits>
#include <random>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace marquee::queue {
namespace {

/// Uniform in [0, bound) without modulo bias: draws below 2^64 mod bound are rejected.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
    const std::uint64_t threshold = (std::numeric_limits<std::uint64_t>::max() - bound + 1) % bound;
    while (true) {
        const std::uint64_t x = rng();
        if (x >= threshold) return x % bound;
    }
}

}  // namespace

ShuffleSeed shuffle_seed(std::string_view secret, std::int64_t schedule_id) {
    const std::string message = "marquee-queue-shuffle:" + std::to_string(schedule_id);
    ShuffleSeed seed{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), seed.data(),
             &length) == nullptr ||
        length != seed.size()) {
        throw std::runtime_error("queue shuffle: HMAC-SHA256 failed");
    }
    return seed;
}

std::string sha256_hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("queue shuffle: SHA-256 failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{2} * length);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0x0f]);
    }
    return out;
}

std::string seed_hash(const ShuffleSeed& seed) {
    return sha256_hex(std::string_view(reinterpret_cast<const char*>(seed.data()), seed.size()));
}

std::vector<std::size_t> shuffled_order(const ShuffleSeed& seed, std::size_t n) {
    std::vector<std::uint32_t> words;
    for (std::size_t i = 0; i < seed.size(); i += 4) {
        words.push_back(std::uint32_t{seed[i]} | std::uint32_t{seed[i + 1]} << 8 |
                        std::uint32_t{seed[i + 2]} << 16 | std::uint32_t{seed[i + 3]} << 24);
    }
    std::seed_seq sequence(words.begin(), words.end());
    std::mt19937_64 rng(sequence);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    for (std::size_t i = n; i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(uniform_below(rng, i));
        std::swap(order[i - 1], order[j]);
    }
    return order;
}

std::vector<std::int64_t> shuffled_places(const ShuffleSeed& seed,
                                          const std::vector<std::int64_t>& arrivals) {
    const std::vector<std::size_t> order = shuffled_order(seed, arrivals.size());
    std::vector<std::int64_t> places(arrivals.size());
    for (std::size_t k = 0; k < order.size(); ++k) places[order[k]] = arrivals[k];
    return places;
}

}  // namespace marquee::queue
