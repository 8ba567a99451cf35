#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/pool.hpp"
#include "services/booking/model.hpp"

namespace marquee::booking {

/// Booking's SQL. Expiry is decided by the database clock in every statement: a HELD reservation with
/// expires_at <= now() reads as EXPIRED and never blocks its seats. The partial unique index
/// reservation_seats_one_live_per_seat, not any lock, is what refuses a second live hold of a seat.
class Store {
  public:
    explicit Store(db::Pool& pool) : pool_(pool) {}

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
};

}  // namespace marquee::booking
