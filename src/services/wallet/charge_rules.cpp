#include "services/wallet/charge_rules.hpp"

#include "core/problem.hpp"
#include "http/idempotency.hpp"

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

std::string charge_request_hash(std::int64_t amount) {
    return http::request_hash("charge:amount=" + std::to_string(amount));
}

}  // namespace marquee::wallet
