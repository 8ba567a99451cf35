#include "services/queue/waiting_room.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "loop/run_every.hpp"
#include "redis/client.hpp"
#include "redis/reply.hpp"
#include "services/queue/recovery.hpp"
#include "services/queue/scripts.hpp"
#include "services/queue/token_id.hpp"
#include "services/queue/token_rules.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

constexpr std::int64_t kExpiryBatch = 1000;

std::int64_t integer_at(const std::vector<redis::Reply>& elements, std::size_t i) {
    return elements.at(i).as_integer();
}

TokenState state_of(const redis::Reply& reply) {
    const auto state = parse_state(reply.as_string());
    if (!state) throw redis::CommandError("queue: unknown token state " + reply.as_string());
    return *state;
}

std::string ms(std::chrono::milliseconds d) {
    return std::to_string(d.count());
}

std::int64_t parse_int(const std::string& text) {
    std::int64_t out = 0;
    std::from_chars(text.data(), text.data() + text.size(), out);
    return out;
}

/// A hash field as a number: 0 when absent (nil) or not a number.
double number_of(const redis::Reply& reply) {
    if (reply.kind() != redis::Reply::Kind::String) return 0;
    const std::string& text = reply.as_string();
    double out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && std::isfinite(out) ? out : 0;
}

std::int64_t integer_of(const redis::Reply& reply) {
    return static_cast<std::int64_t>(number_of(reply));
}

/// How long the scanned flag outlives the last admission step that saw the room non-empty: three ticks,
/// at least a second (a scheduler that stops scanning the schedule loses it soon after).
std::chrono::milliseconds scanned_ttl(std::chrono::milliseconds tick) {
    return std::max<std::chrono::milliseconds>(3 * tick, std::chrono::milliseconds(1000));
}

std::string decimal(double value) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed, 3);
    return ec == std::errc{} ? std::string(buffer, end) : std::string("0");
}

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::chrono::milliseconds period_of(const Settings& settings) {
    return std::clamp<std::chrono::milliseconds>(settings.tick, std::chrono::milliseconds(1),
                                                 std::chrono::milliseconds(500));
}

/// ADR 0039: a view is trusted for three periods, and at least 5 s: a refresh late because the process is
/// CPU-bound (or its Redis calls wait in line) must not send every poll to Redis, which would make the
/// overload worse; a refresh that fails for longer (Redis away) sends them there. A fan's confirmation is
/// trusted for a quarter of the waiting TTL.
MemoryLimits memory_limits(const Settings& settings) {
    MemoryLimits limits;
    limits.max_view_age_ms = std::max<std::int64_t>(3 * period_of(settings).count(), 5'000);
    limits.max_fan_age_ms = std::max<std::int64_t>(0, settings.waiting_ttl.count() / 4);
    return limits;
}

/// Schedules nobody polled through memory for this long are dropped from it.
constexpr std::int64_t kMemoryIdleMs = 60'000;
/// Last-seen times written back per ZADD.
constexpr std::size_t kSeenBatch = 500;

}  // namespace

WaitingRoom::WaitingRoom(redis::Client& redis, Settings settings)
    : redis_(redis), settings_(std::move(settings)), memory_(memory_limits(settings_)) {
    held_.set_spread(memory_period());  // ADR 0049: one step's admitted fans answered over its period
}

std::chrono::milliseconds WaitingRoom::memory_period() const noexcept {
    return period_of(settings_);
}

asio::awaitable<redis::Reply> WaitingRoom::eval_room(std::int64_t schedule_id, redis::Script script,
                                                     std::vector<std::string> keys,
                                                     std::vector<std::string> args) {
    if (!recovery_) co_return (co_await redis_.eval(script, std::move(keys), std::move(args))).or_throw();
    keys.push_back(key_prefix(schedule_id) + "epoch");
    for (int attempt = 0;; ++attempt) {
        redis::Reply reply = co_await redis_.eval(script, keys, args);
        const bool lost = reply.kind() == redis::Reply::Kind::String && reply.as_string() == "RECOVER";
        if (!lost) co_return std::move(reply).or_throw();
        if (attempt > 0) {
            // Lost again right after a rebuild (Redis restarted once more): the caller retries later.
            throw core::Problem::unavailable("redis", "The waiting room is being restored; retry shortly.",
                                             std::chrono::seconds(1));
        }
        co_await recovery_->rebuild(schedule_id);
    }
}

