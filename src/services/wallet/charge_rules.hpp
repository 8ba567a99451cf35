#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

namespace marquee::wallet {

inline constexpr std::int64_t kMinCharge = 1'000;       ///< KRW
inline constexpr std::int64_t kMaxCharge = 10'000'000;  ///< KRW, per top-up

/// The amount of a charge request: an integer in [kMinCharge, kMaxCharge]; Problem 400 naming "amount".
std::int64_t charge_amount(const boost::json::object& body);

/// SHA-256 (hex) of what the request asks for, so the same key with another request is refused (409).
std::string charge_request_hash(std::int64_t amount);

}  // namespace marquee::wallet
