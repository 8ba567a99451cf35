#include "services/payment/rules.hpp"

#include "core/ids.hpp"
#include "http/idempotency.hpp"

namespace marquee::payment {

namespace json = boost::json;

PayRequest pay_request_from(const json::object& body) {
    PayRequest request;
    const auto* reservation = body.if_contains("reservationId");
    auto id = reservation != nullptr && reservation->is_string()
                  ? core::normalize_uuid(std::string_view(reservation->as_string()))
                  : std::nullopt;
    if (!id) {
        throw core::Problem::invalid_field("reservationId", "must be the id (a UUID) of your reservation");
    }
    request.reservation_id = std::move(*id);

    const auto* method = body.if_contains("method");
    const json::string* name = method != nullptr && method->is_string() ? &method->as_string() : nullptr;
    if (name != nullptr && *name == "POINTS") {
        request.method = Method::Points;
    } else if (name != nullptr && *name == "CARD") {
        request.method = Method::Card;
    } else if (name != nullptr && *name == "POINTS+CARD") {
        request.method = Method::PointsAndCard;
    } else {
        throw core::Problem::invalid_field("method", "must be POINTS, CARD or POINTS+CARD");
    }

    const auto* points = body.if_contains("pointsAmount");
    if (request.method == Method::PointsAndCard) {
        if (points == nullptr || !points->is_int64() || points->as_int64() < 1) {
            throw core::Problem::invalid_field(
                "pointsAmount", "POINTS+CARD needs the points part: a positive integer of KRW");
        }
        request.points_amount = points->as_int64();
    } else if (points != nullptr && !points->is_null()) {
        throw core::Problem::invalid_field("pointsAmount", "only POINTS+CARD takes a points part");
    }
    return request;
}

std::string method_name(Method method) {
    switch (method) {
        case Method::Points:
            return "POINTS";
        case Method::Card:
            return "CARD";
        case Method::PointsAndCard:
            return "POINTS+CARD";
    }
    return "POINTS";
}

std::pair<std::int64_t, std::int64_t> split(const PayRequest& request, std::int64_t amount) {
    switch (request.method) {
        case Method::Points:
            return {amount, 0};
        case Method::Card:
            return {0, amount};
        case Method::PointsAndCard: {
            const std::int64_t points = request.points_amount.value_or(0);
            if (points < 1 || points >= amount) {
                throw core::Problem::invalid_field(
                    "pointsAmount", "the points part must be between 1 and " + std::to_string(amount - 1) +
                                        " (the reservation costs " + std::to_string(amount) + " KRW)");
            }
            return {points, amount - points};
        }
    }
    return {amount, 0};
}

std::string pay_request_hash(const PayRequest& request) {
    std::string canonical =
        "payment:reservation=" + request.reservation_id + ";method=" + method_name(request.method);
    if (request.points_amount) canonical += ";points=" + std::to_string(*request.points_amount);
    return http::request_hash(canonical);
}

core::Problem failure_problem(const Payment& payment) {
    const std::string code = payment.failure_code.value_or("payment-failed");
    core::Problem problem = [&] {
        if (code == "hold-expired") {
            return core::Problem::gone("hold-expired",
                                       "the hold expired or was released before it was paid; any card part "
                                       "was refunded");
        }
        if (code == "insufficient-points") {
            return core::Problem{402, "insufficient-points", "Payment required",
                                 "the wallet does not hold enough points for the points part; nothing was "
                                 "charged"};
        }
        if (code == "card-declined") {
            return core::Problem{402, "card-declined", "Payment required",
                                 "the card was declined; nothing was charged"};
        }
        if (code == "already-confirmed") {
            return core::Problem::conflict("already-confirmed", "this reservation is already paid");
        }
        if (code == "pg-unavailable") {
            return core::Problem::unavailable("pg",
                                              "the payment gateway could not take the card part; nothing was "
                                              "charged");
        }
        return core::Problem::conflict("payment-failed", "the payment failed: " + code);
    }();
    problem.with("paymentId", boost::json::value(payment.id));
    return problem;
}

}  // namespace marquee::payment
