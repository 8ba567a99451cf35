#include "http/idempotency.hpp"

#include <openssl/evp.h>

#include "core/problem.hpp"

namespace marquee::http {

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

bool first_request_may_be_running(std::string_view state, std::chrono::milliseconds age,
                                  std::chrono::seconds recovery_age) {
    return state == "PENDING" && age < recovery_age;
}

void throw_key_in_flight() {
    throw core::Problem(409, "idempotency-key-in-flight", "Conflict",
                        "the first request with this Idempotency-Key is still being processed; ask again")
        .with_header("Retry-After", "1");
}

std::string request_hash(std::string_view canonical) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(std::size_t{length} * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0xF];
    }
    return hex;
}

}  // namespace marquee::http
