#include "services/queue/pow.hpp"

#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace marquee::queue {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string hex(const unsigned char* bytes, std::size_t size) {
    std::string out;
    out.reserve(2 * size);
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(kHex[bytes[i] >> 4]);
        out.push_back(kHex[bytes[i] & 0x0f]);
    }
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
             &length) == nullptr) {
        throw std::runtime_error("queue pow: HMAC-SHA256 failed");
    }
    return std::string(reinterpret_cast<const char*>(out), length);
}

std::vector<std::string_view> split(std::string_view text, char by) {
    std::vector<std::string_view> parts;
    std::size_t at = 0;
    while (true) {
        const std::size_t next = text.find(by, at);
        parts.push_back(text.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
        if (next == std::string_view::npos) return parts;
        at = next + 1;
    }
}

template <class T>
std::optional<T> number(std::string_view text) {
    T out{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return out;
}

bool decimal_nonce(std::string_view nonce) {
    if (nonce.empty() || nonce.size() > 20) return false;
    for (const char c : nonce) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

ProofOfWork::ProofOfWork(std::string_view secret, int default_difficulty, std::chrono::seconds ttl)
    : key_(hmac_sha256(secret, "marquee-queue-pow")), default_difficulty_(default_difficulty), ttl_(ttl) {}

void ProofOfWork::set_schedule_difficulty_override(std::int64_t schedule_id, std::optional<int> difficulty) {
    std::lock_guard lock(mutex_);
    if (difficulty) {
        overrides_[schedule_id] = std::max(*difficulty, 0);
    } else {
        overrides_.erase(schedule_id);
    }
}

std::string ProofOfWork::mac(std::string_view payload) const {
    const std::string raw = hmac_sha256(key_, payload);
    return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

PowChallenge ProofOfWork::issue(std::string_view user_id, std::int64_t schedule_id, int difficulty,
                                std::int64_t now_ms) const {
    std::array<unsigned char, 16> salt{};
    if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
        throw std::runtime_error("queue pow: RAND_bytes failed");
    }
    PowChallenge out;
    out.difficulty = difficulty;
    out.expires_at_ms = now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
    std::string payload = "v1.";
    payload.append(user_id);
    payload += "." + std::to_string(schedule_id) + "." + std::to_string(out.expires_at_ms) + "." +
               std::to_string(difficulty) + "." + hex(salt.data(), salt.size());
    out.challenge = payload + "." + mac(payload);
    return out;
}

PowVerdict ProofOfWork::verify(std::string_view challenge, std::string_view nonce, std::string_view user_id,
                               std::int64_t schedule_id, int required, std::int64_t now_ms) const {
    if (challenge.size() > 512) return PowVerdict::Invalid;
    const std::vector<std::string_view> parts = split(challenge, '.');
    if (parts.size() != 7 || parts[0] != "v1") return PowVerdict::Invalid;
    const std::size_t mac_at = challenge.size() - parts[6].size() - 1;
    const std::string expected = mac(challenge.substr(0, mac_at));
    if (parts[6].size() != expected.size() ||
        CRYPTO_memcmp(parts[6].data(), expected.data(), expected.size()) != 0) {
        return PowVerdict::Invalid;  // tampered, or not ours
    }
    const auto schedule = number<std::int64_t>(parts[2]);
    const auto expires = number<std::int64_t>(parts[3]);
    const auto difficulty = number<int>(parts[4]);
    if (parts[1] != user_id || !schedule || *schedule != schedule_id || !expires || !difficulty) {
        return PowVerdict::Invalid;  // someone else's, or another schedule's
    }
    if (*expires <= now_ms) return PowVerdict::Expired;
    // A challenge issued before the operator raised the difficulty asks too little: fetch a new one.
    if (*difficulty < required) return PowVerdict::Invalid;
    if (!decimal_nonce(nonce) || !pow_solves(challenge, nonce, *difficulty)) return PowVerdict::Invalid;
    return PowVerdict::Ok;
}

std::optional<PowAnswer> pow_answer_from(const boost::json::object& body) {
    const auto* challenge = body.if_contains("challenge");
    const auto* nonce = body.if_contains("nonce");
    if (challenge == nullptr || nonce == nullptr || !challenge->is_string() || !nonce->is_string()) {
        return std::nullopt;
    }
    return PowAnswer{std::string(challenge->as_string()), std::string(nonce->as_string())};
}

}  // namespace marquee::queue
