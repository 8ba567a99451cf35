#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "services/catalog/model.hpp"

namespace marquee::db {
class Pool;
}

namespace marquee::catalog {

/// The catalog's SQL, as named queries; rows become model structs. Counts its statements so tests can
/// prove the cache and the single-flight spare the database.
class Store {
  public:
    explicit Store(db::Pool& db) : db_(db) {}

    /// Newest first; at most `limit` concerts with id < `before` (all when absent).
    boost::asio::awaitable<std::vector<Concert>> list_concerts(std::optional<std::int64_t> before, int limit);
    boost::asio::awaitable<std::optional<Concert>> find_concert(std::int64_t id);
    boost::asio::awaitable<Concert> insert_concert(NewConcert concert);

    /// The concert's schedules by start time, each with its zones and their seat counts; nullopt when the
    /// concert does not exist.
    boost::asio::awaitable<std::optional<std::vector<Schedule>>> schedules_of(std::int64_t concert_id);
    /// Problem 404 when the concert does not exist.
    boost::asio::awaitable<Schedule> insert_schedule(std::int64_t concert_id, NewSchedule schedule);

    /// Zones and seats (by index) of a schedule; nullopt when the schedule does not exist.
    boost::asio::awaitable<std::optional<SeatMap>> load_seat_map(std::int64_t schedule_id);

    /// Inserts the zones and all seats in one transaction (one multi-row INSERT each, from unnest arrays).
    /// Problem 404 for an unknown schedule, 409 `layout-exists` when it already has zones or seats.
    /// Returns the schedule's concert id (for cache invalidation).
    boost::asio::awaitable<std::int64_t> insert_layout(std::int64_t schedule_id,
                                                       std::vector<ZoneLayout> zones, SeatColumns seats);

    /// Booking's live seats of the schedule (`booking.seat_states`: HELD not past expires_at, and SOLD) by
    /// seat index, Held or Sold: what a cold availability view is rebuilt from.
    boost::asio::awaitable<std::vector<std::pair<std::int32_t, SeatState>>> live_seats(
        std::int64_t schedule_id);

    /// Laid-out schedules whose booking window is open or closed less than a day ago, with id > `after`, by
    /// id, at most `limit`: what the availability reconcile walks (docs/decisions/0014).
    boost::asio::awaitable<std::vector<std::int64_t>> schedules_on_sale(std::int64_t after, int limit);

    /// Statements run so far by this Store.
    std::uint64_t queries() const noexcept { return queries_.load(std::memory_order_relaxed); }

  private:
    db::Pool& db_;
    std::atomic<std::uint64_t> queries_{0};
};

/// A PostgreSQL array literal ({"a","b"}) of texts, quoted and escaped.
std::string text_array(const std::vector<std::string>& values);
/// A PostgreSQL array literal of integers: {1,2,3}.
template <class Int>
std::string int_array(const std::vector<Int>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(values[i]);
    }
    out += '}';
    return out;
}

}  // namespace marquee::catalog
