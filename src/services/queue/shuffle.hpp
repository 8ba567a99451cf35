#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace marquee::queue {

/// ADR 0026, the fair start's shuffle, pure and deterministic: the same secret and schedule always give the
/// same order, so it can be audited by recomputing it from queue.queue_tokens (`arrival` -> `position`).

/// 32 bytes of HMAC-SHA256.
using ShuffleSeed = std::array<unsigned char, 32>;

/// HMAC-SHA256(secret, "marquee-queue-shuffle:" + schedule id in decimal).
ShuffleSeed shuffle_seed(std::string_view secret, std::int64_t schedule_id);

/// Lower-case hex SHA-256 of `bytes` (what is logged and stored of a seed: never the seed itself).
std::string sha256_hex(std::string_view bytes);
std::string seed_hash(const ShuffleSeed& seed);

/// A uniform random permutation of 0..n-1 (Fisher-Yates, high index down, each swap partner drawn without
/// bias by rejection from std::mt19937_64 seeded with std::seed_seq over the seed's eight little-endian
/// 32-bit words; both are specified by the C++ standard, so any conforming library gives the same order).
/// `order[k]` is the index, in arrival order, of the fan who gets the k-th place.
std::vector<std::size_t> shuffled_order(const ShuffleSeed& seed, std::size_t n);

/// The places of a pre-queue: `arrivals` are the pre-queued tokens' arrival numbers in ascending order; the
/// fan at arrival index order[k] gets arrivals[k] (the same set of numbers, so every fan who arrives after
/// the opening still queues behind all of them). Returns place by arrival index.
std::vector<std::int64_t> shuffled_places(const ShuffleSeed& seed, const std::vector<std::int64_t>& arrivals);

}  // namespace marquee::queue
