#include "services/wallet/store.hpp"

namespace marquee::wallet {

namespace asio = boost::asio;

namespace {

constexpr const char* kChargeColumns =
    "id::text, user_id::text, idempotency_key, encode(request_hash, 'hex') AS request_hash, amount, state, "
    "pg_status, failure_code, created_at, (extract(epoch FROM now() - updated_at) * 1000)::bigint AS "
    "attempt_age_ms";

Charge charge_from(const db::Result& r, int row) {
    Charge c;
    c.id = r.get<std::string>(row, "id");
    c.user_id = r.get<std::string>(row, "user_id");
    c.idempotency_key = r.get<std::string>(row, "idempotency_key");
    c.request_hash = r.get<std::string>(row, "request_hash");
    c.amount = r.get<std::int64_t>(row, "amount");
    c.state = r.get<std::string>(row, "state");
    c.pg_status = r.get<std::string>(row, "pg_status");
    c.failure_code = r.get<std::optional<std::string>>(row, "failure_code");
    c.created_at = r.get<core::TimePoint>(row, "created_at");
    c.attempt_age = std::chrono::milliseconds(r.get<std::int64_t>(row, "attempt_age_ms"));
    return c;
}

constexpr const char* kCompositeColumns =
    "(o.charge).id::text AS id, (o.charge).user_id::text AS user_id, "
    "(o.charge).idempotency_key AS idempotency_key, encode((o.charge).request_hash, 'hex') AS request_hash, "
    "(o.charge).amount AS amount, (o.charge).state AS state, (o.charge).pg_status AS pg_status, "
    "(o.charge).failure_code AS failure_code, (o.charge).created_at AS created_at, "
    "(extract(epoch FROM now() - (o.charge).updated_at) * 1000)::bigint AS attempt_age_ms";

}  // namespace

asio::awaitable<Store::Begun> Store::begin(std::string user_id, std::string key, std::string request_hash,
                                           std::int64_t amount) {
    const std::string sql = std::string("SELECT o.created, coalesce(o.balance, 0) AS balance, ") +
                            kCompositeColumns +
                            " FROM wallet.begin_charge($1::uuid, $2, decode($3, 'hex'), $4::bigint) AS o";
    auto r = co_await pool_.query(sql, db::params(user_id, key, request_hash, amount));
    co_return Begun{charge_from(r, 0), r.get<bool>(0, "created"), r.get<std::int64_t>(0, "balance")};
}

asio::awaitable<Store::Settled> Store::settle(std::string charge_id, std::string answer,
                                              std::optional<std::string> pg_transaction_id,
                                              std::optional<std::string> decline_code) {
    const std::string sql = std::string("SELECT o.outcome, coalesce(o.balance, 0) AS balance, ") +
                            kCompositeColumns +
                            " FROM wallet.settle_charge($1::uuid, $2, $3::text, $4::text) AS o";
    // The gateway has answered: the step that completes money already moved is never shed by the pool's
    // waiting bound (ADR 0040), only by its deadline.
    auto r = co_await pool_.query(sql, db::params(charge_id, answer, pg_transaction_id, decline_code),
                                  db::Priority::Finish);
    co_return Settled{r.get<std::string>(0, "outcome"), charge_from(r, 0), r.get<std::int64_t>(0, "balance")};
}

asio::awaitable<std::pair<Charge, bool>> Store::begin_charge(std::string user_id, std::string key,
                                                             std::string request_hash, std::int64_t amount) {
    const std::string insert =
        std::string(
            "INSERT INTO wallet.charges (id, wallet_id, user_id, idempotency_key, request_hash, "
            "amount) SELECT gen_random_uuid(), wallet.ensure($1::uuid), $1::uuid, $2, "
            "decode($3, 'hex'), $4 ON CONFLICT (user_id, idempotency_key) DO NOTHING "
            "RETURNING ") +
        kChargeColumns;
    auto created = co_await pool_.query(insert, db::params(user_id, key, request_hash, amount));
    if (!created.empty()) co_return std::pair{charge_from(created, 0), true};
    const std::string select = std::string("SELECT ") + kChargeColumns +
                               " FROM wallet.charges WHERE user_id = $1::uuid AND idempotency_key = $2";
    auto existing = co_await pool_.query(select, db::params(user_id, key));
    co_return std::pair{charge_from(existing, 0), false};
}

asio::awaitable<std::optional<Charge>> Store::find_charge(std::string user_id, std::string charge_id) {
    const std::string sql = std::string("SELECT ") + kChargeColumns +
                            " FROM wallet.charges WHERE id = $1::uuid AND user_id = $2::uuid";
    auto r = co_await pool_.query(sql, db::params(charge_id, user_id));
    if (r.empty()) co_return std::nullopt;
    co_return charge_from(r, 0);
}

asio::awaitable<Charge> Store::get_charge(std::string charge_id) {
    const std::string sql =
        std::string("SELECT ") + kChargeColumns + " FROM wallet.charges WHERE id = $1::uuid";
    auto r = co_await pool_.query(sql, db::params(charge_id));
    co_return charge_from(r, 0);
}

asio::awaitable<Store::Applied> Store::approve_charge(std::string charge_id, std::string pg_transaction_id) {
    // One round trip (migrations/wallet/0003_approve_charge.sql): the charge APPROVED and the wallet credited
    // in one statement's transaction.
    auto r = co_await pool_.query("SELECT wallet.approve_charge($1::uuid, $2) AS outcome",
                                  db::params(charge_id, pg_transaction_id));
    const auto outcome = r.get<std::string>(0, "outcome");
    if (outcome == "CREDITED") co_return Applied::Credited;
    if (outcome == "ALREADY_APPROVED") co_return Applied::AlreadyApproved;
    co_return Applied::WasFailed;
}

asio::awaitable<void> Store::fail_charge(std::string charge_id, std::string pg_status,
                                         std::string failure_code) {
    co_await pool_.query(
        "UPDATE wallet.charges SET state = 'FAILED', pg_status = $2, failure_code = $3, lease_until = NULL, "
        "updated_at = now() WHERE id = $1::uuid AND state = 'PENDING'",
        db::params(charge_id, pg_status, failure_code));
}

asio::awaitable<std::optional<Charge>> Store::reopen(std::string charge_id) {
    const std::string sql =
        std::string(
            "UPDATE wallet.charges SET state = 'PENDING', failure_code = NULL, lease_until = NULL, "
            "updated_at = now() WHERE id = $1::uuid AND state = 'FAILED' AND pg_status = 'REQUESTED' "
            "AND failure_code = 'PG_UNAVAILABLE' AND pg_transaction_id IS NULL RETURNING ") +
        kChargeColumns;
    auto r = co_await pool_.query(sql, db::params(charge_id));
    if (r.empty()) co_return std::nullopt;
    co_return charge_from(r, 0);
}

asio::awaitable<void> Store::mark_cancelled(std::string charge_id) {
    co_await pool_.query(
        "UPDATE wallet.charges SET pg_status = 'CANCELLED', updated_at = now() WHERE id = $1::uuid "
        "AND state = 'FAILED'",
        db::params(charge_id), db::Priority::Finish);
}

asio::awaitable<std::vector<std::string>> Store::claim_pending(std::chrono::seconds age,
                                                               std::chrono::seconds lease, int limit) {
    auto r = co_await pool_.query(
        "UPDATE wallet.charges SET lease_until = now() + make_interval(secs => $2) WHERE id IN ("
        "  SELECT id FROM wallet.charges WHERE state = 'PENDING' AND created_at < now() - make_interval(secs "
        "=> $1) AND updated_at < now() - make_interval(secs => $1)"
        "     AND (lease_until IS NULL OR lease_until < now()) ORDER BY created_at LIMIT $3 FOR UPDATE SKIP "
        "LOCKED)"
        " RETURNING id::text",
        db::params(static_cast<std::int64_t>(age.count()), static_cast<std::int64_t>(lease.count()), limit));
    std::vector<std::string> ids;
    ids.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.get<std::string>(i, 0));
    co_return ids;
}

