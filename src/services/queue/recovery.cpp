#include "services/queue/recovery.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "db/pool.hpp"
#include "redis/client.hpp"
#include "redis/reply.hpp"
#include "services/queue/scripts.hpp"
#include "services/queue/token_id.hpp"
#include "services/queue/token_rules.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kRestoreBatch = 500;

// Times leave PostgreSQL as epoch milliseconds (the Redis clock's unit), 0 for NULL.
constexpr const char* kColumns = R"sql(
SELECT id::text AS id, user_id::text AS user_id, schedule_id, state, position,
       (extract(epoch FROM issued_at) * 1000)::bigint AS issued,
       COALESCE((extract(epoch FROM admitted_at) * 1000)::bigint, 0) AS admitted,
       COALESCE((extract(epoch FROM expires_at) * 1000)::bigint, 0) AS expires
  FROM queue.queue_tokens
)sql";

std::vector<TokenRow> rows_of(const db::Result& r) {
    std::vector<TokenRow> rows;
    rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        TokenRow row;
        row.id = r.get<std::string>(i, "id");
        row.user_id = r.get<std::string>(i, "user_id");
        row.schedule_id = r.get<std::int64_t>(i, "schedule_id");
        row.state = parse_state(r.get<std::string>(i, "state")).value_or(TokenState::Expired);
        row.position = r.get<std::int64_t>(i, "position");
        row.issued_at = r.get<std::int64_t>(i, "issued");
        row.admitted_at = r.get<std::int64_t>(i, "admitted");
        row.expires_at = r.get<std::int64_t>(i, "expires");
        rows.push_back(std::move(row));
    }
    return rows;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

core::Problem recovering() {
    return core::Problem::unavailable(
        "redis", "The waiting room is being restored from PostgreSQL after Redis lost it; retry shortly.",
        std::chrono::seconds(1));
}

}  // namespace

std::chrono::milliseconds audit_step(const Settings& settings) {
    return std::max<std::chrono::milliseconds>(settings.active_ttl / 8, std::chrono::milliseconds(1000));
}

std::chrono::milliseconds restore_grace(const Settings& settings) {
    return 2 * audit_step(settings);
}

Recovery::Recovery(redis::Client& redis, db::Pool& db, Settings settings, RecoveryOptions options)
    : redis_(redis), db_(db), settings_(std::move(settings)), options_(options) {}

asio::awaitable<void> Recovery::rebuild(std::int64_t schedule_id) {
    const std::string prefix = key_prefix(schedule_id);
    const std::string epoch = prefix + "epoch";
    const std::string lease = prefix + "rebuild";
    if (co_await redis_.get(epoch)) co_return;  // another call finished it meanwhile
    std::string owner = new_token_id();
    if (co_await redis_.try_set(lease, std::move(owner), options_.lease)) {
        const auto started = std::chrono::steady_clock::now();
        bool failed = false;
        std::int64_t rows = 0;
        std::int64_t restored = 0;
        try {
            std::string live_sql =
                std::string(kColumns) +
                "WHERE schedule_id = $1 AND state IN ('PRE_QUEUE', 'WAITING', 'ACTIVE') ORDER BY position";
            db::Params live_params = db::params(schedule_id);
            const db::Result live = co_await db_.query(std::move(live_sql), std::move(live_params));
            db::Params top_params = db::params(schedule_id);
            const db::Result top = co_await db_.query(
                "SELECT COALESCE(max(position), 0) AS top FROM queue.queue_tokens WHERE schedule_id = $1",
                std::move(top_params));
            std::vector<TokenRow> tokens = rows_of(live);
            rows = static_cast<std::int64_t>(tokens.size());
            const std::int64_t floor = top.get<std::int64_t>(0, "top");
            restored = co_await put_back(schedule_id, std::move(tokens), floor);
            std::string stamp = std::to_string(now_ms());
            co_await redis_.set(epoch, std::move(stamp));
        } catch (const std::exception& e) {
            core::log_warn("queue rebuild failed", {{"schedule_id", schedule_id}, {"error", e.what()}});
            failed = true;
        }
        // Let the next caller try at once rather than after the lease (best effort: it lapses anyway).
        try {
            std::vector<std::string> keys{lease};
            co_await redis_.del(std::move(keys));
        } catch (const std::exception&) {
        }
        if (failed) throw recovering();
        ++rebuilds_;
        // A schedule's first touch finds no marker and nothing to restore (info); a real loss is a warning.
        const boost::json::object fields{{"schedule_id", schedule_id},
                                         {"live_rows", rows},
                                         {"restored", restored},
                                         {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::steady_clock::now() - started)
                                                    .count()}};
        if (rows == 0) {
            core::log_info("queue room marked (nothing to restore)", fields);
        } else {
            core::log_warn("queue rebuilt from PostgreSQL", fields);
        }
        co_return;
    }
    // Another caller (in this process or another) rebuilds: wait for its marker.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + options_.wait;
    while (std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(options_.poll);
        co_await timer.async_wait(asio::use_awaitable);
        if (co_await redis_.get(epoch)) co_return;
    }
    throw recovering();
}

