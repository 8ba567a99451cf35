#include "payment_gateway/client.hpp"

#include <random>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "core/problem.hpp"

namespace marquee::payment_gateway {

namespace asio = boost::asio;

struct Client::Attempt {
    enum class Kind { Answered, NotSent, MaybeSent, CircuitOpen };
    Kind kind = Kind::NotSent;
    http::ClientResponse response;
    std::string detail;
    /// Set by call_with_retries: some attempt may have been acted on without an answer saying so.
    bool maybe_delivered = false;
};

namespace {

/// Idempotency keys and payment keys are ours or the gateway's ids: a narrow alphabet keeps them safe in a
/// URL.
std::string checked_key(const std::string& key) {
    if (key.empty() || key.size() > 128) throw std::invalid_argument("payment key must be 1..128 characters");
    for (const char c : key) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) throw std::invalid_argument("payment key has a character outside [A-Za-z0-9-_.:]");
    }
    return key;
}

Charge parse_charge(const http::ClientResponse& response) {
    boost::system::error_code ec;
    const auto doc = boost::json::parse(response.body, ec);
    if (ec || !doc.is_object()) {
        throw std::runtime_error("payment gateway answered 200 with an unreadable body");
    }
    const auto& object = doc.as_object();
    const auto* status = object.if_contains("status");
    const auto* key = object.if_contains("paymentKey");
    if (status == nullptr || !status->is_string() || key == nullptr || !key->is_string()) {
        throw std::runtime_error("payment gateway answered 200 without status or paymentKey");
    }
    Charge charge;
    charge.payment_key = std::string(key->as_string());
    if (status->as_string() == "APPROVED") {
        charge.status = ChargeStatus::Approved;
    } else if (status->as_string() == "DECLINED") {
        charge.status = ChargeStatus::Declined;
        if (const auto* code = object.if_contains("declineCode"); code != nullptr && code->is_string()) {
            charge.decline_code = std::string(code->as_string());
        }
    } else {
        // CANCELLED under an approve key: it was charged and refunded; to the payment it is not a charge.
        charge.status = ChargeStatus::NotCharged;
        charge.detail = "the gateway holds this charge as " + std::string(status->as_string());
    }
    return charge;
}

}  // namespace

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      breaker_(std::make_shared<CircuitBreaker>(options_.breaker)),
      http_(executor_, http::Client::Options{options_.url, options_.call_timeout}) {}

ClientOptions options_from(const core::Config& config) {
    ClientOptions options;
    options.url = config.payment_gateway_url;
    options.call_timeout = config.payment_gateway_timeout;
    return options;
}

CircuitBreaker::State Client::breaker_state() const {
    return breaker_->state(CircuitBreaker::Clock::now());
}

void Client::expose_metrics(core::MetricsRegistry& metrics, std::string caller) const {
    auto& open = metrics
                     .gauge("payment_gateway_circuit_open",
                            "1 while the payment gateway's circuit breaker is open or half-open")
                     .with({{"caller", caller}});
    auto& shed = metrics
                     .counter("payment_gateway_calls_shed_total",
                              "calls to the payment gateway refused at once: the client's bound of calls in "
                              "flight was reached")
                     .with({{"caller", caller}});
    auto& opened =
        metrics
            .counter("payment_gateway_connections_opened_total",
                     "connections opened to the payment gateway (kept open and reused between calls)")
            .with({{"caller", std::move(caller)}});
    metrics.on_scrape([this, &open, &shed, &opened] {
        open.set(breaker_state() == CircuitBreaker::State::Closed ? 0.0 : 1.0);
        const auto stats = http_.stats();
        shed.advance_to(stats.busy);
        opened.advance_to(stats.connections_opened);
    });
}

asio::awaitable<Client::Attempt> Client::call(std::string method, std::string target, std::string body,
                                              http::Fields headers) {
    Attempt attempt;
    if (!breaker_->allow(CircuitBreaker::Clock::now())) {
        attempt.kind = Attempt::Kind::CircuitOpen;
        attempt.detail = "the payment gateway circuit is open after repeated failures";
        co_return attempt;
    }
    try {
        attempt.response =
            co_await http_.request(std::move(method), std::move(target), std::move(body), std::move(headers));
        attempt.kind = Attempt::Kind::Answered;
    } catch (const http::ClientError& e) {
        attempt.kind = e.maybe_delivered() ? Attempt::Kind::MaybeSent : Attempt::Kind::NotSent;
        attempt.detail = e.what();
        // Our own bound on calls in flight: nothing was sent, and the gateway is not failing.
        if (e.kind() == http::ClientError::Kind::Busy) co_return attempt;
    }
    if (attempt.kind == Attempt::Kind::Answered && attempt.response.status < 500) {
        breaker_->record_success();
    } else {
        breaker_->record_failure(CircuitBreaker::Clock::now());
    }
    co_return attempt;
}

