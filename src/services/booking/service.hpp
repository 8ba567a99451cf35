#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "services/booking/model.hpp"
#include "services/booking/pass_memory.hpp"
#include "services/booking/rules.hpp"
#include "services/booking/store.hpp"
#include "services/booking/taken_memory.hpp"

namespace marquee::redis {
class Client;
}

namespace marquee::booking {

struct ServiceOptions {
    /// How long a hold lives (database clock).
    std::chrono::milliseconds hold_ttl = kDefaultHoldTtl;
    /// Safety expiry of a seat lock, should its holder die; the lock only covers one hold transaction.
    std::chrono::milliseconds lock_ttl{10000};
    /// When PostgreSQL answers that a seat is taken, the seat's lock stays set (as `taken`) for this long,
    /// so the next attempts on it are refused from Redis without a database round trip (the hot-seat case:
    /// a thousand fans on one seat cost the database about one query per seat per taken_ttl). A seat that
    /// frees up meanwhile (a release, an expiry) can be held again at most this much later. 0: off.
    std::chrono::milliseconds taken_ttl{1000};
    /// A seat this process saw HELD or SOLD (its own grant, or the database's refusal) is refused from
    /// process memory for this long, without Redis or the database (TakenMemory, ADR 0015). 0 here (tests
    /// that count Redis and database refusals); the process takes --booking-taken-memory-ms (default 1 s).
    std::chrono::milliseconds taken_memory{0};
    /// The clock of TakenMemory and PassMemory (steady_clock::now); tests move their own by hand.
    TakenMemory::Clock::time_point (*now)() = [] { return TakenMemory::Clock::now(); };
    /// Sweeper: how often, and how many overdue holds per statement.
    std::chrono::milliseconds sweep_period{2000};
    int sweep_batch = 200;
};

/// Seat holds: the queue-token check, the seats known taken a moment ago (refused from memory), a Redis lock
/// per seat that sheds contention before the database (a lock taken by someone else → 409 at once), and the
/// store's one transaction, whose unique index is the real guard. Also the sweeper that expires overdue
/// holds.
class Service {
  public:
    Service(Store& store, redis::Client& redis, QueueCheck queue_check, core::MetricsRegistry& metrics,
            ServiceOptions options = {});

    /// 201-worthy reservation, or throws: 403/410 from the queue check, 404 unknown seat (or zone), 409
    /// `seat-taken` with the `seats` extension, 409 `booking-closed`, 409 `ticket-limit-reached` with `limit`
    /// and `taken`, 409 `no-seats-available` (best available: request.zone_id and count, ADR 0025).
    /// With an Idempotency-Key (ADR 0032, ADR 0034): the fan's reservation made with that key and the same
    /// request, as it is now (replayed = true), whatever else would refuse it; another request with it → 422
    /// `idempotency-key-reused`. The hold's statement decides that itself; a refusal before the database
    /// costs one statement more (the key's lookup). Without a key, nothing more than before is asked.
    boost::asio::awaitable<Reservation> hold(std::string user_id, std::string queue_token,
                                             HoldRequest request,
                                             std::optional<std::string> idempotency_key = std::nullopt);
    /// The refusal hold() would make first, before any I/O, when it is the 409 `seat-taken` from memory
    /// (ADR 0038: a seat known taken and a pass found ACTIVE within the bound), counted as hold() counts it;
    /// nullopt when hold() has to go on (sales closed, anything not known, best available). For a request
    /// without an Idempotency-Key, returning this problem is exactly what hold() would throw (ADR 0042: the
    /// route answers it without an exception and without hold()'s coroutines).
    std::optional<core::Problem> refused_from_memory(std::string_view user_id, std::string_view queue_token,
                                                     const HoldRequest& request);
    /// The caller's reservation; 404 for a malformed id or another user's.
    boost::asio::awaitable<Reservation> get(std::string user_id, std::string reservation_id);
    boost::asio::awaitable<std::vector<Reservation>> mine(std::string user_id);
    /// 404 unknown, 410 `hold-expired`, 409 `already-confirmed`; a cancelled one stays cancelled (no error).
    boost::asio::awaitable<void> release(std::string user_id, std::string reservation_id);

