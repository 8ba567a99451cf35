#include "services/queue/sold_out.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "db/pool.hpp"
#include "loop/run_every.hpp"
#include "redis/client.hpp"
#include "redis/reply.hpp"
#include "redis/script.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

// Seats per zone (catalog's door) next to the SOLD and live seats per zone (booking's door): one statement,
// two index range scans of the schedule (docs/decisions/0018-shared-connections-and-sold-out.md).
constexpr const char* kCounts = R"sql(
SELECT c.name, c.seats, COALESCE(b.sold, 0) AS sold, COALESCE(b.live, 0) AS live
  FROM catalog.zone_seat_counts($1) c
  LEFT JOIN booking.seat_counts_by_zone($1) b ON b.zone_id = c.zone_id
 ORDER BY c.name
)sql";

// KEYS waiting, seen, active, audit; ARGV prefix, batch, ended ttl ms. Ends up to `batch` WAITING tokens
// (from the front), then ACTIVE ones, as EXPIRED with an audit event each, like the waiting room's own
// scripts. Returns {ended, WAITING + ACTIVE left}.
constexpr const char* kDrain = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local ttl = ARGV[3]
local function finish(id)
  local tk = prefix .. 'token:' .. id
  redis.call('HSET', tk, 'state', 'EXPIRED', 'ended', now)
  redis.call('PEXPIRE', tk, ttl)
  local v = redis.call('HMGET', tk, 'user', 'schedule', 'state', 'seq', 'issued', 'admitted', 'expires', 'ended')
  if v[1] then
    local uk = prefix .. 'user:' .. v[1]
    if redis.call('GET', uk) == id then redis.call('PEXPIRE', uk, ttl) end
  end
  redis.call('RPUSH', KEYS[4], cjson.encode({id = id, user = v[1], schedule = v[2], state = v[3], seq = v[4],
    issued = v[5], admitted = v[6], expires = v[7], ended = v[8]}))
end
local batch = tonumber(ARGV[2])
local ended = 0
local popped = redis.call('ZPOPMIN', KEYS[1], batch)
for i = 1, #popped, 2 do
  redis.call('ZREM', KEYS[2], popped[i])
  finish(popped[i])
  ended = ended + 1
end
if ended < batch then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, batch - ended - 1)) do
    redis.call('ZREM', KEYS[3], id)
    finish(id)
    ended = ended + 1
  end
end
return {ended, redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[3])}
)lua";

const redis::Script& drain_script() {
    static const redis::Script script(kDrain);
    return script;
}

constexpr std::int64_t kDrainBatch = 1000;
constexpr int kDrainCallsPerTick = 200;
constexpr auto kSleepSlice = std::chrono::milliseconds(100);

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t to_int(const std::string& text) {
    std::int64_t out = 0;
    std::from_chars(text.data(), text.data() + text.size(), out);
    return out;
}

/// The verdict from the fields of `queue:{S}:sold-out` (HGETALL: name, value, ...).
SoldOutView parse_view(const redis::Reply& reply) {
    SoldOutView view;
    if (reply.is_nil()) return view;
    const auto& e = reply.elements();
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        const std::string& name = e[i].as_string();
        const std::string& value = e[i + 1].as_string();
        if (name == "sold_out") {
            view.sold_out = value == "1";
        } else if (name == "imminent") {
            view.imminent = value == "1";
        } else if (name == "at") {
            view.at_ms = to_int(value);
        } else if (name == "seats") {
            view.seats = to_int(value);
        } else if (name == "sold") {
            view.sold = to_int(value);
        } else if (name == "checked") {
            view.checked_ms = to_int(value);
        } else if (name == "eta") {
            view.eta_ms = to_int(value);
        } else if (name == "zones") {
            boost::system::error_code ec;
            const auto parsed = boost::json::parse(value, ec);
            if (!ec && parsed.is_array()) {
                for (const auto& zone : parsed.as_array()) {
                    if (zone.is_string()) view.zones.emplace_back(zone.as_string());
                }
            }
        }
    }
    return view;
}

}  // namespace

SoldOutView judge(const std::vector<ZoneCount>& zones) {
    SoldOutView view;
    std::int64_t seats = 0;
    std::int64_t sold = 0;
    std::int64_t live = 0;
    for (const auto& zone : zones) {
        seats += zone.seats;
        sold += std::min(zone.sold, zone.seats);
        live += std::min(zone.live, zone.seats);
        if (zone.seats > 0 && zone.sold >= zone.seats) view.zones.push_back(zone.zone);
    }
    view.sold_out = seats > 0 && sold >= seats;
    view.imminent = seats > 0 && live >= seats;
    view.seats = seats;
    view.sold = sold;
    return view;
}

