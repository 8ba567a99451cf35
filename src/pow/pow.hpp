#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace marquee::pow {

/// ADR 0026: a nonce (decimal) solves a challenge at `difficulty` when SHA-256 of `challenge + ":" + nonce`
/// has at least `difficulty` leading zero bits. The queue service checks it (services/queue/pow.hpp),
/// marquee-load and the tests solve it, a browser does the same in a Web Worker (web/pow-worker.js).

/// The number of leading zero bits of a digest.
int leading_zero_bits(const unsigned char* digest, std::size_t size);

/// Whether `nonce` solves `challenge` at `difficulty` (difficulty 0 or less asks nothing).
bool solves(std::string_view challenge, std::string_view nonce, int difficulty);

/// The smallest nonce that solves `challenge` at `difficulty`, counting up from 0 (so nonce + 1 hashes).
std::uint64_t solve(std::string_view challenge, int difficulty);

}  // namespace marquee::pow