    /// One sweep: expires overdue holds batch by batch until none is left. Returns how many it expired.
    boost::asio::awaitable<int> sweep();
    /// Runs sweep() every sweep_period until stop() or the executor stops.
    boost::asio::awaitable<void> run_sweeper();
    void stop() { stopped_ = true; }
    /// The operators' controls (ADR 0027); set before the routes serve.
    void set_sale_controls(SaleControls controls) { sale_controls_ = std::move(controls); }

    static constexpr int kListLimit = 20;

  private:
    /// Counts a hold's refusal by the ticket limit or for want of seats (the store throws them as problems).
    void count_refusal(const std::exception_ptr& failure);
    /// refused_from_memory() after the sales-closed check: seats known taken and a pass checked within the
    /// bound. When those seats are due to be asked again (ADR 0046), nothing: with `refreshing`, this caller
    /// claimed the refresh (*refreshing = true) and must go on to Redis and the database; without, it leaves
    /// the claim to attempt().
    std::optional<core::Problem> refused_from_known(std::string_view user_id, std::string_view queue_token,
                                                    const HoldRequest& request, bool* refreshing);
    /// hold() without the key's lookup: every check, then the database (which replays a used key itself).
    boost::asio::awaitable<Reservation> attempt(std::string user_id, std::string queue_token,
                                                HoldRequest request,
                                                std::optional<std::string> idempotency_key,
                                                std::string request_hash);
    /// Best available (ADR 0025): the store's one statement picks and holds the seats, for `ttl` (the hold
    /// TTL with the operator's extension, ADR 0027).
    boost::asio::awaitable<Reservation> hold_best(std::string user_id, std::string token_id,
                                                  HoldRequest request, std::chrono::milliseconds ttl,
                                                  std::optional<std::string> idempotency_key,
                                                  std::string request_hash);
    /// Takes every seat's lock or none; returns the seats whose lock was taken by someone else. `over_taken`
    /// (a refresh of TakenMemory, ADR 0046): a `taken` marker does not stop it, only another request's lock.
    boost::asio::awaitable<std::vector<std::int64_t>> lock(std::int64_t schedule_id,
                                                           std::vector<std::int64_t> seat_ids,
                                                           std::string token,
                                                           std::vector<std::string>& held_keys,
                                                           bool over_taken);
    boost::asio::awaitable<void> unlock(std::vector<std::string> keys, std::string token);
    /// After a release: the seats leave this process's TakenMemory and their `taken` markers go at once, so
    /// others can hold them now.
    boost::asio::awaitable<void> clear_taken_markers(std::string user_id, std::string reservation_id);
    /// After the database said which seats are taken: our locks on those become `taken` markers for
    /// taken_ttl, the others are released.
    boost::asio::awaitable<void> unlock_marking_taken(std::vector<std::string> keys, std::string token,
                                                      std::int64_t schedule_id,
                                                      std::vector<std::int64_t> taken);

    Store& store_;
    redis::Client& redis_;
    QueueCheck queue_check_;
    SaleControls sale_controls_;
    ServiceOptions options_;
    TakenMemory taken_memory_;
    /// Passes the queue check found ACTIVE within TakenMemory's bound: a hold TakenMemory refuses is answered
    /// without checking them again (ADR 0038).
    PassMemory passes_;
    /// booking_holds_total{outcome}: held, seat-taken-memory (refused from TakenMemory), seat-taken-lock
    /// (shed by the Redis lock), seat-taken-db (refused by the unique index), held-best-available (seats the
    /// database chose), ticket-limit-reached, no-seats-available (ADR 0025), replayed (an Idempotency-Key's
    /// earlier hold answered again, ADR 0032); looked up once, not per request.
    /// booking_holds_expired_total: holds the sweeper expired.
    core::Counter& held_;
    core::Counter& taken_memory_refused_;
    core::Counter& taken_lock_;
    core::Counter& taken_db_;
    core::Counter& best_held_;
    core::Counter& limit_refused_;
    core::Counter& no_seats_;
    core::Counter& replayed_;
    core::Counter& expired_;
    std::atomic<bool> stopped_{false};
};

}  // namespace marquee::booking