asio::awaitable<Joined> WaitingRoom::join(std::string user_id, std::int64_t schedule_id,
                                          std::int64_t opens_at_ms) {
    const std::string prefix = key_prefix(schedule_id);
    std::vector<std::string> keys{
        prefix + "seq",   prefix + "waiting", prefix + "seen", prefix + "active", prefix + "user:" + user_id,
        prefix + "audit", prefix + "scanned", prefix + "pre"};
    std::vector<std::string> args{prefix,
                                  user_id,
                                  std::to_string(schedule_id),
                                  new_token_id(),
                                  ms(settings_.ended_ttl),
                                  std::to_string(opens_at_ms)};
    const redis::Reply reply =
        co_await eval_room(schedule_id, scripts::join(), std::move(keys), std::move(args));
    const auto& e = reply.elements();
    Joined joined;
    joined.created = integer_at(e, 0) == 1;
    joined.status.token = e.at(1).as_string();
    joined.status.schedule_id = schedule_id;
    joined.status.state = state_of(e.at(2));
    joined.status.position = integer_at(e, 3);
    joined.status.expires_at = integer_at(e, 4);
    if (joined.status.state == TokenState::Waiting && e.size() > 8) {
        memory_.remember(schedule_id, user_id,
                         FanMemory{joined.status.token, integer_at(e, 7), joined.status.position,
                                   integer_at(e, 8), steady_ms(), epoch_ms(), 0});
    } else {
        memory_.forget(schedule_id, user_id);
    }
    // Make sure the scheduler scans this schedule, unless the join script saw the scanned flag: then a
    // scheduler has seen the room non-empty since it last found it empty, the schedule is in the scan set
    // and cannot be forgotten while this token lives (forgetting follows only a step that finds the room
    // empty, which drops the flag first). One Redis round trip per join instead of two during a sale.
    if (e.size() > 6 && integer_at(e, 6) == 1) co_return joined;
    co_await add_to_scan_set(schedule_id, integer_at(e, 5));
    co_return joined;
}

// GT: the score (the arrival counter) only rises, which is what lets try_forget() tell whether a join came
// after the scheduler last saw the schedule empty.
asio::awaitable<void> WaitingRoom::add_to_scan_set(std::int64_t schedule_id, std::int64_t sequence) {
    std::vector<std::string> zadd{"ZADD", settings_.schedules_key, "GT", std::to_string(sequence),
                                  std::to_string(schedule_id)};
    (co_await redis_.command(std::move(zadd))).or_throw();
}

asio::awaitable<std::optional<TokenStatus>> WaitingRoom::find_status(std::string user_id,
                                                                     std::int64_t schedule_id) {
    const std::string prefix = key_prefix(schedule_id);
    std::vector<std::string> keys{
        prefix + "user:" + user_id, prefix + "waiting", prefix + "seen", prefix + "active",
        prefix + "audit",           prefix + "scanned", prefix + "seq",  prefix + "pre"};
    std::vector<std::string> args{prefix, ms(settings_.ended_ttl)};
    redis::Reply reply = co_await eval_room(schedule_id, scripts::status(), keys, args);
    if (reply.elements().empty()) {
        // ADR 0022: Redis does not know the user's token; PostgreSQL may (Redis came back behind).
        if (!recovery_) co_return std::nullopt;
        const std::optional<TokenRow> row = co_await recovery_->find_latest(schedule_id, user_id);
        if (!row) co_return std::nullopt;
        memory_.forget(schedule_id, user_id);
        if (is_ended(row->state)) {
            TokenStatus ended;
            ended.token = row->id;
            ended.schedule_id = schedule_id;
            ended.state = row->state;
            co_return ended;
        }
        std::vector<TokenRow> rows(1, *row);
        co_await recovery_->restore(schedule_id, std::move(rows));
        reply = co_await eval_room(schedule_id, scripts::status(), std::move(keys), std::move(args));
        if (reply.elements().empty()) co_return std::nullopt;
    }
    const auto& e = reply.elements();
    TokenStatus status;
    status.token = e.at(0).as_string();
    status.schedule_id = schedule_id;
    status.state = state_of(e.at(1));
    status.position = integer_at(e, 2);
    status.expires_at = integer_at(e, 3);
    if (status.state == TokenState::Waiting && e.size() > 7) {
        // ADR 0039: the script refreshed the token's last-seen time just now (Redis clock).
        const std::int64_t now = epoch_ms();
        memory_.remember(schedule_id, user_id,
                         FanMemory{status.token, integer_at(e, 6), status.position, integer_at(e, 7),
                                   steady_ms(), now, now});
    } else {
        memory_.forget(schedule_id, user_id);
    }
    // The backstop of the joins that skipped their ZADD: a waiting fan who polls while no scheduler scans
    // the schedule (the flag lapsed, e.g. after a join's own ZADD failed) puts it back in the scan set.
    if (e.size() > 5 && integer_at(e, 4) == 0) {
        co_await add_to_scan_set(schedule_id, integer_at(e, 5));
    }
    co_return status;
}