namespace {

asio::awaitable<void> back_off(std::chrono::milliseconds base, int attempt) {
    thread_local std::mt19937 rng{std::random_device{}()};
    const auto delay = base * (1 << std::min(attempt - 1, 6));
    const auto jitter = std::uniform_int_distribution<std::int64_t>(0, delay.count() / 2 + 1)(rng);
    asio::steady_timer timer(co_await asio::this_coro::executor, delay + std::chrono::milliseconds(jitter));
    co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

asio::awaitable<Client::Attempt> Client::call_with_retries(std::string method, std::string target,
                                                           std::string body, http::Fields headers) {
    Attempt result;
    bool maybe_delivered = false;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
        if (attempt > 1) {
            co_await back_off(options_.backoff, attempt - 1);
        }
        result = co_await call(method, target, body, headers);
        if (result.kind == Attempt::Kind::CircuitOpen) break;  // no point retrying before the cool-down
        if (result.kind == Attempt::Kind::Answered && result.response.status < 500) break;
        // 503 means the gateway did nothing; a 504, another 5xx or a lost answer may hide an action.
        if (result.kind == Attempt::Kind::MaybeSent ||
            (result.kind == Attempt::Kind::Answered && result.response.status != 503)) {
            maybe_delivered = true;
        }
        if (result.kind == Attempt::Kind::Answered) {
            result.detail = "payment gateway answered " + std::to_string(result.response.status);
        }
    }
    result.maybe_delivered = maybe_delivered;
    co_return result;
}

asio::awaitable<Charge> Client::approve(std::string idempotency_key, std::string order_id,
                                        std::int64_t amount) {
    const std::string key = checked_key(idempotency_key);
    std::string body = boost::json::serialize(boost::json::object{{"orderId", order_id}, {"amount", amount}});
    http::Fields headers{{"Idempotency-Key", key}, {"Content-Type", "application/json"}};
    const auto result =
        co_await call_with_retries("POST", "/v1/payments", std::move(body), std::move(headers));
    if (result.kind == Attempt::Kind::Answered && result.response.status == 200) {
        co_return parse_charge(result.response);
    }
    if (result.kind == Attempt::Kind::Answered && result.response.status < 500) {
        // A 4xx is our bug (a malformed request, or a key reused with another amount): never retried.
        throw std::runtime_error("payment gateway refused the charge with " +
                                 std::to_string(result.response.status) + ": " + result.response.body);
    }
    // The answer may have been lost after the charge: ask by key before deciding anything.
    if (result.maybe_delivered) {
        co_return co_await find(key);
    }
    Charge charge;
    charge.status = ChargeStatus::NotCharged;
    charge.detail = result.detail;
    co_return charge;
}

asio::awaitable<Charge> Client::find(std::string idempotency_key) {
    std::string target = "/v1/payments?idempotencyKey=" + checked_key(idempotency_key);
    // A lookup changes nothing: only its answer matters, not whether an attempt was delivered.
    const auto result = co_await call_with_retries("GET", std::move(target), {}, {});
    if (result.kind == Attempt::Kind::Answered && result.response.status == 404) {
        Charge none;
        none.status = ChargeStatus::NotCharged;
        none.detail = "the gateway holds no charge for this key";
        co_return none;
    }
    if (result.kind == Attempt::Kind::Answered && result.response.status == 200) {
        co_return parse_charge(result.response);
    }
    if (result.kind == Attempt::Kind::Answered && result.response.status < 500) {
        throw std::runtime_error("payment gateway refused the lookup with " +
                                 std::to_string(result.response.status));
    }
    Charge unknown;
    unknown.status = ChargeStatus::Unknown;
    unknown.detail = result.detail.empty() ? "the payment gateway could not be asked" : result.detail;
    co_return unknown;
}

asio::awaitable<void> Client::cancel(std::string payment_key) {
    std::string target = "/v1/payments/" + checked_key(payment_key) + "/cancel";
    http::Fields headers{{"Content-Type", "application/json"}};
    // Cancelling is idempotent: a repeat is harmless, and only the final answer matters.
    const auto result = co_await call_with_retries("POST", std::move(target), "{}", std::move(headers));
    if (result.kind == Attempt::Kind::Answered && result.response.status == 200) co_return;
    if (result.kind == Attempt::Kind::Answered && result.response.status < 500) {
        throw std::runtime_error("payment gateway refused the cancel with " +
                                 std::to_string(result.response.status) + ": " + result.response.body);
    }
    throw core::Problem::unavailable("pg", "the payment gateway cannot be reached: " + result.detail);
}

asio::awaitable<RefundAnswer> Client::refund(std::string idempotency_key, std::string payment_key,
                                             std::int64_t amount) {
    const std::string key = checked_key(idempotency_key);
    std::string target = "/v1/payments/" + checked_key(payment_key) + "/refunds";
    std::string body = boost::json::serialize(boost::json::object{{"amount", amount}});
    http::Fields headers{{"Idempotency-Key", key}, {"Content-Type", "application/json"}};
    const auto result =
        co_await call_with_retries("POST", std::move(target), std::move(body), std::move(headers));
    RefundAnswer answer;
    if (result.kind == Attempt::Kind::Answered && result.response.status == 200) {
        boost::system::error_code ec;
        const auto doc = boost::json::parse(result.response.body, ec);
        const auto* refund_key = !ec && doc.is_object() ? doc.as_object().if_contains("refundKey") : nullptr;
        if (refund_key != nullptr && refund_key->is_string()) {
            answer.status = RefundStatus::Refunded;
            answer.refund_key = std::string(refund_key->as_string());
            co_return answer;
        }
        answer.detail = "payment gateway answered 200 without refundKey";
        co_return answer;  // Unknown: ask again later
    }
    if (result.kind == Attempt::Kind::Answered && result.response.status < 500) {
        answer.status = RefundStatus::Refused;
        answer.detail = "payment gateway refused the refund with " + std::to_string(result.response.status) +
                        ": " + result.response.body;
        co_return answer;
    }
    answer.status = result.maybe_delivered ? RefundStatus::Unknown : RefundStatus::NotRefunded;
    answer.detail = result.detail;
    co_return answer;
}

}  // namespace marquee::payment_gateway