asio::awaitable<WalletView> Store::view(std::string user_id, int recent) {
    WalletView view;
    auto wallet = co_await pool_.query(
        "SELECT wallet.ensure($1::uuid)::text AS id, wallet.balance($1::uuid) AS balance",
        db::params(user_id));
    view.balance = wallet.get<std::int64_t>(0, "balance");
    auto ledger = co_await pool_.query(
        "SELECT id, kind, amount, balance_after, reference_id::text, created_at FROM wallet.ledger "
        "WHERE wallet_id = $1::uuid ORDER BY id DESC LIMIT $2",
        db::params(wallet.get<std::string>(0, "id"), recent));
    for (int i = 0; i < ledger.rows(); ++i) {
        view.recent.push_back(LedgerEntry{
            ledger.get<std::int64_t>(i, "id"), ledger.get<std::string>(i, "kind"),
            ledger.get<std::int64_t>(i, "amount"), ledger.get<std::int64_t>(i, "balance_after"),
            ledger.get<std::string>(i, "reference_id"), ledger.get<core::TimePoint>(i, "created_at")});
    }
    co_return view;
}

asio::awaitable<std::int64_t> Store::balance(std::string user_id) {
    auto r = co_await pool_.query("SELECT wallet.balance($1::uuid) AS balance", db::params(user_id));
    co_return r.get<std::int64_t>(0, "balance");
}

}  // namespace marquee::wallet
