#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <boost/json/object.hpp>

#include "core/problem.hpp"
#include "services/payment/model.hpp"

namespace marquee::payment {

/// Reads {reservationId, method, pointsAmount?} from a POST /api/v1/payments body; 400 naming the field
/// otherwise. pointsAmount is required for POINTS+CARD and refused for the other methods.
PayRequest pay_request_from(const boost::json::object& body);

/// The method's name as stored and answered: POINTS, CARD or POINTS+CARD.
std::string method_name(Method method);

/// The points part and the card part of `amount` (KRW). POINTS+CARD needs 1 <= pointsAmount < amount;
/// 400 naming pointsAmount otherwise.
std::pair<std::int64_t, std::int64_t> split(const PayRequest& request, std::int64_t amount);

/// SHA-256 (hex) of what the request asks for, so the same key with another request is refused (409).
std::string pay_request_hash(const PayRequest& request);

/// The problem a FAILED payment answered with, from its failure code; a replay answers it again.
core::Problem failure_problem(const Payment& payment);

}  // namespace marquee::payment
