#include "services/booking/service.hpp"

#include <cstdio>
#include <exception>
#include <optional>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/log_context.hpp"
#include "core/problem.hpp"
#include "redis/client.hpp"
#include "redis/script.hpp"

namespace marquee::booking {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

/// Deletes the lock only while it still carries our token, so a lock that expired and was taken by another
/// request is never removed by us.
const redis::Script& unlock_script() {
    static const redis::Script kScript(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");
    return kScript;
}

/// Turns our lock into a `taken` marker for ARGV[2] ms, only while it still carries our token.
const redis::Script& mark_taken_script() {
    static const redis::Script kScript(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], 'taken', 'PX', "
        "ARGV[2]) "
        "end return 0");
    return kScript;
}

/// A seat lock for a refresh of TakenMemory (ADR 0046): set when the key is absent or only a `taken` marker,
/// never over another request's lock. 1: taken by us.
const redis::Script& lock_over_taken_script() {
    static const redis::Script kScript(
        "local v = redis.call('GET', KEYS[1]) if v == false or v == 'taken' then "
        "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0");
    return kScript;
}

/// Removes a `taken` marker (never a lock a request holds).
const redis::Script& clear_taken_script() {
    static const redis::Script kScript(
        "if redis.call('GET', KEYS[1]) == 'taken' then return redis.call('DEL', KEYS[1]) end return 0");
    return kScript;
}

std::string random_token() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    char buffer[33];
    std::snprintf(buffer, sizeof buffer, "%016llx%016llx", static_cast<unsigned long long>(engine()),
                  static_cast<unsigned long long>(engine()));
    return buffer;
}

core::Problem seat_taken(const std::vector<std::int64_t>& seats) {
    json::array ids;
    for (auto id : seats) ids.push_back(id);
    return core::Problem::conflict("seat-taken", "a requested seat is already held or sold")
        .with("seats", json::value(std::move(ids)));
}

}  // namespace

Service::Service(Store& store, redis::Client& redis, QueueCheck queue_check, core::MetricsRegistry& metrics,
                 ServiceOptions options)
    : store_(store),
      redis_(redis),
      queue_check_(std::move(queue_check)),
      options_(options),
      taken_memory_(options.taken_memory),
      passes_(options.taken_memory),
      held_(metrics.counter("booking_holds_total", "Hold attempts by outcome").with({{"outcome", "held"}})),
      taken_memory_refused_(metrics.counter("booking_holds_total", "Hold attempts by outcome")
                                .with({{"outcome", "seat-taken-memory"}})),
      taken_lock_(metrics.counter("booking_holds_total", "Hold attempts by outcome")
                      .with({{"outcome", "seat-taken-lock"}})),
      taken_db_(metrics.counter("booking_holds_total", "Hold attempts by outcome")
                    .with({{"outcome", "seat-taken-db"}})),
      best_held_(metrics.counter("booking_holds_total", "Hold attempts by outcome")
                     .with({{"outcome", "held-best-available"}})),
      limit_refused_(metrics.counter("booking_holds_total", "Hold attempts by outcome")
                         .with({{"outcome", "ticket-limit-reached"}})),
      no_seats_(metrics.counter("booking_holds_total", "Hold attempts by outcome")
                    .with({{"outcome", "no-seats-available"}})),
      replayed_(
          metrics.counter("booking_holds_total", "Hold attempts by outcome").with({{"outcome", "replayed"}})),
      expired_(metrics.counter("booking_holds_expired_total", "Holds the sweeper expired").with({})) {}

asio::awaitable<Reservation> Service::hold(std::string user_id, std::string queue_token, HoldRequest request,
                                           std::optional<std::string> idempotency_key) {
    if (!idempotency_key) {
        co_return co_await attempt(std::move(user_id), std::move(queue_token), std::move(request), {}, {});
    }
    // ADR 0032 (amended by ADR 0034): a key already used by this fan answers its reservation as it is now (or
    // 422). booking.hold and hold_best replay it themselves under the fan's lock, so a hold that reaches the
    // database needs no statement more; a refusal decided before the database (the sale closed, the queue
    // check, TakenMemory, a Redis seat lock: each would call the fan's own retry refused) asks first whether
    // the key was used.
    const std::string request_hash = hold_request_hash(request);
    std::exception_ptr refusal;
    try {
        co_return co_await attempt(user_id, queue_token, request, idempotency_key, request_hash);
    } catch (const core::Problem& p) {
        if (p.status() >= 500) throw;
        refusal = std::current_exception();
    }
    auto prior = co_await store_.find_by_key(user_id, *idempotency_key);
    if (!prior) std::rethrow_exception(refusal);
    if (prior->request_hash != request_hash) {
        throw core::Problem::unprocessable("idempotency-key-reused",
                                           "this Idempotency-Key was used for another hold");
    }
    replayed_.inc();
    co_return std::move(prior->reservation);
}

