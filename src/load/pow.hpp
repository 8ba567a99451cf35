#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace marquee::load {

/// ADR 0026: the proof of work a fan pays to join a waiting room. A nonce (decimal) such that SHA-256 of
/// `challenge + ":" + nonce` has at least `difficulty` leading zero bits, found by pow::solve (the rule the
/// server checks, src/pow). Counts each solve in pow_report().
std::string solve_pow(std::string_view challenge, int difficulty);

/// The body of a join after POST .../queue/challenge answered `challenge_body` (a JSON text): "" when the
/// difficulty is 0 or the answer is not a challenge, else {"challenge": ..., "nonce": ...}.
std::string pow_join_body(std::string_view challenge_body);

/// What the solves of this process cost so far: {"solved", "hashes", "cpu_ms_total", "ms_mean", "ms_max",
/// "hashes_per_second"}; empty when none.
boost::json::object pow_report();

}  // namespace marquee::load
