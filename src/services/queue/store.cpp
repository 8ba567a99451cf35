#include "services/queue/store.hpp"

#include <map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "db/pool.hpp"
#include "services/queue/token_rules.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

// Times travel as epoch milliseconds (the Redis clock), 0 meaning "not yet".
constexpr const char* kUpsert = R"sql(
INSERT INTO queue.queue_tokens AS t
    (id, user_id, schedule_id, state, position, issued_at, admitted_at, expires_at, ended_at)
SELECT r.id, r.user_id, r.schedule_id, r.state, r.position,
       to_timestamp(r.issued / 1000.0),
       to_timestamp(NULLIF(r.admitted, 0) / 1000.0),
       to_timestamp(NULLIF(r.expires, 0) / 1000.0),
       to_timestamp(NULLIF(r.ended, 0) / 1000.0)
  FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, user_id uuid, schedule_id bigint, state text,
                                          position bigint, issued bigint, admitted bigint, expires bigint,
                                          ended bigint)
ON CONFLICT (id) DO UPDATE SET
    state = CASE WHEN (CASE EXCLUDED.state WHEN 'PRE_QUEUE' THEN -1 WHEN 'WAITING' THEN 0
                                           WHEN 'ACTIVE' THEN 1 ELSE 2 END)
                    > (CASE t.state WHEN 'PRE_QUEUE' THEN -1 WHEN 'WAITING' THEN 0 WHEN 'ACTIVE' THEN 1
                                    ELSE 2 END)
                 THEN EXCLUDED.state ELSE t.state END,
    admitted_at = COALESCE(t.admitted_at, EXCLUDED.admitted_at),
    expires_at  = GREATEST(t.expires_at, EXCLUDED.expires_at),
    ended_at    = COALESCE(t.ended_at, EXCLUDED.ended_at),
    updated_at  = now()
)sql";

}  // namespace

std::vector<AuditRecord> merge_batch(std::vector<AuditRecord> records) {
    std::map<std::string, AuditRecord> by_id;
    for (auto& record : records) {
        auto [it, inserted] = by_id.try_emplace(record.id, record);
        if (!inserted) merge(it->second, record);
    }
    std::vector<AuditRecord> merged;
    merged.reserve(by_id.size());
    for (auto& [id, record] : by_id) merged.push_back(std::move(record));
    return merged;
}

asio::awaitable<void> Store::record(std::vector<AuditRecord> records) {
    if (records.empty()) co_return;
    boost::json::array rows;
    rows.reserve(records.size());
    for (const auto& r : records) {
        rows.push_back(boost::json::object{{"id", r.id},
                                           {"user_id", r.user_id},
                                           {"schedule_id", r.schedule_id},
                                           {"state", to_string(r.state)},
                                           {"position", r.position},
                                           {"issued", r.issued_at},
                                           {"admitted", r.admitted_at},
                                           {"expires", r.expires_at},
                                           {"ended", r.ended_at}});
    }
    db::Params params;
    params.add(boost::json::serialize(rows));
    co_await db_.query(kUpsert, std::move(params));
}

boost::asio::awaitable<bool> Store::schedule_exists(std::int64_t schedule_id) {
    {
        std::lock_guard lock(known_mutex_);
        if (known_schedules_.count(schedule_id) != 0) co_return true;
    }
    auto r = co_await db_.query("SELECT catalog.schedule_exists($1) AS found", db::params(schedule_id));
    const bool found = r.get<bool>(0, "found");
    if (found) {
        std::lock_guard lock(known_mutex_);
        known_schedules_.insert(schedule_id);
    }
    co_return found;
}

}  // namespace marquee::queue

namespace marquee::queue {

boost::asio::awaitable<std::optional<std::int64_t>> Store::schedule_opens_at(std::int64_t schedule_id) {
    {
        std::lock_guard lock(known_mutex_);
        const auto it = openings_.find(schedule_id);
        if (it != openings_.end() && std::chrono::steady_clock::now() - it->second.read < opening_memory) {
            co_return it->second.opens_at_ms;
        }
    }
    co_return co_await openings_in_flight_.run(std::to_string(schedule_id), [this, schedule_id] {
        ++opening_queries_;
        return query_opens_at(schedule_id);
    });
}

boost::asio::awaitable<std::optional<std::int64_t>> Store::query_opens_at(std::int64_t schedule_id) {
    const auto now = std::chrono::steady_clock::now();
    auto r = co_await db_.query(
        "SELECT (extract(epoch FROM catalog.schedule_opens_at($1)) * 1000)::bigint AS opens_at",
        db::params(schedule_id));
    if (r.empty() || r.is_null(0, "opens_at")) co_return std::nullopt;
    const std::int64_t opens_at = r.get<std::int64_t>(0, "opens_at");
    std::lock_guard lock(known_mutex_);
    if (openings_.size() > 10'000) openings_.clear();  // bounded; a forgotten schedule costs one query
    openings_[schedule_id] = Opening{opens_at, now};
    known_schedules_.insert(schedule_id);
    co_return opens_at;
}

std::uint64_t Store::opening_queries() const {
    return opening_queries_.load();
}

}  // namespace marquee::queue