std::optional<core::Problem> Service::refused_from_memory(std::string_view user_id,
                                                          std::string_view queue_token,
                                                          const HoldRequest& request) {
    // As attempt(): sales closed early refuse before anything else (that refusal is left to hold()).
    if (sale_controls_ && sale_controls_(request.schedule_id).sales_closed) return std::nullopt;
    // A refresh that is due is claimed by attempt(), on the full path this request then takes.
    return refused_from_known(user_id, queue_token, request, nullptr);
}

std::optional<core::Problem> Service::refused_from_known(std::string_view user_id,
                                                         std::string_view queue_token,
                                                         const HoldRequest& request, bool* refreshing) {
    // ADR 0038 (amends ADR 0015, point 3): seats known taken, and a pass this process found ACTIVE within the
    // memory's bound: the same 409 without the queue check's Redis round trip. Only a refusal; a pass is
    // never taken on trust for anything that could be granted.
    if (!taken_memory_.enabled() || request.best_available()) return std::nullopt;
    const auto now = options_.now();
    // The pass first: only a caller that would be refused here may claim a refresh (ADR 0046).
    if (!passes_.fresh(user_id, request.schedule_id, queue_token, now)) return std::nullopt;
    const auto known = taken_memory_.lookup(request.schedule_id, request.seat_ids, now,
                                            refreshing ? TakenMemory::Claim::Yes : TakenMemory::Claim::No);
    if (known.seats.empty()) return std::nullopt;
    if (known.refresh) {  // asked again before the memory lapses: this one goes on to the database
        if (refreshing) *refreshing = true;
        return std::nullopt;
    }
    taken_memory_refused_.inc();
    return seat_taken(known.seats);
}

asio::awaitable<Reservation> Service::attempt(std::string user_id, std::string queue_token,
                                              HoldRequest request, std::optional<std::string> idempotency_key,
                                              std::string request_hash) {
    // ADR 0027: sales closed early refuse before anything else; an extension lengthens the new hold.
    const SaleControl sale = sale_controls_ ? sale_controls_(request.schedule_id) : SaleControl{};
    if (sale.sales_closed) {
        throw core::Problem::forbidden(
            "sales-closed",
            "Sales of schedule " + std::to_string(request.schedule_id) + " were closed by the organiser.");
    }
    // ADR 0046: an attempt chosen to refresh TakenMemory is not refused from it; it asks the database.
    bool refreshing = false;
    if (auto refusal = refused_from_known(user_id, queue_token, request, &refreshing)) {
        throw std::move(*refusal);
    }
    // Remembered from before the check: the pass was ACTIVE at some instant after this one.
    const auto checking = options_.now();
    const std::string token_id = co_await queue_check_(user_id, request.schedule_id, queue_token);
    passes_.remember(user_id, request.schedule_id, queue_token, checking);
    if (request.best_available()) {
        co_return co_await hold_best(std::move(user_id), token_id, request,
                                     options_.hold_ttl + sale.hold_extension, std::move(idempotency_key),
                                     std::move(request_hash));
    }

    // Seen HELD or SOLD within the bound: the same 409, without Redis or the database. Only a refusal;
    // whatever is not refused here goes on to the lock and the database, which alone grant. Seats due to be
    // asked again (ADR 0046): one attempt is chosen to ask, the others are refused from what is remembered.
    if (!refreshing && taken_memory_.enabled()) {
        const auto known = taken_memory_.lookup(request.schedule_id, request.seat_ids, options_.now(),
                                                TakenMemory::Claim::Yes);
        if (known.refresh) {
            refreshing = true;
        } else if (!known.seats.empty()) {
            taken_memory_refused_.inc();
            throw seat_taken(known.seats);
        }
    }

    const std::string lock_token = random_token();
    std::vector<std::string> held_keys;
    // A refresh asks the database even where a `taken` marker stands (the marker was left by the answer it
    // asks again); another request's lock still sheds it.
    const auto contended =
        co_await lock(request.schedule_id, request.seat_ids, lock_token, held_keys, refreshing);
    if (!contended.empty()) {
        taken_lock_.inc();
        throw seat_taken(contended);
    }

    NewHold hold;
    hold.user_id = user_id;
    hold.schedule_id = request.schedule_id;
    hold.queue_token_id = token_id;
    hold.seat_ids = request.seat_ids;
    hold.ttl = options_.hold_ttl + sale.hold_extension;
    hold.idempotency_key = std::move(idempotency_key);
    hold.request_hash = std::move(request_hash);
    HoldOutcome outcome;
    std::exception_ptr failure;
    // The statement starts after this instant, so whatever it finds taken (or holds) was taken at or after
    // it: remembering from here never refuses a seat longer than the bound after it was really taken.
    const auto asked = options_.now();
    try {
        outcome = co_await store_.hold(hold);
    } catch (...) {
        failure = std::current_exception();
    }
    if (!failure) {
        // A replay (ADR 0032) holds nothing new: its seats may even be free again (an expired hold).
        if (!(outcome.reservation && outcome.reservation->replayed)) {
            taken_memory_.remember(request.schedule_id,
                                   outcome.reservation ? request.seat_ids : outcome.taken, asked);
        }
    }
    if (!failure && !outcome.reservation && options_.taken_ttl.count() > 0) {
        co_await unlock_marking_taken(held_keys, lock_token, request.schedule_id, outcome.taken);
    } else {
        co_await unlock(held_keys, lock_token);
    }
    if (failure) {
        count_refusal(failure);
        std::rethrow_exception(failure);
    }
    if (!outcome.reservation) {
        taken_db_.inc();
        throw seat_taken(outcome.taken);
    }
    (outcome.reservation->replayed ? replayed_ : held_).inc();
    co_return std::move(*outcome.reservation);
}

