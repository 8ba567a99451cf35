#include "services/catalog/service.hpp"

#include <algorithm>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/problem.hpp"
#include "services/catalog/documents.hpp"
#include "services/catalog/rules.hpp"

namespace marquee::catalog {

namespace asio = boost::asio;
namespace json = boost::json;

Service::Service(db::Pool& db, redis::Client& redis, core::MetricsRegistry& metrics, CatalogSettings settings)
    : store_(db),
      cache_(redis, metrics),
      bitset_(redis),
      settings_(settings),
      copy_(settings.availability_copy,
            [this](std::int64_t schedule_id, AvailabilityCopy::Snapshot previous) {
                return load_availability(schedule_id, std::move(previous));
            }) {
    // A write through this process (an event this replica applied, a rebuild, a reconcile fix) is seen by
    // this process's very next read; other replicas see it within max_age.
    bitset_.on_change([this](std::int64_t schedule_id) { copy_.invalidate(schedule_id); });
}

std::string Service::concert_key(std::int64_t id) {
    return fmt::format("catalog:concert:{}", id);
}
std::string Service::schedules_key(std::int64_t concert_id) {
    return fmt::format("catalog:concert:{}:schedules", concert_id);
}
std::string Service::seat_map_key(std::int64_t schedule_id) {
    return fmt::format("catalog:seat-map:{}", schedule_id);
}

asio::awaitable<ConcertPage> Service::list_concerts(std::optional<std::int64_t> after, int limit) {
    ConcertPage page;
    page.items = co_await store_.list_concerts(after, limit + 1);
    if (page.items.size() > static_cast<std::size_t>(limit)) {
        page.items.resize(static_cast<std::size_t>(limit));
        page.next_after = page.items.back().id;
    }
    co_return page;
}

asio::awaitable<std::string> Service::concert(std::int64_t id) {
    std::function<asio::awaitable<std::string>()> load = [this, id] { return load_concert(id); };
    std::string key = concert_key(id);
    co_return co_await documents_.run(std::move(key), std::move(load));
}

asio::awaitable<std::string> Service::load_concert(std::int64_t id) {
    const std::string key = concert_key(id);
    if (std::optional<std::string> cached = co_await cache_.get("concert", key)) co_return std::move(*cached);
    const std::optional<Concert> concert = co_await store_.find_concert(id);
    if (!concert) throw core::Problem::not_found(fmt::format("no concert {}", id));
    std::string body = json::serialize(to_json(*concert));
    co_await cache_.put(key, body, settings_.document_ttl);
    co_return body;
}

asio::awaitable<std::string> Service::load_schedules(std::int64_t concert_id) {
    const std::string key = schedules_key(concert_id);
    if (std::optional<std::string> cached = co_await cache_.get("schedule", key)) {
        co_return std::move(*cached);
    }
    const std::optional<std::vector<Schedule>> schedules = co_await store_.schedules_of(concert_id);
    if (!schedules) throw core::Problem::not_found(fmt::format("no concert {}", concert_id));
    json::array docs;
    for (const Schedule& schedule : *schedules) docs.push_back(to_json(schedule));
    std::string body = json::serialize(docs);
    co_await cache_.put(key, body, settings_.document_ttl);
    co_return body;
}

asio::awaitable<json::array> Service::schedules(std::int64_t concert_id) {
    std::function<asio::awaitable<std::string>()> load = [this, concert_id] {
        return load_schedules(concert_id);
    };
    std::string key = schedules_key(concert_id);
    const std::string body = co_await documents_.run(std::move(key), std::move(load));
    json::array docs = json::parse(body).as_array();
    // The static documents come from the cache; the counts are live: seat map (zone of each index) and the
    // availability bitset, read now.
    for (json::value& value : docs) {
        json::object& schedule = value.as_object();
        const std::int64_t schedule_id = schedule.at("id").to_number<std::int64_t>();
        std::map<std::int64_t, std::int64_t> taken_by_zone;
        std::int64_t taken = 0;
        if (schedule.at("seatCount").to_number<std::int64_t>() > 0) {
            const std::shared_ptr<const SeatMap> map = co_await seat_map(schedule_id);
            const Availability availability = co_await read_availability(schedule_id);
            for (const Seat& seat : map->seats) {
                if (bit_at(availability.taken, seat.index)) {
                    ++taken_by_zone[seat.zone_id];
                    ++taken;
                }
            }
        }
        for (json::value& zone : schedule.at("zones").as_array()) {
            json::object& z = zone.as_object();
            z["availableSeats"] = z.at("seatCount").to_number<std::int64_t>() -
                                  taken_by_zone[z.at("id").to_number<std::int64_t>()];
        }
        schedule["availableSeats"] = schedule.at("seatCount").to_number<std::int64_t>() - taken;
    }
    co_return docs;
}

std::shared_ptr<const SeatMap> Service::seat_map_in_memory(std::int64_t schedule_id) const {
    std::lock_guard lock(mutex_);
    const auto it = in_memory_.find(schedule_id);
    return it == in_memory_.end() ? nullptr : it->second;
}

asio::awaitable<std::shared_ptr<const SeatMap>> Service::seat_map(std::int64_t schedule_id) {
    if (std::shared_ptr<const SeatMap> map = seat_map_in_memory(schedule_id)) {
        cache_.count("seat_map_memory", true);
        co_return map;
    }
    cache_.count("seat_map_memory", false);
    std::function<asio::awaitable<std::shared_ptr<const SeatMap>>()> load = [this, schedule_id] {
        return load_seat_map(schedule_id);
    };
    std::string key = seat_map_key(schedule_id);
    co_return co_await seat_maps_.run(std::move(key), std::move(load));
}

asio::awaitable<std::shared_ptr<const SeatMap>> Service::load_seat_map(std::int64_t schedule_id) {
    const std::string key = seat_map_key(schedule_id);
    std::shared_ptr<const SeatMap> map;
    if (std::optional<std::string> cached = co_await cache_.get("seat_map", key)) {
        map = std::make_shared<const SeatMap>(parse_seat_map(std::move(*cached)));
    } else {
        std::optional<SeatMap> loaded = co_await store_.load_seat_map(schedule_id);
        if (!loaded) throw core::Problem::not_found(fmt::format("no schedule {}", schedule_id));
        map = std::make_shared<const SeatMap>(
            make_seat_map(schedule_id, std::move(loaded->zones), std::move(loaded->seats)));
        // A schedule without seats yet may get its layout any moment: caching its empty map could outlive
        // the invalidation (cache-aside race), so only a laid-out map, which never changes again, is kept.
        if (!map->seats.empty()) {
            co_await cache_.put(key, map->body, settings_.seat_map_ttl);
        }
    }
    if (!map->seats.empty()) {
        std::lock_guard lock(mutex_);
        in_memory_[schedule_id] = map;
    }
    co_return map;
}

asio::awaitable<Availability> Service::read_availability(std::int64_t schedule_id) {
    Availability bits = co_await bitset_.read(schedule_id);
    if (bits.built) co_return bits;
    std::function<asio::awaitable<Availability>()> load = [this, schedule_id] {
        return rebuild_availability(schedule_id);
    };
    std::string key = std::to_string(schedule_id);
    co_return co_await rebuilds_.run(std::move(key), std::move(load));
}

asio::awaitable<Availability> Service::rebuild_availability(std::int64_t schedule_id) {
    // A few tries: each fails only if an event changed the bits between our read and our write.
    for (int attempt = 0; attempt < 3; ++attempt) {
        const Availability seen = co_await bitset_.read(schedule_id);
        if (seen.built) co_return seen;
        const std::vector<std::pair<std::int32_t, SeatState>> live = co_await store_.live_seats(schedule_id);
        std::vector<std::int32_t> held;
        std::vector<std::int32_t> sold;
        for (const auto& [index, state] : live) (state == SeatState::Sold ? sold : held).push_back(index);
        const std::optional<std::int64_t> version =
            co_await bitset_.rebuild(schedule_id, seen.version, std::move(held), std::move(sold));
        if (version) break;
    }
    // Built, or events keep arriving: show what they wrote; the next read tries again.
    co_return co_await bitset_.read(schedule_id);
}

asio::awaitable<AvailabilityCopy::Snapshot> Service::load_availability(std::int64_t schedule_id,
                                                                       AvailabilityCopy::Snapshot previous) {
    const std::shared_ptr<const SeatMap> map = co_await seat_map(schedule_id);
    const Availability bits = co_await read_availability(schedule_id);
    const auto seat_count = static_cast<std::int32_t>(map->seats.size());
    std::string taken = fit_bitset(bits.taken, seat_count);
    // Unchanged (the common case between two events): keep the snapshot, its body is not built again.
    if (previous && previous->version == bits.version && previous->seat_count == seat_count &&
        previous->taken == taken) {
        co_return previous;
    }
    co_return make_snapshot(schedule_id, bits.version, seat_count, std::move(taken));
}

asio::awaitable<AvailabilityCopy::Snapshot> Service::availability_snapshot(std::int64_t schedule_id) {
    co_return co_await copy_.get(schedule_id);
}

asio::awaitable<AvailabilityView> Service::availability(std::int64_t schedule_id) {
    const AvailabilityCopy::Snapshot snapshot = co_await copy_.get(schedule_id);
    AvailabilityView view;
    view.version = snapshot->version;
    view.seat_count = snapshot->seat_count;
    view.taken = snapshot->taken;
    co_return view;
}

asio::awaitable<SeatPage> Service::seats(std::int64_t schedule_id, std::optional<std::string> zone,
                                         std::optional<std::int32_t> after, int limit) {
    SeatPage page;
    page.map = co_await seat_map(schedule_id);
    std::optional<std::int64_t> zone_id;
    if (zone) {
        for (const Zone& z : page.map->zones) {
            if (z.name == *zone || std::to_string(z.id) == *zone) zone_id = z.id;
        }
        if (!zone_id) {
            throw core::Problem::invalid_field("zone", "no zone of that id or name in this schedule");
        }
    }
    const Availability bits = co_await read_availability(schedule_id);
    const auto& seats = page.map->seats;
    auto it = seats.begin();
    if (after) {
        it = std::upper_bound(seats.begin(), seats.end(), *after,
                              [](std::int32_t index, const Seat& seat) { return index < seat.index; });
    }
    for (; it != seats.end(); ++it) {
        if (zone_id && it->zone_id != *zone_id) continue;
        if (page.items.size() == static_cast<std::size_t>(limit)) {
            page.next_after = seats[page.items.back().first].index;
            break;
        }
        const SeatState state = bit_at(bits.sold, it->index)    ? SeatState::Sold
                                : bit_at(bits.taken, it->index) ? SeatState::Held
                                                                : SeatState::Available;
        page.items.emplace_back(static_cast<std::size_t>(it - seats.begin()), state);
    }
    co_return page;
}

asio::awaitable<Concert> Service::create_concert(NewConcert concert) {
    co_return co_await store_.insert_concert(std::move(concert));
}

asio::awaitable<Schedule> Service::create_schedule(std::int64_t concert_id, NewSchedule schedule) {
    Schedule created = co_await store_.insert_schedule(concert_id, schedule);
    std::vector<std::string> keys{schedules_key(concert_id)};
    co_await cache_.invalidate(std::move(keys));
    co_return created;
}

asio::awaitable<std::shared_ptr<const SeatMap>> Service::create_layout(std::int64_t schedule_id,
                                                                       std::vector<ZoneLayout> zones) {
    SeatColumns seats = expand_layout(zones);
    const std::int64_t concert_id =
        co_await store_.insert_layout(schedule_id, std::move(zones), std::move(seats));
    {
        std::lock_guard lock(mutex_);
        in_memory_.erase(schedule_id);
    }
    std::vector<std::string> keys{seat_map_key(schedule_id), schedules_key(concert_id)};
    co_await cache_.invalidate(std::move(keys));
    co_return co_await seat_map(schedule_id);
}

}  // namespace marquee::catalog
