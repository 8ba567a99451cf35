#include "outbox/relay.hpp"

#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "db/pool.hpp"

namespace marquee::outbox {

namespace asio = boost::asio;

namespace {

bool is_identifier(std::string_view name) {
    if (name.empty() || name.size() > 63) return false;
    if (!(name.front() == '_' || (name.front() >= 'a' && name.front() <= 'z'))) return false;
    for (const char c : name) {
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

/// A count above this reads as this: the gauge must stay cheap during a large backlog.
constexpr int kUnpublishedCountCap = 10000;

std::string bigint_array(const std::vector<std::int64_t>& ids) {
    std::string text = "{";
    for (const std::int64_t id : ids) {
        if (text.size() > 1) text += ',';
        text += std::to_string(id);
    }
    return text + "}";
}

}  // namespace

bool is_outbox_table(std::string_view table) {
    constexpr std::string_view kSuffix = ".outbox";
    if (table.size() <= kSuffix.size() || table.substr(table.size() - kSuffix.size()) != kSuffix) {
        return false;
    }
    return is_identifier(table.substr(0, table.size() - kSuffix.size()));
}

std::string subject_for(std::string_view prefix, std::string_view event_type) {
    std::string subject(prefix);
    subject += '.';
    subject += event_type;
    return subject;
}

std::int64_t lock_key(std::string_view table) {
    std::uint64_t hash = 14695981039346656037ULL;
    const auto mix = [&hash](std::string_view text) {
        for (const char c : text) {
            hash ^= static_cast<unsigned char>(c);
            hash *= 1099511628211ULL;
        }
    };
    mix("marquee-outbox-relay:");
    mix(table);
    return static_cast<std::int64_t>(hash);
}

Relay::Relay(db::Pool& db, mq::Nats& nats, core::MetricsRegistry& metrics, RelayOptions options)
    : db_(db),
      nats_(nats),
      options_(std::move(options)),
      lock_key_(lock_key(options_.table)),
      published_(metrics.counter("outbox_published_total", "Outbox rows published to NATS JetStream")
                     .with({{"outbox", options_.table}})),
      unpublished_(metrics.gauge("outbox_unpublished", "Outbox rows not yet published (counted up to 10000)")
                       .with({{"outbox", options_.table}})),
      lag_seconds_(metrics.gauge("outbox_lag_seconds", "Age of the oldest unpublished outbox row")
                       .with({{"outbox", options_.table}})) {
    if (!is_outbox_table(options_.table)) {
        throw std::invalid_argument("outbox relay: table must be <schema>.outbox, not '" + options_.table +
                                    "'");
    }
    if (options_.batch_size == 0) throw std::invalid_argument("outbox relay: batch_size must be positive");
    // Safe to splice: is_outbox_table admits only [a-z_][a-z0-9_]*.outbox.
    const std::string& table = options_.table;
    select_sql_ =
        "SELECT id, event_id::text AS event_id, event_type, payload::text AS payload, traceparent FROM " +
        table + " WHERE published_at IS NULL ORDER BY id LIMIT $1";
    mark_sql_ = "UPDATE " + table + " SET published_at = now() WHERE id = ANY($1::bigint[])";
    stats_sql_ =
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM " + table + " WHERE published_at IS NULL LIMIT " +
        std::to_string(kUnpublishedCountCap) +
        ") u)::bigint AS unpublished, coalesce(extract(epoch FROM clock_timestamp() - (SELECT created_at "
        "FROM " +
        table + " WHERE published_at IS NULL ORDER BY id LIMIT 1)), 0)::float8 AS lag";
}

asio::awaitable<void> Relay::ensure_stream() {
    std::vector<std::string> subjects{options_.subject_prefix + ".>"};
    mq::StreamSpec spec(options_.stream, std::move(subjects));
    spec.max_age = options_.stream_max_age;
    spec.replicas = options_.stream_replicas;
    co_await nats_.ensure_stream(std::move(spec));
}

asio::awaitable<std::size_t> Relay::publish_pending() {
    db::Session session = co_await db_.session();
    // If anything below throws, ~Session closes the connection (it is inside a transaction), so PostgreSQL
    // rolls back and releases the lock. The timeout ends the transaction if this process freezes mid-pass.
    const auto idle_limit = options_.pass_budget + std::chrono::seconds(30);
    co_await session.execute("BEGIN; SET LOCAL idle_in_transaction_session_timeout = " +
                             std::to_string(idle_limit.count()));
    const db::Result lock = co_await session.query("SELECT pg_try_advisory_xact_lock($1::bigint) AS locked",
                                                   db::params(lock_key_));
    std::size_t published = 0;
    std::exception_ptr failure;
    if (lock.get<bool>(0, "locked")) {
        const db::Result rows =
            co_await session.query(select_sql_, db::params(static_cast<std::int64_t>(options_.batch_size)));
        std::vector<std::int64_t> done;
        const auto deadline = std::chrono::steady_clock::now() + options_.pass_budget;
        // In id order, one at a time: the next row is sent only after JetStream stored the previous one, so
        // the stream's order is the outbox's order.
        for (int row = 0; row < rows.rows(); ++row) {
            std::string subject = subject_for(options_.subject_prefix, rows.text(row, "event_type"));
            std::string payload(rows.text(row, "payload"));
            std::string msg_id(rows.text(row, "event_id"));
            mq::Headers headers;
            if (!rows.is_null(row, "traceparent")) {
                headers.emplace_back("traceparent", std::string(rows.text(row, "traceparent")));
            }
            try {
                co_await nats_.publish(std::move(subject), std::move(payload), std::move(msg_id),
                                       std::move(headers));
            } catch (const core::Problem&) {
                failure = std::current_exception();
            }
            if (failure) break;  // never skip a row: this one and the rest wait for the next pass
            done.push_back(rows.get<std::int64_t>(row, "id"));
            if (std::chrono::steady_clock::now() >= deadline) break;
        }
        if (!done.empty()) {
            co_await session.query(mark_sql_, db::params(bigint_array(done)));
        }
        published = done.size();
    }
    const db::Result stats = co_await session.query(stats_sql_);
    co_await session.execute("COMMIT");
    published_.inc(published);
    unpublished_.set(static_cast<double>(stats.get<std::int64_t>(0, "unpublished")));
    lag_seconds_.set(stats.get<double>(0, "lag"));
    if (failure) std::rethrow_exception(failure);
    co_return published;
}

asio::awaitable<void> Relay::run() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    bool stream_ready = false;
    bool failing = false;
    while (!stopped_) {
        std::chrono::milliseconds pause = options_.idle_period;
        std::string error;
        try {
            if (!stream_ready) {
                co_await ensure_stream();
                stream_ready = true;
            }
            const std::size_t published = co_await publish_pending();
            if (failing) core::log_info("outbox relay recovered", {{"outbox", options_.table}});
            failing = false;
            if (published == options_.batch_size) continue;  // more may be waiting
        } catch (const core::Problem& problem) {
            error = problem.detail();
        } catch (const std::exception& e) {
            // An SQL error (a missing table) is a deployment bug, but the loop must outlive it.
            error = e.what();
        }
        if (!error.empty()) {
            if (!failing) {
                core::log_warn(
                    "outbox relay failing, retrying",
                    {{"outbox", options_.table}, {"stream_ready", stream_ready}, {"error", error}});
            }
            failing = true;
            stream_ready = false;  // ensure it again: the stream may be what is missing
            pause = options_.retry_period;
        }
        timer.expires_after(pause);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

namespace {

/// What start_relay hands out: dropping it stops the loop, which owns the relay.
struct RelayHandle {
    explicit RelayHandle(std::shared_ptr<Relay> relay) : relay(std::move(relay)) {}
    ~RelayHandle() { relay->stop(); }
    std::shared_ptr<Relay> relay;
};

}  // namespace

std::shared_ptr<void> start_relay(const asio::any_io_executor& executor, db::Pool& db, mq::Nats& nats,
                                  core::MetricsRegistry& metrics, RelayOptions options) {
    auto relay = std::make_shared<Relay>(db, nats, metrics, std::move(options));
    asio::co_spawn(
        executor, [relay]() { return relay->run(); },
        core::log_failure("outbox relay stopped", {{"outbox", relay->options().table}}));
    return std::make_shared<RelayHandle>(std::move(relay));
}

}  // namespace marquee::outbox