asio::awaitable<std::optional<TokenStatus>> WaitingRoom::poll_status(std::string user_id,
                                                                     std::int64_t schedule_id) {
    if (auto answer = memory_.answer(schedule_id, user_id, steady_ms(), epoch_ms())) {
        if (polls_from_memory_ != nullptr) polls_from_memory_->inc();
        TokenStatus status;
        status.token = std::move(answer->token);
        status.schedule_id = schedule_id;
        status.state = TokenState::Waiting;
        status.position = answer->position;
        co_return status;
    }
    if (polls_from_redis_ != nullptr) polls_from_redis_->inc();
    co_return co_await find_status(std::move(user_id), schedule_id);
}

asio::awaitable<void> WaitingRoom::refresh_memory() {
    // Walking every remembered fan for due last-seen times costs O(fans): done every 1/16 of the waiting TTL
    // (at least every period), so a time is written back at most 5/16 of the TTL after Redis's.
    const std::int64_t now = steady_ms();
    const std::int64_t scan_every =
        std::max<std::int64_t>(memory_period().count(), settings_.waiting_ttl.count() / 16);
    const bool scan_seen = seen_scanned_ms_ == 0 || now - seen_scanned_ms_ >= scan_every;
    if (scan_seen) seen_scanned_ms_ = now;
    for (const std::int64_t schedule_id : memory_.schedules(steady_ms(), kMemoryIdleMs)) {
        const std::string prefix = key_prefix(schedule_id);
        std::vector<std::string> keys{prefix + "waiting", prefix + "pre", prefix + "scanned", prefix + "seq"};
        if (recovery_) keys.push_back(prefix + "epoch");
        const std::int64_t sent_ms = steady_ms();
        std::vector<std::string> args(1, prefix);
        const redis::Reply reply =
            (co_await redis_.eval(scripts::view(), std::move(keys), std::move(args))).or_throw();
        const auto& e = reply.elements();
        RoomView view;
        view.head = integer_at(e, 0);
        view.has_head = view.head >= 0;
        view.admitted = integer_at(e, 1);
        view.pre = integer_at(e, 2);
        view.epoch = integer_at(e, 3) == 1;
        view.read_ms = sent_ms;
        if (memory_.note_view(schedule_id, view)) held_.note_view(schedule_id, view);  // ADR 0049
        // find_status()'s backstop, for the polls memory answered: a room with waiting fans that no scheduler
        // scans goes back into the scan set.
        if (integer_at(e, 4) == 0 && integer_at(e, 6) > 0) {
            co_await add_to_scan_set(schedule_id, integer_at(e, 5));
        }
        // The last-seen times of fans answered from memory, written back long before the waiting TTL could
        // end them (GT: never moved back; XX: a token no longer waiting is not put back).
        if (!scan_seen) continue;
        const auto due = memory_.due_seen(schedule_id, epoch_ms(), settings_.waiting_ttl.count() / 4);
        for (std::size_t i = 0; i < due.size(); i += kSeenBatch) {
            std::vector<std::string> zadd{"ZADD", prefix + "seen", "XX", "GT"};
            for (std::size_t j = i; j < std::min(due.size(), i + kSeenBatch); ++j) {
                zadd.push_back(std::to_string(due[j].second));
                zadd.push_back(due[j].first);
            }
            (co_await redis_.command(std::move(zadd))).or_throw();
        }
    }
}

