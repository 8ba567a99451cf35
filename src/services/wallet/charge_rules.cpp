#include "services/wallet/charge_rules.hpp"

#include <optional>

#include <openssl/evp.h>

#include "core/problem.hpp"

namespace marquee::wallet {

std::int64_t charge_amount(const boost::json::object& body) {
    const auto* amount = body.if_contains("amount");
    if (amount == nullptr || !amount->is_int64() || amount->as_int64() < kMinCharge ||
        amount->as_int64() > kMaxCharge) {
        throw core::Problem::invalid_field("amount", "must be an integer number of KRW between " +
                                                         std::to_string(kMinCharge) + " and " +
                                                         std::to_string(kMaxCharge));
    }
    return amount->as_int64();
}

std::string idempotency_key(std::optional<std::string_view> header) {
    if (!header || header->empty() || header->size() > 255) {
        throw core::Problem::invalid_field(
            "Idempotency-Key", "money-moving requests need an Idempotency-Key header of 1..255 characters");
    }
    for (const char c : *header) {
        if (c < 0x21 || c > 0x7e) {
            throw core::Problem::invalid_field("Idempotency-Key",
                                               "the Idempotency-Key must be visible ASCII");
        }
    }
    return std::string(*header);
}

std::string charge_request_hash(std::int64_t amount) {
    const std::string canonical = "charge:amount=" + std::to_string(amount);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0xF];
    }
    return hex;
}

}  // namespace marquee::wallet
