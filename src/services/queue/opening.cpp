#include "services/queue/opening.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "db/pool.hpp"
#include "redis/client.hpp"
#include "redis/reply.hpp"
#include "services/queue/scripts.hpp"
#include "services/queue/shuffle.hpp"
#include "services/queue/store.hpp"
#include "services/queue/token_rules.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kMoveBatch = 1000;

// One statement decides and records the shuffle: the queue.shuffles row is inserted by exactly one caller,
// and only that caller's token rows are written (inserted when the audit writer has not written them yet, a
// PRE_QUEUE row moved to WAITING otherwise). The audit upsert never moves a row back (PRE_QUEUE ranks below
// WAITING) and never rewrites a position, so the shuffled places stay.
constexpr const char* kRecord = R"sql(
WITH won AS (
    INSERT INTO queue.shuffles (schedule_id, seed_sha256, fans) VALUES ($1, $2, $3)
    ON CONFLICT (schedule_id) DO NOTHING
    RETURNING schedule_id),
moved AS (
    INSERT INTO queue.queue_tokens AS t (id, user_id, schedule_id, state, position, arrival, issued_at)
    SELECT r.id, r.user_id, $1, 'WAITING', r.place, r.arrival, to_timestamp(r.issued / 1000.0)
      FROM jsonb_to_recordset($4::jsonb) AS r(id uuid, user_id uuid, place bigint, arrival bigint,
                                              issued bigint)
     WHERE EXISTS (SELECT 1 FROM won)
    ON CONFLICT (id) DO UPDATE SET state = 'WAITING', position = EXCLUDED.position,
                                   arrival = EXCLUDED.arrival, updated_at = now()
     WHERE t.state = 'PRE_QUEUE'
    RETURNING 1)
SELECT (SELECT count(*) FROM won) AS won, (SELECT count(*) FROM moved) AS moved
)sql";

// The places another caller recorded (arrival IS NOT NULL: shuffled).
constexpr const char* kRecorded = R"sql(
SELECT id::text AS id, position FROM queue.queue_tokens
 WHERE id = ANY($1::uuid[]) AND schedule_id = $2 AND arrival IS NOT NULL
)sql";

struct PreToken {
    std::string id;
    std::int64_t arrival = 0;
    std::string user;
    std::int64_t issued = 0;
};

std::string uuid_array(const std::vector<PreToken>& tokens) {
    std::string out = "{";
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0) out += ',';
        out += tokens[i].id;
    }
    return out + "}";
}

}  // namespace

Opener::Opener(redis::Client& redis, db::Pool& db, std::shared_ptr<Store> store, std::string secret,
               core::MetricsRegistry* metrics)
    : redis_(redis), db_(db), store_(std::move(store)), secret_(std::move(secret)) {
    if (metrics == nullptr) return;
    shuffles_total_ =
        &metrics->counter("queue_shuffles_total", "Pre-queues shuffled at their opening (ADR 0026)").with({});
    shuffled_total_ =
        &metrics->counter("queue_shuffled_tokens_total", "Pre-queued tokens given a shuffled place").with({});
}

