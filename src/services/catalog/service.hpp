#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include "db/single_flight.hpp"
#include "services/catalog/availability.hpp"
#include "services/catalog/availability_copy.hpp"
#include "services/catalog/cache.hpp"
#include "services/catalog/model.hpp"
#include "services/catalog/store.hpp"

namespace marquee::core {
class MetricsRegistry;
}
namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::catalog {

struct CatalogSettings {
    /// Concert and schedule documents in Redis; also the staleness bound after a lost invalidation.
    std::chrono::milliseconds document_ttl{std::chrono::minutes(5)};
    /// Seat maps in Redis (a layout never changes once created, so this only frees memory).
    std::chrono::milliseconds seat_map_ttl{std::chrono::hours(6)};
    /// How often an availability event stream looks at the version (one MGET per stream per period).
    std::chrono::milliseconds availability_poll{std::chrono::milliseconds(500)};
    /// An idle event stream sends a comment line after this long, so proxies keep it open.
    std::chrono::milliseconds stream_heartbeat{std::chrono::seconds(15)};
    /// The per-process copy that GET .../availability is served from; its max_age is the staleness bound
    /// added to the events' lag (docs/decisions/0014).
    AvailabilityCopySettings availability_copy;
};

struct ConcertPage {
    std::vector<Concert> items;
    std::optional<std::int64_t> next_after;  ///< the last id, when more may follow
};

struct SeatPage {
    std::shared_ptr<const SeatMap> map;
    std::vector<std::pair<std::size_t, SeatState>> items;  ///< positions in map->seats, with their state
    std::optional<std::int32_t> next_after;                ///< the last seat index, when more may follow
};

struct AvailabilityView {
    std::int64_t version = 0;
    std::int32_t seat_count = 0;
    std::string taken;  ///< exactly ceil(seat_count / 8) bytes
};

/// The catalog's rules: cache-aside reads with single-flight per key, the seat-map / availability split,
/// and admin creation with invalidation. See docs/decisions/0007-catalog-cache-and-availability.md.
class Service {
  public:
    Service(db::Pool& db, redis::Client& redis, core::MetricsRegistry& metrics,
            CatalogSettings settings = {});

    boost::asio::awaitable<ConcertPage> list_concerts(std::optional<std::int64_t> after, int limit);
    /// The concert's JSON document (cached); 404 when unknown.
    boost::asio::awaitable<std::string> concert(std::int64_t id);
    /// The concert's schedules (cached) with live `availableSeats` per zone and schedule; 404 when unknown.
    boost::asio::awaitable<boost::json::array> schedules(std::int64_t concert_id);
    /// The static seat map: in-process, then Redis, then PostgreSQL (one load per key at a time); 404.
    boost::asio::awaitable<std::shared_ptr<const SeatMap>> seat_map(std::int64_t schedule_id);
    /// The seat map if this process already holds it (answers If-None-Match without any I/O).
    std::shared_ptr<const SeatMap> seat_map_in_memory(std::int64_t schedule_id) const;
    /// Through the per-process copy (at most settings.availability_copy.max_age old; 404 when unknown).
    boost::asio::awaitable<AvailabilityView> availability(std::int64_t schedule_id);
    /// The same as the shared snapshot the route answers with (body and ETag built once per version).
    boost::asio::awaitable<AvailabilityCopy::Snapshot> availability_snapshot(std::int64_t schedule_id);
    /// The snapshot if the copy may serve it now without any I/O; nullptr otherwise.
    AvailabilityCopy::Snapshot availability_in_memory(std::int64_t schedule_id) {
        return copy_.fresh(schedule_id);
    }
    /// `zone` is a zone id or name of this schedule (400 naming `zone` otherwise).
    boost::asio::awaitable<SeatPage> seats(std::int64_t schedule_id, std::optional<std::string> zone,
                                           std::optional<std::int32_t> after, int limit);

    boost::asio::awaitable<Concert> create_concert(NewConcert concert);
    boost::asio::awaitable<Schedule> create_schedule(std::int64_t concert_id, NewSchedule schedule);
    /// Creates zones and seats in one transaction; 404, 409 `layout-exists`. Invalidates the caches.
    boost::asio::awaitable<std::shared_ptr<const SeatMap>> create_layout(std::int64_t schedule_id,
                                                                         std::vector<ZoneLayout> zones);

    const CatalogSettings& settings() const noexcept { return settings_; }
    Store& store() noexcept { return store_; }
    AvailabilityBitset& bitset() noexcept { return bitset_; }
    AvailabilityCopy& availability_copy() noexcept { return copy_; }

    static std::string concert_key(std::int64_t id);
    static std::string schedules_key(std::int64_t concert_id);
    static std::string seat_map_key(std::int64_t schedule_id);

  private:
    boost::asio::awaitable<std::string> load_concert(std::int64_t id);
    boost::asio::awaitable<std::string> load_schedules(std::int64_t concert_id);
    boost::asio::awaitable<std::shared_ptr<const SeatMap>> load_seat_map(std::int64_t schedule_id);
    /// The bitsets; when they were never built (a new schedule, or Redis lost them) booking's live seats are
    /// merged in first, one rebuild per schedule at a time in this process, so a Redis flush never shows a
    /// sold seat as free.
    boost::asio::awaitable<Availability> read_availability(std::int64_t schedule_id);
    boost::asio::awaitable<Availability> rebuild_availability(std::int64_t schedule_id);
    /// The copy's read: the seat map (for the seat count) and the bitset from Redis.
    boost::asio::awaitable<AvailabilityCopy::Snapshot> load_availability(std::int64_t schedule_id,
                                                                         AvailabilityCopy::Snapshot previous);

    Store store_;
    DocumentCache cache_;
    AvailabilityBitset bitset_;
    CatalogSettings settings_;
    db::SingleFlight<std::string> documents_;
    db::SingleFlight<std::shared_ptr<const SeatMap>> seat_maps_;
    db::SingleFlight<Availability> rebuilds_;
    AvailabilityCopy copy_;
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, std::shared_ptr<const SeatMap>> in_memory_;
};

}  // namespace marquee::catalog