void WaitingRoom::start_memory(const asio::any_io_executor& executor, core::MetricsRegistry* metrics) {
    if (metrics != nullptr) {
        polls_from_memory_ = &metrics
                                  ->counter("queue_polls_from_memory_total",
                                            "Queue polls answered from process memory (ADR 0039)")
                                  .with({});
        polls_from_redis_ =
            &metrics->counter("queue_polls_from_redis_total", "Queue polls answered by a Redis script")
                 .with({});
        auto& held =
            metrics->counter("queue_held_polls_total",
                             "Held queue polls (waitMs, ADR 0049) by how they ended: woken by a change, "
                             "at their timeout, or refused (over the bound: answered at once)");
        held_.set_metrics(&held.with({{"outcome", "woken"}}), &held.with({{"outcome", "timeout"}}),
                          &held.with({{"outcome", "refused"}}));
    }
    asio::co_spawn(
        executor, [self = shared_from_this()] { return self->run_memory(); }, asio::detached);
}

asio::awaitable<void> WaitingRoom::run_memory() {
    auto keep = shared_from_this();
    // Redis away: the views age past their bound and every poll goes to Redis (and its errors).
    co_await loop::run_every(
        stopping_, [this] { return memory_period(); }, [this] { return refresh_memory(); },
        loop::warn("queue poll memory refresh failed"));
}

asio::awaitable<GateCheck> WaitingRoom::check(std::string user_id, std::int64_t schedule_id,
                                              std::string token) {
    const std::string prefix = key_prefix(schedule_id);
    std::vector<std::string> keys{prefix + "waiting", prefix + "active", prefix + "audit"};
    // ADR 0027: a hold extension lengthens the sliding idle TTL too (0 stays 0: no sliding).
    std::chrono::milliseconds extended_sliding_ttl = settings_.active_ttl;
    if (controls_ && extended_sliding_ttl.count() > 0) {
        extended_sliding_ttl += std::chrono::seconds(controls_->get(schedule_id).hold_extension_seconds);
    }
    std::vector<std::string> args{prefix,
                                  token,
                                  user_id,
                                  std::to_string(schedule_id),
                                  ms(extended_sliding_ttl),
                                  ms(settings_.ended_ttl)};
    if (recovery_) args.push_back(ms(audit_step(settings_)));
    redis::Reply reply = co_await eval_room(schedule_id, scripts::check(), keys, args);
    GateCheck check;
    if (reply.elements().at(0).as_string() == "MISSING") {
        // ADR 0022: not in Redis. PostgreSQL tells a forged token (403) from an ended one (410) and from a
        // live one Redis lost (put back, then checked again).
        check.outcome = GateOutcome::Invalid;
        if (!recovery_) co_return check;
        const std::optional<TokenRow> row = co_await recovery_->find_token(token);
        if (!row || row->user_id != user_id || row->schedule_id != schedule_id) co_return check;
        if (is_ended(row->state)) {
            check.outcome = GateOutcome::Ended;
            co_return check;
        }
        std::vector<TokenRow> rows(1, *row);
        co_await recovery_->restore(schedule_id, std::move(rows));
        reply = co_await eval_room(schedule_id, scripts::check(), std::move(keys), std::move(args));
    }
    const auto& e = reply.elements();
    const std::string& verdict = e.at(0).as_string();
    if (verdict == "ACTIVE") {
        check.outcome = GateOutcome::Active;
        check.expires_at = integer_at(e, 1);
    } else if (verdict == "WAITING") {
        check.outcome = GateOutcome::Waiting;
        check.position = integer_at(e, 1);
    } else if (verdict == "ENDED") {
        check.outcome = GateOutcome::Ended;
    } else {
        check.outcome = GateOutcome::Invalid;
    }
    co_return check;
}

asio::awaitable<bool> WaitingRoom::release(std::int64_t schedule_id, std::string token) {
    const std::string prefix = key_prefix(schedule_id);
    std::vector<std::string> keys{prefix + "active", prefix + "audit", prefix + "admission"};
    std::vector<std::string> args{prefix, token, ms(settings_.ended_ttl)};
    redis::Reply reply = co_await eval_room(schedule_id, scripts::release(), keys, args);
    if (reply.as_integer() == -1 && recovery_) {
        // ADR 0022: a live token Redis lost is put back first, so the purchase frees its slot.
        const std::optional<TokenRow> row = co_await recovery_->find_token(token);
        if (row && row->schedule_id == schedule_id && !is_ended(row->state)) {
            std::vector<TokenRow> rows(1, *row);
            co_await recovery_->restore(schedule_id, std::move(rows));
            reply = co_await eval_room(schedule_id, scripts::release(), std::move(keys), std::move(args));
        }
    }
    co_return reply.as_integer() == 1;
}

