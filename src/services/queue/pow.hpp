#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "pow/pow.hpp"

namespace marquee::queue {

/// A challenge as the fan gets it (POST /api/v1/schedules/{scheduleId}/queue/challenge).
struct PowChallenge {
    std::string
        challenge;       ///< opaque to the fan: v1.<user>.<schedule>.<expires ms>.<difficulty>.<salt>.<mac>
    int difficulty = 0;  ///< leading zero bits asked of SHA-256(challenge + ":" + nonce)
    std::int64_t expires_at_ms = 0;
};

enum class PowVerdict { Ok, Invalid, Expired };

/// A join body's answer to a challenge: `{"challenge": "...", "nonce": "..."}`.
struct PowAnswer {
    std::string challenge;
    std::string nonce;
};

/// The answer in a join's body; nullopt when either field is missing or not a string (403 `pow-required`).
std::optional<PowAnswer> pow_answer_from(const boost::json::object& body);

/// The hash rule itself is src/pow (shared with marquee-load): the number of leading zero bits of a digest.
using pow::leading_zero_bits;

/// SHA-256 of `challenge + ":" + nonce` has at least `difficulty` leading zero bits.
inline bool pow_solves(std::string_view challenge, std::string_view nonce, int difficulty) {
    return pow::solves(challenge, nonce, difficulty);
}

/// A nonce that solves `challenge` at `difficulty` (the decimal count from 0 up): what marquee-load and the
/// tests do; a browser does the same in a Web Worker (web/pow-worker.js).
inline std::string pow_solve(std::string_view challenge, int difficulty) {
    return std::to_string(pow::solve(challenge, difficulty));
}

/// ADR 0026, proof of work at the waiting room's door. Stateless: a challenge carries the user, the schedule,
/// its expiry, its difficulty and a random salt, signed with HMAC-SHA256 under a key derived from the queue
/// secret, so any replica verifies what any other issued with one HMAC and one SHA-256, and nothing is
/// stored. A solved challenge buys at most one place: joining is idempotent per user and schedule, so
/// presenting it again returns the same token; after that token ends, it could be presented again only until
/// it expires
/// (--queue-pow-ttl-s, 120 s by default).
class ProofOfWork {
  public:
    /// The operator controls' per-schedule difficulty (ADR 0026 leaves the store to them): nullopt = use the
    /// configured default.
    using DifficultyOverride = std::function<boost::asio::awaitable<std::optional<int>>(std::int64_t)>;

    ProofOfWork(std::string_view secret, int default_difficulty, std::chrono::seconds ttl);

    int default_difficulty() const noexcept { return default_difficulty_; }
    /// The difficulty in force for the schedule: the override hook's answer if any, else the in-process
    /// override, else the default. 0 = off.
    boost::asio::awaitable<int> difficulty_for(std::int64_t schedule_id) const;

    /// OPERATOR CONTROLS HOOK: the per-schedule difficulty, `std::nullopt` to go back to the default. Applies
    /// to this process; set_difficulty_override_source wires a store shared by every replica.
    void set_schedule_difficulty_override(std::int64_t schedule_id, std::optional<int> difficulty);
    /// OPERATOR CONTROLS HOOK: asked on every challenge and join (cache it on the other side).
    void set_difficulty_override_source(DifficultyOverride source) { source_ = std::move(source); }

    PowChallenge issue(std::string_view user_id, std::int64_t schedule_id, int difficulty,
                       std::int64_t now_ms) const;
    /// Ok when `challenge` was issued here for this user and schedule, has not expired, asks at least
    /// `required` bits, and `nonce` (1 to 20 decimal digits) solves it; Expired when only the expiry fails.
    PowVerdict verify(std::string_view challenge, std::string_view nonce, std::string_view user_id,
                      std::int64_t schedule_id, int required, std::int64_t now_ms) const;

  private:
    std::string mac(std::string_view payload) const;

    std::string key_;
    int default_difficulty_ = 0;
    std::chrono::seconds ttl_;
    DifficultyOverride source_;
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, int> overrides_;
};

}  // namespace marquee::queue
