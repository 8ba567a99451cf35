#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/pool.hpp"
#include "services/payment/model.hpp"

namespace marquee::payment {

/// A payment to record, PENDING (the gateway or the final transaction is next) or already FAILED with the
/// reason the request was refused, so a retry with the same key gets the same answer.
struct NewPayment {
    std::string user_id;
    std::string reservation_id;
    std::string queue_token_id;
    std::string idempotency_key;
    std::string request_hash;
    std::string method;
    std::int64_t amount = 0;
    std::int64_t points_amount = 0;
    std::int64_t card_amount = 0;
    std::optional<std::string> failure_code;  ///< set: recorded FAILED at once
};

/// Payment's SQL. Reservations and wallets are reached only through booking's and wallet's SQL functions;
/// the final transaction is one call of payment.finish (migrations/payment/0002_payments.sql).
class Store {
  public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    /// The reservation as its owner sees it (expired on read); another user's or unknown: nullopt.
    boost::asio::awaitable<std::optional<Payable>> payable(std::string reservation_id, std::string user_id);
    boost::asio::awaitable<std::int64_t> balance(std::string user_id);

    /// The payment the user made under this Idempotency-Key, if any.
    boost::asio::awaitable<std::optional<Payment>> find_by_key(std::string user_id, std::string key);
    /// The user's own payment; another user's is nullopt (no existence leak).
    boost::asio::awaitable<std::optional<Payment>> find(std::string user_id, std::string payment_id);
    boost::asio::awaitable<Payment> get(std::string payment_id);

    /// Why a new payment could not be recorded.
    enum class Refused {
        SameKey,            ///< another request with this key won the race: find_by_key has it
        PaymentInProgress,  ///< another key's payment for this reservation is PENDING
        AlreadyConfirmed,   ///< another key's payment for this reservation is APPROVED
    };
    /// Records the payment (the id is made here and becomes the gateway's idempotency key).
    boost::asio::awaitable<std::variant<Payment, Refused>> begin(NewPayment payment);

    /// What the request needs before its queue-token check (one read): the payment already made under this
    /// key, if any, with the wallet's balance for the replay's answer; otherwise the schedule of the caller's
    /// reservation (nullopt: no such reservation, or another user's).
    struct Lookup {
        std::optional<Payment> existing;
        std::int64_t balance = 0;
        std::optional<std::int64_t> schedule_id;
    };
    boost::asio::awaitable<Lookup> lookup(std::string user_id, std::string key, std::string reservation_id);

    /// What payment.pay (migrations/payment/0004_pay.sql) came to: `outcome` is one of its outcomes (REPLAY,
    /// NOT_FOUND, WRONG_SCHEDULE, BAD_SPLIT, IN_PROGRESS, ALREADY_CONFIRMED, FAILED, APPROVED, BEGUN).
    struct Paid {
        std::string outcome;
        std::optional<Payment> payment;
        std::int64_t balance = 0;
        std::int64_t schedule_id = 0;
        std::int64_t total = 0;
    };
    /// A whole points payment in one statement, or a card payment recorded PENDING (BEGUN). `schedule_id`
    /// is the schedule the queue token was checked against; `points` the points part of POINTS+CARD.
    boost::asio::awaitable<Paid> pay(NewPayment payment, std::int64_t schedule_id,
                                     std::optional<std::int64_t> points);

    /// What payment.settle came to: payment.finish's outcome, FAILED or PENDING, the payment and the balance.
    struct Settled {
        std::string outcome;
        Payment payment;
        std::int64_t balance = 0;
    };
    /// The gateway's answer to a PENDING payment, applied in one statement: APPROVED (finish; also for a
    /// payment without a card part), DECLINED, NOT_CHARGED, or UNKNOWN (left PENDING).
    boost::asio::awaitable<Settled> settle(std::string payment_id, std::string answer,
                                           std::optional<std::string> pg_transaction_id);

    /// The final transaction (payment.finish): APPROVED, hold-expired, insufficient-points, or the state of a
    /// payment someone else already decided.
    boost::asio::awaitable<std::string> finish(std::string payment_id,
                                               std::optional<std::string> pg_transaction_id);
    /// PENDING → FAILED before any money moved (card declined, gateway unreachable) with payment.failed.
    boost::asio::awaitable<void> fail(std::string payment_id, std::string pg_status,
                                      std::string failure_code);
    /// The card part was cancelled at the gateway.
    boost::asio::awaitable<void> mark_card_cancelled(std::string payment_id);

    /// Claims up to `limit` PENDING payments older than `age` for a recovery pass (a lease committed before
    /// the gateway is asked; FOR UPDATE SKIP LOCKED: safe with several replicas).
    boost::asio::awaitable<std::vector<Payment>> claim_pending(std::chrono::seconds age,
                                                               std::chrono::seconds lease, int limit);
    /// Claims FAILED payments whose card charge the gateway still holds, failed longer than `age` ago (the
    /// request that failed them cancels at once; this is for the cancels that did not get through).
    boost::asio::awaitable<std::vector<Payment>> claim_to_cancel(std::chrono::seconds age,
                                                                 std::chrono::seconds lease, int limit);

  private:
    db::Pool& pool_;
};

}  // namespace marquee::payment