asio::awaitable<AdmitStep> WaitingRoom::admit(std::int64_t schedule_id, ScheduleControls controls) {
    const std::string prefix = key_prefix(schedule_id);
    const std::int64_t sent_ms = steady_ms();
    std::vector<std::string> keys{prefix + "waiting",   prefix + "seen",        prefix + "active",
                                  prefix + "audit",     prefix + "admit-clock", prefix + "seq",
                                  prefix + "admission", prefix + "scanned",     prefix + "pre"};
    // Until the controller's first step, an automatic bound or rate is its start value (ADR 0016).
    const AdmissionState start = admission_start(settings_.admission);
    const unsigned rate = settings_.auto_admit_rate ? static_cast<unsigned>(start.rate)
                                                    : std::max(settings_.admit_per_second, 1u);
    std::int64_t bound =
        settings_.auto_max_active ? applied_bound(start.bound) : std::int64_t{settings_.max_active};
    std::string rate_text = std::to_string(rate);
    std::int64_t burst = burst_per_tick(rate, settings_.tick);
    bool auto_bound = settings_.auto_max_active;
    bool auto_rate = settings_.auto_admit_rate;
    // ADR 0027: the operator's numbers win while set; paused is a bound of 0 (the room admits nobody).
    if (controls.admits_per_minute) {
        const double per_second = *controls.admits_per_minute / 60.0;
        rate_text = decimal(per_second);
        burst = std::max<std::int64_t>(
            1, static_cast<std::int64_t>(
                   std::ceil(per_second * static_cast<double>(settings_.tick.count()) / 1000)));
        auto_rate = false;
    }
    if (controls.max_active) {
        bound = *controls.max_active;
        auto_bound = false;
    }
    if (controls.paused) {
        bound = 0;
        auto_bound = auto_rate = false;
    }
    // A new admission's expiry: a hold extension lengthens it too (ADR 0027).
    const std::chrono::milliseconds active_ttl =
        settings_.active_ttl + std::chrono::seconds(controls.hold_extension_seconds);
    std::vector<std::string> args{prefix,
                                  rate_text,
                                  std::to_string(burst),
                                  std::to_string(bound),
                                  ms(active_ttl),
                                  ms(settings_.waiting_ttl),
                                  ms(settings_.ended_ttl),
                                  std::to_string(kExpiryBatch),
                                  auto_bound ? "1" : "0",
                                  auto_rate ? "1" : "0",
                                  ms(settings_.tick),
                                  ms(scanned_ttl(settings_.tick))};
    const redis::Reply reply =
        co_await eval_room(schedule_id, scripts::admit(), std::move(keys), std::move(args));
    const auto& e = reply.elements();
    AdmitStep step;
    step.admitted = integer_at(e, 0);
    step.expired = integer_at(e, 1);
    step.waiting = integer_at(e, 2);
    step.active = integer_at(e, 3);
    step.sequence = integer_at(e, 4);
    step.now = integer_at(e, 5);
    step.bound = integer_at(e, 6);
    step.rate = number_of(e.at(7));
    const auto& adm = e.at(8).elements();
    if (adm.size() >= 12) {
        step.automatic = true;
        step.at_text = adm[0].kind() == redis::Reply::Kind::String ? adm[0].as_string() : std::string();
        AdmissionState& a = step.admission;
        a.at = integer_of(adm[0]);
        a.bound = number_of(adm[1]);
        a.rate = number_of(adm[2]);
        a.base_ms = number_of(adm[3]);
        a.throughput = number_of(adm[4]);
        a.probing = adm[5].kind() != redis::Reply::Kind::String || adm[5].as_string() != "0";
        a.used = integer_of(adm[6]);
        a.busy_ms = integer_of(adm[7]);
        a.active_ms = integer_of(adm[8]);
        step.used = integer_of(adm[9]);
        step.busy_ms = integer_of(adm[10]);
        step.active_ms = integer_of(adm[11]);
        if (adm.size() >= 13) a.handover_ms = number_of(adm[12]);  // ADR 0045
        note_throughput(schedule_id, a.throughput);
    }
    if (e.size() > 9) step.pre_queued = integer_at(e, 9);
    if (e.size() > 11) {
        // ADR 0039: this process's memory sees its own step at once (the script ran after `sent_ms`).
        RoomView view;
        view.head = integer_at(e, 10);
        view.has_head = view.head >= 0;
        view.admitted = integer_at(e, 11);
        view.pre = step.pre_queued;
        view.read_ms = sent_ms;
        if (memory_.note_view(schedule_id, view)) held_.note_view(schedule_id, view);  // ADR 0049
    }
    co_return step;
}