asio::awaitable<bool> Opener::open_if_due(std::int64_t schedule_id, std::int64_t now_ms) {
    const std::optional<std::int64_t> opens_at = co_await store_->schedule_opens_at(schedule_id);
    if (!opens_at) {
        bool first = false;
        {
            const std::lock_guard lock(unknown_mutex_);
            if (unknown_logged_.size() >= 10'000) unknown_logged_.clear();
            first = unknown_logged_.insert(schedule_id).second;
        }
        if (first) {
            core::log_warn("queue pre-queue of a schedule the catalog does not know: not opened",
                           {{"schedule_id", schedule_id}});
        }
        co_return false;
    }
    if (now_ms < *opens_at) co_return false;
    co_await open(schedule_id);
    co_return true;
}

asio::awaitable<OpeningReport> Opener::open(std::int64_t schedule_id) {
    const std::string prefix = key_prefix(schedule_id);
    const auto started = std::chrono::steady_clock::now();
    OpeningReport report;
    std::vector<std::string> list_keys{prefix + "pre"};
    std::vector<std::string> list_args{prefix};
    const redis::Reply listed =
        (co_await redis_.eval(scripts::pre_list(), std::move(list_keys), std::move(list_args))).or_throw();
    std::vector<PreToken> tokens;
    const auto& e = listed.elements();
    for (std::size_t i = 0; i + 3 < e.size(); i += 4) {
        PreToken token;
        token.id = e[i].as_string();
        token.arrival = std::stoll(e[i + 1].as_string());
        token.user = e[i + 2].as_string();
        token.issued = std::stoll(e[i + 3].as_string());
        tokens.push_back(std::move(token));
    }
    std::sort(tokens.begin(), tokens.end(),
              [](const PreToken& a, const PreToken& b) { return a.arrival < b.arrival; });
    report.pre_queued = static_cast<std::int64_t>(tokens.size());
    if (tokens.empty()) co_return report;

    const ShuffleSeed seed = shuffle_seed(secret_, schedule_id);
    report.seed_sha256 = seed_hash(seed);
    std::vector<std::int64_t> arrivals;
    arrivals.reserve(tokens.size());
    for (const auto& token : tokens) arrivals.push_back(token.arrival);
    std::vector<std::int64_t> places = shuffled_places(seed, arrivals);

    // In id order, the order in which the audit writer's upsert (merge_batch) takes the same rows' locks, so
    // that the two statements running at once in two processes wait for each other instead of deadlocking.
    std::vector<std::size_t> by_id_order(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) by_id_order[i] = i;
    std::sort(by_id_order.begin(), by_id_order.end(),
              [&](std::size_t a, std::size_t b) { return tokens[a].id < tokens[b].id; });
    boost::json::array rows;
    rows.reserve(tokens.size());
    for (const std::size_t i : by_id_order) {
        if (tokens[i].user.empty()) continue;  // no token hash: nothing PostgreSQL could keep
        rows.push_back(boost::json::object{{"id", tokens[i].id},
                                           {"user_id", tokens[i].user},
                                           {"place", places[i]},
                                           {"arrival", tokens[i].arrival},
                                           {"issued", tokens[i].issued}});
    }
    db::Params params = db::params(schedule_id, report.seed_sha256, report.pre_queued);
    params.add(boost::json::serialize(rows));
    const db::Result recorded = co_await db_.query(kRecord, std::move(params));
    report.shuffled = recorded.get<std::int64_t>(0, "won") == 1;
    if (report.shuffled) {
        // The audit trail: the seed's hash (never the seed), stored in queue.shuffles as well.
        core::log_info("queue pre-queue shuffled", {{"schedule_id", schedule_id},
                                                    {"fans", report.pre_queued},
                                                    {"seed_sha256", report.seed_sha256},
                                                    {"rows", recorded.get<std::int64_t>(0, "moved")}});
        if (shuffles_total_ != nullptr) {
            shuffles_total_->inc();
            shuffled_total_->inc(static_cast<std::uint64_t>(report.pre_queued));
        }
    } else {
        // Another caller shuffled (or this schedule was shuffled before): PostgreSQL's places win; a token it
        // does not know as shuffled keeps its own arrival number.
        db::Params read = db::params(uuid_array(tokens), schedule_id);
        const db::Result known = co_await db_.query(kRecorded, std::move(read));
        std::unordered_map<std::string, std::int64_t> by_id;
        for (int r = 0; r < known.rows(); ++r) {
            by_id[known.get<std::string>(r, "id")] = known.get<std::int64_t>(r, "position");
        }
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            const auto it = by_id.find(tokens[i].id);
            places[i] = it != by_id.end() ? it->second : tokens[i].arrival;
        }
    }

    // ADR 0033: lowest place first, so that admission may start with the first batch: after each batch, every
    // token up to its highest place has moved, and the script records that place for the admission step.
    std::vector<std::size_t> by_place(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) by_place[i] = i;
    std::sort(by_place.begin(), by_place.end(),
              [&](std::size_t a, std::size_t b) { return places[a] < places[b]; });
    std::size_t at = 0;
    while (at < by_place.size()) {
        const std::size_t end = std::min(by_place.size(), at + kMoveBatch);
        std::vector<std::string> keys{prefix + "pre", prefix + "waiting", prefix + "seen", prefix + "audit"};
        // The winner's rows are in PostgreSQL already: no audit event for them (a second writer of the same
        // state would cost the audit writer 50,000 rows for nothing at a large opening).
        std::vector<std::string> args{prefix, report.shuffled ? "0" : "1",
                                      std::to_string(places[by_place[end - 1]])};
        args.reserve(3 + 2 * (end - at));
        for (; at < end; ++at) {
            args.push_back(tokens[by_place[at]].id);
            args.push_back(std::to_string(places[by_place[at]]));
        }
        const redis::Reply moved =
            (co_await redis_.eval(scripts::open_pre(), std::move(keys), std::move(args))).or_throw();
        report.moved += moved.elements().at(0).as_integer();
    }
    core::log_info("queue pre-queue opened", {{"schedule_id", schedule_id},
                                              {"shuffled_here", report.shuffled},
                                              {"moved", report.moved},
                                              {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         std::chrono::steady_clock::now() - started)
                                                         .count()}});
    co_return report;
}

}  // namespace marquee::queue