void Service::count_refusal(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const core::Problem& p) {
        if (p.type() == "ticket-limit-reached") limit_refused_.inc();
        if (p.type() == "no-seats-available") no_seats_.inc();
    } catch (...) {
    }
}

asio::awaitable<Reservation> Service::hold_best(std::string user_id, std::string token_id,
                                                HoldRequest request, std::chrono::milliseconds ttl,
                                                std::optional<std::string> idempotency_key,
                                                std::string request_hash) {
    // No seat is named, so there is nothing for TakenMemory to refuse or for a Redis seat lock to shed: the
    // statement chooses among the seats free in the database, and the unique index decides a race with a
    // seat hold. The seats it chose are then remembered as taken, like those of a seat hold, so that seat
    // holds of them are refused from memory; a release forgets them as it forgets any hold's seats. Redis
    // `taken` markers are not written: they only shed repeat attempts that the database refused once.
    NewHold hold;
    hold.user_id = std::move(user_id);
    hold.schedule_id = request.schedule_id;
    hold.queue_token_id = std::move(token_id);
    hold.zone_id = request.zone_id;
    hold.count = request.count;
    hold.ttl = ttl;
    hold.idempotency_key = std::move(idempotency_key);
    hold.request_hash = std::move(request_hash);
    const auto asked = options_.now();
    std::optional<Reservation> held;
    std::exception_ptr failure;
    try {
        held = co_await store_.hold_best(hold);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        count_refusal(failure);
        std::rethrow_exception(failure);
    }
    Reservation reservation = std::move(*held);
    if (reservation.replayed) {  // the key's earlier hold (ADR 0032): nothing new to remember or count
        replayed_.inc();
        co_return reservation;
    }
    std::vector<std::int64_t> seats;
    for (const auto& seat : reservation.seats) seats.push_back(seat.seat_id);
    taken_memory_.remember(request.schedule_id, seats, asked);
    best_held_.inc();
    co_return reservation;
}

asio::awaitable<std::vector<std::int64_t>> Service::lock(std::int64_t schedule_id,
                                                         std::vector<std::int64_t> seat_ids,
                                                         std::string token,
                                                         std::vector<std::string>& held_keys,
                                                         bool over_taken) {
    std::vector<std::int64_t> contended;
    for (auto seat : seat_ids) {  // sorted: two multi-seat holds never wait on each other in a cycle
        const std::string key = seat_lock_key(schedule_id, seat);
        bool taken = false;
        std::exception_ptr failure;
        try {
            if (over_taken) {
                std::vector<std::string> script_keys;
                script_keys.push_back(key);
                std::vector<std::string> args;
                args.push_back(token);
                args.push_back(std::to_string(options_.lock_ttl.count()));
                const auto reply = co_await redis_.eval(lock_over_taken_script(), script_keys, args);
                taken = reply.or_throw().as_integer() == 1;
            } else {
                taken = co_await redis_.try_set(key, token, options_.lock_ttl);
            }
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            co_await unlock(held_keys, token);
            held_keys.clear();
            std::rethrow_exception(failure);
        }
        if (!taken) {
            contended.push_back(seat);
            break;
        }
        held_keys.push_back(key);
    }
    if (!contended.empty()) {
        co_await unlock(held_keys, token);
        held_keys.clear();
    }
    co_return contended;
}

asio::awaitable<void> Service::unlock(std::vector<std::string> keys, std::string token) {
    for (const auto& key : keys) {
        std::vector<std::string> script_keys;
        script_keys.push_back(key);
        std::vector<std::string> args;
        args.push_back(token);
        try {
            co_await redis_.eval(unlock_script(), script_keys, args);
        } catch (const std::exception& e) {
            // The lock expires by itself after lock_ttl; the database decided the hold either way.
            core::log_warn("booking: seat unlock failed", {{"key", key}, {"error", e.what()}});
        }
    }
}

