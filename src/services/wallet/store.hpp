#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/pool.hpp"
#include "services/wallet/model.hpp"

namespace marquee::wallet {

/// Wallet's SQL, as named queries. Money moves only through the wallet.apply() family of SQL functions.
class Store {
  public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

    /// Records a PENDING charge for (user, key), or returns the one already recorded under that key
    /// (second: whether this call created it).
    boost::asio::awaitable<std::pair<Charge, bool>> begin_charge(std::string user_id, std::string key,
                                                                 std::string request_hash,
                                                                 std::int64_t amount);
    /// wallet.begin_charge (migrations/wallet/0004): the charge recorded for (user, key), created now or
    /// earlier, with the balance a replay answers with (created: 0).
    struct Begun {
        Charge charge;
        bool created = false;
        std::int64_t balance = 0;
    };
    boost::asio::awaitable<Begun> begin(std::string user_id, std::string key, std::string request_hash,
                                        std::int64_t amount);

    /// wallet.settle_charge: the gateway's answer applied in one statement (APPROVED, DECLINED with the
    /// gateway's decline code, NOT_CHARGED, or UNKNOWN: left PENDING), with the charge and the balance after.
    /// outcome: CREDITED, ALREADY_APPROVED, WAS_FAILED (the caller refunds the gateway), or the charge's
    /// state.
    struct Settled {
        std::string outcome;
        Charge charge;
        std::int64_t balance = 0;
    };
    boost::asio::awaitable<Settled> settle(std::string charge_id, std::string answer,
                                           std::optional<std::string> pg_transaction_id,
                                           std::optional<std::string> decline_code);

    /// The user's own charge; another user's is nullopt (no existence leak).
    boost::asio::awaitable<std::optional<Charge>> find_charge(std::string user_id, std::string charge_id);
    boost::asio::awaitable<Charge> get_charge(std::string charge_id);

    enum class Applied { Credited, AlreadyApproved, WasFailed };
    /// PENDING → APPROVED and the credit with its ledger row, in one transaction. WasFailed: the charge had
    /// been marked FAILED meanwhile, so the caller must refund the gateway (money is never kept uncredited).
    boost::asio::awaitable<Applied> approve_charge(std::string charge_id, std::string pg_transaction_id);
    /// PENDING → FAILED; a charge already final keeps its state.
    boost::asio::awaitable<void> fail_charge(std::string charge_id, std::string pg_status,
                                             std::string failure_code);
    /// A FAILED charge the gateway certainly did not take (NOT_CHARGED: pg_status REQUESTED, PG_UNAVAILABLE)
    /// made PENDING again for a retry with its key, in one conditional UPDATE (of two concurrent retries only
    /// one re-opens it); nullopt when it is no such charge now. Its attempt age starts again (updated_at).
    /// A 503 is not a final answer (ADR 0040): the same key tries the gateway again, under the same
    /// gateway key, which the gateway answers with what it holds for it.
    boost::asio::awaitable<std::optional<Charge>> reopen(std::string charge_id);
    /// pg_status CANCELLED on a FAILED charge whose late approval was refunded at the gateway: such a charge
    /// is never re-opened.
    boost::asio::awaitable<void> mark_cancelled(std::string charge_id);
    /// Claims up to `limit` PENDING charges older than `age` (and whose current attempt is: see reopen) for
    /// a recovery pass (a lease, not a transaction: the gateway is asked outside any transaction). Safe with
    /// several replicas.
    boost::asio::awaitable<std::vector<std::string>> claim_pending(std::chrono::seconds age,
                                                                   std::chrono::seconds lease, int limit);

    boost::asio::awaitable<WalletView> view(std::string user_id, int recent);
    boost::asio::awaitable<std::int64_t> balance(std::string user_id);

  private:
    db::Pool& pool_;
};

}  // namespace marquee::wallet