std::optional<std::int64_t> poll_cap_ms(const SoldOutView& view) {
    if (view.sold_out) return std::nullopt;
    if (view.imminent) return kMinPollMs;
    if (view.eta_ms > 0) return std::max(kMinPollMs, view.eta_ms);
    return std::nullopt;
}

core::Problem sold_out_problem(std::int64_t schedule_id) {
    return core::Problem::gone("sold-out", "Every seat of schedule " + std::to_string(schedule_id) +
                                               " is sold; the waiting room is closed.")
        .with("scheduleId", schedule_id);
}

SoldOut::SoldOut(redis::Client& redis, db::Pool& db, std::shared_ptr<WaitingRoom> room,
                 std::chrono::milliseconds period, core::MetricsRegistry* metrics)
    : redis_(redis), db_(db), room_(std::move(room)), period_(period) {
    if (metrics == nullptr) return;
    sold_out_total_ =
        &metrics->counter("queue_sold_out_total", "Schedules this process's check found sold out").with({});
    drained_total_ =
        &metrics->counter("queue_sold_out_ended_total", "Queue tokens ended because their schedule sold out")
             .with({});
    checks_total_ =
        &metrics->counter("queue_sold_out_checks_total", "Sold-out checks read from PostgreSQL").with({});
}

std::optional<SoldOutView> SoldOut::known(std::int64_t schedule_id) const {
    std::lock_guard lock(mutex_);
    const auto it = views_.find(schedule_id);
    if (it == views_.end()) return std::nullopt;
    return it->second.view;
}

void SoldOut::remember(std::int64_t schedule_id, const SoldOutView& view) {
    bool flipped = false;
    {
        std::lock_guard lock(mutex_);
        auto& entry = views_[schedule_id];
        entry.read_at = std::chrono::steady_clock::now();
        // A sell-out is forgotten only by a later check of the database (a cancellation returned seats, ADR
        // 0028), never by a Redis hash that expired or an older check.
        if (entry.view.sold_out && !view.sold_out && view.checked_ms <= entry.view.checked_ms) return;
        flipped = view.sold_out && !entry.view.sold_out;
        entry.view = view;
    }
    // ADR 0049: the schedule's held polls answer now (after the view is stored, so a poll held after this
    // point sees it when it looks).
    if (flipped && room_) room_->held_polls().wake_all(schedule_id);
}

asio::awaitable<SoldOutView> SoldOut::read(std::int64_t schedule_id) {
    const redis::Reply reply =
        (co_await redis_.command("HGETALL", key_prefix(schedule_id) + "sold-out")).or_throw();
    remember(schedule_id, parse_view(reply));
    co_return *known(schedule_id);
}

asio::awaitable<bool> SoldOut::sold_out(std::int64_t schedule_id) {
    {
        std::lock_guard lock(mutex_);
        const auto it = views_.find(schedule_id);
        if (it != views_.end() && std::chrono::steady_clock::now() - it->second.read_at < period_) {
            co_return it->second.view.sold_out;
        }
    }
    SoldOutView view = co_await read(schedule_id);
    // A cancellation returns seats to sale (ADR 0028): a sell-out is checked against the database again when
    // a fan asks, once per period across processes.
    if (view.sold_out && co_await redis_.try_set(key_prefix(schedule_id) + "sold-out-check", "1", period_)) {
        view = co_await check(schedule_id);
    }
    co_return view.sold_out;
}

void SoldOut::annotate(boost::json::object& body, std::int64_t schedule_id) const {
    const auto view = known(schedule_id);
    body["soldOut"] = view && view->sold_out;
    if (!view) return;
    if (!view->zones.empty()) {
        boost::json::array zones;
        for (const auto& zone : view->zones) zones.emplace_back(zone);
        body["soldOutZones"] = std::move(zones);
    }
    if (const auto cap = poll_cap_ms(*view)) {
        if (auto* poll = body.if_contains("pollAfterMs"); poll != nullptr && poll->is_int64()) {
            *poll = std::min(poll->as_int64(), *cap);
        }
    }
}