asio::awaitable<void> Service::unlock_marking_taken(std::vector<std::string> keys, std::string token,
                                                    std::int64_t schedule_id,
                                                    std::vector<std::int64_t> taken) {
    std::vector<std::string> release;
    for (const auto& key : keys) {
        bool is_taken = false;
        for (const auto seat : taken) is_taken = is_taken || key == seat_lock_key(schedule_id, seat);
        if (!is_taken) {
            release.push_back(key);
            continue;
        }
        std::vector<std::string> script_keys;
        script_keys.push_back(key);
        std::vector<std::string> args;
        args.push_back(token);
        args.push_back(std::to_string(options_.taken_ttl.count()));
        try {
            co_await redis_.eval(mark_taken_script(), script_keys, args);
        } catch (const std::exception& e) {
            // The lock expires by itself after lock_ttl; the database decided the hold either way.
            core::log_warn("booking: seat marker failed", {{"key", key}, {"error", e.what()}});
        }
    }
    co_await unlock(std::move(release), std::move(token));
}

asio::awaitable<void> Service::clear_taken_markers(std::string user_id, std::string reservation_id) {
    if (options_.taken_ttl.count() == 0 && !taken_memory_.enabled()) co_return;
    try {
        const auto released = co_await store_.find(user_id, reservation_id);
        if (!released) co_return;
        std::vector<std::int64_t> seats;
        for (const auto& seat : released->seats) seats.push_back(seat.seat_id);
        taken_memory_.forget(released->schedule_id, seats);
        if (options_.taken_ttl.count() == 0) co_return;
        for (const auto& seat : released->seats) {
            std::vector<std::string> script_keys;
            script_keys.push_back(seat_lock_key(released->schedule_id, seat.seat_id));
            std::vector<std::string> no_args;
            co_await redis_.eval(clear_taken_script(), script_keys, no_args);
        }
    } catch (const std::exception& e) {
        // The markers lapse by themselves after taken_ttl, and the memory after taken_memory.
        core::log_warn("booking: clearing seat markers failed", {{"error", e.what()}});
    }
}

asio::awaitable<Reservation> Service::get(std::string user_id, std::string reservation_id) {
    const auto id = core::normalize_uuid(reservation_id);
    if (!id) throw core::Problem::not_found("no such reservation");
    auto found = co_await store_.find(user_id, *id);
    if (!found) throw core::Problem::not_found("no such reservation");
    co_return std::move(*found);
}

asio::awaitable<std::vector<Reservation>> Service::mine(std::string user_id) {
    co_return co_await store_.list(user_id, kListLimit);
}

asio::awaitable<void> Service::release(std::string user_id, std::string reservation_id) {
    const auto id = core::normalize_uuid(reservation_id);
    if (!id) throw core::Problem::not_found("no such reservation");
    const auto outcome = co_await store_.release(user_id, *id);
    switch (outcome) {
        case ReleaseOutcome::Released:
            co_await clear_taken_markers(user_id, *id);
            co_return;
        case ReleaseOutcome::AlreadyCancelled:
            co_return;
        case ReleaseOutcome::Expired:
            throw core::Problem::gone("hold-expired", "the hold has expired; its seats were released");
        case ReleaseOutcome::Confirmed:
            throw core::Problem::conflict("already-confirmed", "a confirmed reservation cannot be released");
        case ReleaseOutcome::NotFound:
            break;
    }
    throw core::Problem::not_found("no such reservation");
}

asio::awaitable<int> Service::sweep() {
    int total = 0;
    for (;;) {
        const int expired = co_await store_.expire_due(options_.sweep_batch);
        expired_.inc(static_cast<std::uint64_t>(expired));
        total += expired;
        if (expired < options_.sweep_batch || stopped_) co_return total;
    }
}

asio::awaitable<void> Service::run_sweeper() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopped_) {
        timer.expires_after(options_.sweep_period);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || stopped_) co_return;
        // Each pass has a trace of its own: its log lines and the events of the holds it ends share it.
        const auto context =
            core::make_log_context(core::TraceContext::start(), {{"job", "booking-sweeper"}});
        const auto traced = core::with_log_context(timer.get_executor(), context);
        try {
            auto pass = sweep();
            const int expired = co_await asio::co_spawn(traced, std::move(pass), asio::use_awaitable);
            const core::LogContextScope scope(context);
            if (expired > 0) core::log_info("booking: holds expired", {{"count", expired}});
        } catch (const std::exception& e) {
            const core::LogContextScope scope(context);
            core::log_warn("booking: sweep failed", {{"error", e.what()}});
        }
    }
}

}  // namespace marquee::booking