asio::awaitable<bool> WaitingRoom::save_admission(std::int64_t schedule_id, std::string at_text,
                                                  AdmissionState state) {
    std::vector<std::string> keys{key_prefix(schedule_id) + "admission"};
    std::vector<std::string> args{std::move(at_text),
                                  ms(settings_.ended_ttl),
                                  "at",
                                  std::to_string(state.at),
                                  "bound",
                                  decimal(state.bound),
                                  "rate",
                                  decimal(state.rate),
                                  "base",
                                  decimal(state.base_ms),
                                  "tput",
                                  decimal(state.throughput),
                                  "probing",
                                  state.probing ? "1" : "0",
                                  "s_used",
                                  std::to_string(state.used),
                                  "s_busy",
                                  std::to_string(state.busy_ms),
                                  "s_active",
                                  std::to_string(state.active_ms),
                                  "hand",
                                  decimal(state.handover_ms)};
    const redis::Reply reply =
        (co_await redis_.eval(scripts::admission_save(), std::move(keys), std::move(args))).or_throw();
    const bool saved = reply.as_integer() == 1;
    if (saved) note_throughput(schedule_id, state.throughput);
    co_return saved;
}

unsigned WaitingRoom::eta_rate(std::int64_t schedule_id) const {
    if (!settings_.auto_admit_rate) return std::max(settings_.admit_per_second, 1u);
    double throughput = 0;
    {
        std::lock_guard lock(rates_mutex_);
        const auto it = throughput_.find(schedule_id);
        if (it != throughput_.end()) throughput = it->second;
    }
    // Before any purchase is measured: the start bound per second, the controller's first guess.
    if (throughput < 1) return std::max(1u, static_cast<unsigned>(admission_start(settings_.admission).rate));
    return static_cast<unsigned>(std::min(throughput, 1e6));
}

void WaitingRoom::note_throughput(std::int64_t schedule_id, double purchases_per_second) {
    std::lock_guard lock(rates_mutex_);
    if (throughput_.size() >= 10'000 && throughput_.count(schedule_id) == 0) throughput_.clear();  // bounded
    throughput_[schedule_id] = purchases_per_second;
}

asio::awaitable<std::vector<std::int64_t>> WaitingRoom::schedules() {
    std::vector<std::string> zrange{"ZRANGE", settings_.schedules_key, "0", "-1"};
    const redis::Reply reply = (co_await redis_.command(std::move(zrange))).or_throw();
    std::vector<std::int64_t> ids;
    for (const auto& element : reply.elements()) {
        const std::int64_t id = parse_int(element.as_string());
        if (id > 0) ids.push_back(id);
    }
    co_return ids;
}

asio::awaitable<bool> WaitingRoom::try_forget(std::int64_t schedule_id, std::int64_t sequence) {
    std::vector<std::string> keys{settings_.schedules_key};
    std::vector<std::string> args{std::to_string(schedule_id), std::to_string(sequence)};
    const redis::Reply reply =
        (co_await redis_.eval(scripts::forget(), std::move(keys), std::move(args))).or_throw();
    co_return reply.as_integer() == 1;
}

asio::awaitable<std::vector<std::string>> WaitingRoom::pop_audit(std::int64_t schedule_id, std::size_t max) {
    std::vector<std::string> lpop{"LPOP", key_prefix(schedule_id) + "audit", std::to_string(max)};
    const redis::Reply reply = (co_await redis_.command(std::move(lpop))).or_throw();
    std::vector<std::string> events;
    if (reply.is_nil()) co_return events;
    for (const auto& element : reply.elements()) events.push_back(element.as_string());
    co_return events;
}

asio::awaitable<void> WaitingRoom::push_back_audit(std::int64_t schedule_id,
                                                   std::vector<std::string> events) {
    if (events.empty()) co_return;
    std::vector<std::string> args{"RPUSH", key_prefix(schedule_id) + "audit"};
    for (auto& event : events) args.push_back(std::move(event));
    (co_await redis_.command(std::move(args))).or_throw();
}

}  // namespace marquee::queue