asio::awaitable<void> SoldOut::sleep(std::int64_t schedule_id, std::chrono::milliseconds pause) const {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto until = std::chrono::steady_clock::now() + pause;
    while (std::chrono::steady_clock::now() < until) {
        const auto view = known(schedule_id);
        if (view && view->sold_out) co_return;
        timer.expires_at(std::min(until, std::chrono::steady_clock::now() + kSleepSlice));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

asio::awaitable<SoldOutView> SoldOut::check(std::int64_t schedule_id) {
    if (checks_total_ != nullptr) checks_total_->inc();
    const db::Result r = co_await db_.query(kCounts, db::params(schedule_id));
    std::vector<ZoneCount> counts;
    counts.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
        counts.push_back(ZoneCount{r.get<std::string>(row, "name"), r.get<std::int64_t>(row, "seats"),
                                   r.get<std::int64_t>(row, "sold"), r.get<std::int64_t>(row, "live")});
    }
    SoldOutView view = judge(counts);
    // The selling rate since the previous check (this process's memory, refreshed from Redis every pass, so
    // it may be another process's check): how long the rest may take.
    view.checked_ms = now_ms();
    if (const auto before = known(schedule_id); before && before->checked_ms > 0 &&
                                                view.checked_ms > before->checked_ms &&
                                                view.sold > before->sold) {
        const double per_ms = static_cast<double>(view.sold - before->sold) /
                              static_cast<double>(view.checked_ms - before->checked_ms);
        view.eta_ms = static_cast<std::int64_t>(static_cast<double>(view.seats - view.sold) / per_ms);
    }
    const std::string key = key_prefix(schedule_id) + "sold-out";
    boost::json::array zones;
    for (const auto& zone : view.zones) zones.emplace_back(zone);
    std::vector<std::string> hset{"HSET",     key,
                                  "sold_out", view.sold_out ? "1" : "0",
                                  "imminent", view.imminent ? "1" : "0",
                                  "zones",    boost::json::serialize(zones),
                                  "seats",    std::to_string(view.seats),
                                  "sold",     std::to_string(view.sold),
                                  "checked",  std::to_string(view.checked_ms),
                                  "eta",      std::to_string(view.eta_ms)};
    if (view.sold_out) {
        // HSETNX below keeps the first sighting's time if another process got there first.
        view.at_ms = now_ms();
    }
    const auto ttl = std::to_string(room_->settings().ended_ttl.count());
    std::vector<std::vector<std::string>> commands{std::move(hset)};
    if (view.sold_out) {
        commands.push_back({"HSETNX", key, "at", std::to_string(view.at_ms)});
    } else {
        commands.push_back({"HDEL", key, "at"});
    }
    commands.push_back({"PEXPIRE", key, ttl});
    for (auto& reply : co_await redis_.pipeline(std::move(commands))) reply.or_throw();
    const auto before = known(schedule_id);
    if (view.sold_out && !(before && before->sold_out)) {
        if (sold_out_total_ != nullptr) sold_out_total_->inc();
        core::log_info("schedule sold out", {{"schedule_id", schedule_id}});
    } else if (!view.sold_out && before && before->sold_out) {
        core::log_info("schedule back on sale",
                       {{"schedule_id", schedule_id}, {"seats_left", view.seats - view.sold}});
    }
    remember(schedule_id, view);
    co_return view;
}

asio::awaitable<std::pair<std::int64_t, std::int64_t>> SoldOut::drain(std::int64_t schedule_id,
                                                                      std::int64_t batch) {
    const std::string prefix = key_prefix(schedule_id);
    std::vector<std::string> keys{prefix + "waiting", prefix + "seen", prefix + "active", prefix + "audit"};
    std::vector<std::string> args{prefix, std::to_string(batch),
                                  std::to_string(room_->settings().ended_ttl.count())};
    const redis::Reply reply =
        (co_await redis_.eval(drain_script(), std::move(keys), std::move(args))).or_throw();
    const auto& e = reply.elements();
    const std::int64_t ended = e.at(0).as_integer();
    if (drained_total_ != nullptr) drained_total_->inc(static_cast<std::uint64_t>(ended));
    co_return std::pair{ended, e.at(1).as_integer()};
}

asio::awaitable<void> SoldOut::tick() {
    const std::vector<std::int64_t> schedules = co_await room_->schedules();
    for (const std::int64_t schedule_id : schedules) {
        SoldOutView view = co_await read(schedule_id);
        if (!view.sold_out) {
            // One process per schedule and period reads the database.
            const bool mine =
                co_await redis_.try_set(key_prefix(schedule_id) + "sold-out-check", "1", period_);
            if (!mine) continue;
            view = co_await check(schedule_id);
        }
        if (!view.sold_out) continue;
        for (int call = 0; call < kDrainCallsPerTick; ++call) {
            const auto [ended, left] = co_await drain(schedule_id, kDrainBatch);
            if (left == 0 || ended == 0) break;
        }
    }
}

void SoldOut::start(const asio::any_io_executor& executor) {
    asio::co_spawn(
        executor, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> SoldOut::run() {
    auto keep = shared_from_this();
    // Redis or PostgreSQL away: the next pass tries again; joins and polls go on meanwhile.
    co_await loop::run_every(
        stopping_, [this] { return period_; }, [this] { return tick(); },
        loop::warn("queue sold-out pass failed"));
}

}  // namespace marquee::queue
