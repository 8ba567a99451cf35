#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/pool.hpp"
#include "services/booking/model.hpp"

namespace marquee::booking {

/// A reservation found by its Idempotency-Key (ADR 0032), with the hash of the request that made it.
struct KeyedHold {
    Reservation reservation;  ///< as it is now; replayed = true
    std::string request_hash;
};

/// Booking's SQL. Expiry is decided by the database clock in every statement: a HELD reservation with
/// expires_at <= now() reads as EXPIRED and never blocks its seats. The partial unique index
/// reservation_seats_one_live_per_seat, not any lock, is what refuses a second live hold of a seat.
class Store {
  public:
    /// durable_holds false (the default, ADR 0052): hold and hold_best commit with synchronous_commit off for
    /// their own transaction (booking/0015); every other statement commits as the server says. true: holds
    /// commit like every other statement.
    explicit Store(db::Pool& pool, bool durable_holds = false) : pool_(pool), durable_holds_(durable_holds) {}

    /// With hold.idempotency_key (ADR 0032): the fan's reservation made with that key and the same request is
    /// answered as it is now (replayed), another request with it is 422 `idempotency-key-reused`; nothing is
    /// written either way. hold_best too.
    /// In one transaction: reads the seats and prices through catalog.seats_for_hold (404 `not-found` for
    /// an unknown seat, 409 `booking-closed` outside the booking window), expires overdue holds of these
    /// seats, and writes the reservation, its seats and a `reservation.held` outbox row — or nothing, with
    /// the seats someone else holds or bought in `taken`.
    boost::asio::awaitable<HoldOutcome> hold(NewHold hold);

    /// Best available (booking.hold_best, ADR 0025): the database picks `hold.count` free seats of
    /// `hold.zone_id` (side by side in the row nearest the stage where it can) and holds them in one
    /// statement. 404 for a zone not in the schedule, 409 `booking-closed`, `ticket-limit-reached` or
    /// `no-seats-available`. A seat hold that took a chosen seat first is met by asking again.
    boost::asio::awaitable<Reservation> hold_best(NewHold hold);

    /// The caller's reservation made with this Idempotency-Key (booking.held_by_key, one statement), or
    /// nullopt. hold and hold_best decide the same in the database, under the fan's lock (ADR 0032); this
    /// lets the service answer a replay before its fast refusals, which would call the fan's own seats taken.
    boost::asio::awaitable<std::optional<KeyedHold>> find_by_key(std::string user_id, std::string key);

    /// How many times hold_best asks again after a seat hold took one of its chosen seats first.
    static constexpr int kBestAvailableAttempts = 5;

    /// The user's own reservation, expired on read; another user's is nullopt (no existence leak).
    boost::asio::awaitable<std::optional<Reservation>> find(std::string user_id, std::string reservation_id);
    /// The user's reservations, newest first.
    boost::asio::awaitable<std::vector<Reservation>> list(std::string user_id, int limit);

    /// HELD and live → CANCELLED, seats RELEASED, `reservation.cancelled` in the outbox. An overdue hold is
    /// expired instead (Expired).
    boost::asio::awaitable<ReleaseOutcome> release(std::string user_id, std::string reservation_id);

    /// Expires up to `limit` overdue holds (FOR UPDATE SKIP LOCKED: safe with several replicas), releasing
    /// their seats and writing `reservation.expired`. Returns how many it expired.
    boost::asio::awaitable<int> expire_due(int limit);

  private:
    /// The reservation of a HELD answer of booking.hold or booking.hold_best.
    static Reservation held_reservation(const NewHold& hold, const db::Result& result);
    boost::asio::awaitable<std::vector<std::int64_t>> live_seats(std::int64_t schedule_id,
                                                                 std::vector<std::int64_t> seat_ids);
    boost::asio::awaitable<std::vector<Reservation>> with_seats(db::Result rows);

    db::Pool& pool_;
    bool durable_holds_;
};

}  // namespace marquee::booking