asio::awaitable<std::optional<TokenRow>> Recovery::find_token(std::string token) {
    if (!normalize_token_id(token)) co_return std::nullopt;  // not a uuid: PostgreSQL cannot have it
    std::string sql = std::string(kColumns) + "WHERE id = $1::uuid";
    db::Params params = db::params(token);
    const db::Result r = co_await db_.query(std::move(sql), std::move(params));
    std::vector<TokenRow> rows = rows_of(r);
    if (rows.empty()) co_return std::nullopt;
    co_return std::move(rows.front());
}

asio::awaitable<std::optional<TokenRow>> Recovery::find_latest(std::int64_t schedule_id,
                                                               std::string user_id) {
    if (!normalize_token_id(user_id)) co_return std::nullopt;  // user ids are uuids (auth.users)
    std::string sql = std::string(kColumns) +
                      "WHERE schedule_id = $1 AND user_id = $2::uuid ORDER BY position DESC LIMIT 1";
    db::Params params = db::params(schedule_id, user_id);
    const db::Result r = co_await db_.query(std::move(sql), std::move(params));
    std::vector<TokenRow> rows = rows_of(r);
    if (rows.empty()) co_return std::nullopt;
    co_return std::move(rows.front());
}

asio::awaitable<std::int64_t> Recovery::restore(std::int64_t schedule_id, std::vector<TokenRow> rows,
                                                std::int64_t floor) {
    const std::int64_t restored = co_await put_back(schedule_id, std::move(rows), floor);
    if (restored > 0) {
        core::log_info("queue tokens put back from PostgreSQL",
                       {{"schedule_id", schedule_id}, {"restored", restored}});
    }
    co_return restored;
}

asio::awaitable<std::int64_t> Recovery::put_back(std::int64_t schedule_id, std::vector<TokenRow> rows,
                                                 std::int64_t floor) {
    const std::string prefix = key_prefix(schedule_id);
    std::int64_t restored = 0;
    std::int64_t top = floor;
    std::size_t at = 0;
    do {
        const std::size_t end = std::min(rows.size(), at + kRestoreBatch);
        std::vector<std::string> keys{prefix + "seq",    prefix + "waiting", prefix + "seen",
                                      prefix + "active", prefix + "audit",   prefix + "pre"};
        std::vector<std::string> args{
            prefix, std::to_string(schedule_id), std::to_string(settings_.ended_ttl.count()),
            std::to_string(restore_grace(settings_).count()), std::to_string(floor)};
        args.reserve(5 + 7 * (end - at));
        for (; at < end; ++at) {
            const TokenRow& row = rows[at];
            if (is_ended(row.state) || row.schedule_id != schedule_id) continue;
            args.push_back(row.id);
            args.push_back(row.user_id);
            args.emplace_back(to_string(row.state));
            args.push_back(std::to_string(row.position));
            args.push_back(std::to_string(row.issued_at));
            args.push_back(std::to_string(row.admitted_at));
            args.push_back(std::to_string(row.expires_at));
        }
        const redis::Reply reply =
            (co_await redis_.eval(scripts::restore(), std::move(keys), std::move(args))).or_throw();
        restored += reply.elements().at(0).as_integer();
        top = std::max(top, reply.elements().at(1).as_integer());
    } while (at < rows.size());
    // The scheduler admits only schedules in its scan set (which has no hash tag, so it is not in the
    // script).
    if (top > 0) {
        std::vector<std::string> zadd{"ZADD", settings_.schedules_key, "GT", std::to_string(top),
                                      std::to_string(schedule_id)};
        (co_await redis_.command(std::move(zadd))).or_throw();
    }
    co_return restored;
}

}  // namespace marquee::queue
