#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "services/catalog/model.hpp"

namespace marquee::redis {
class Client;
}

namespace marquee::catalog {

/// The availability view of each schedule in Redis: a `taken` bitmap (HELD or SOLD), a `sold` bitmap and a
/// version counter, all under the hash tag {schedule} so one script updates them together.
/// It is a view fed by booking's seat events, never the truth: booking's unique index refuses a double
/// sale whatever this says (docs/decisions/0007-catalog-cache-and-availability.md).
class AvailabilityBitset {
  public:
    explicit AvailabilityBitset(redis::Client& redis) : redis_(redis) {}

    /// Sets the seats' state; bumps the version once if any bit changed (idempotent: repeating an event
    /// changes nothing). Returns the version after the change.
    boost::asio::awaitable<std::int64_t> mark(std::int64_t schedule_id,
                                              std::vector<std::int32_t> seat_indexes, SeatState state);
    /// Both bitmaps, the version and the built marker, read atomically (one MGET). Missing keys read as
    /// version 0, all free, not built.
    boost::asio::awaitable<Availability> read(std::int64_t schedule_id);
    /// Sets the bits of booking's live seats (`held` → taken, `sold` → taken and sold; never clears a bit)
    /// and marks the schedule built, bumping the version once if a bit changed; but only while the version
    /// is still `expected_version`, so an event applied after the caller read it is never overwritten by an
    /// older snapshot. nullopt when the version moved (read again and retry); else the version after.
    boost::asio::awaitable<std::optional<std::int64_t>> rebuild(std::int64_t schedule_id,
                                                                std::int64_t expected_version,
                                                                std::vector<std::int32_t> held,
                                                                std::vector<std::int32_t> sold);
    /// Removes the schedule's bitmaps, version and built marker (tests, a rebuilt layout; as a Redis flush).
    boost::asio::awaitable<void> reset(std::int64_t schedule_id);
    /// The reconcile's repair: sets each listed seat to its state (Available clears both bits), bumping the
    /// version once if a bit changed; but only while the version is still `expected_version` (an event
    /// applied meanwhile wins; the next pass looks again). nullopt when the version moved; else the version.
    boost::asio::awaitable<std::optional<std::int64_t>> fix(
        std::int64_t schedule_id, std::int64_t expected_version,
        std::vector<std::pair<std::int32_t, SeatState>> seats);

    /// Called with the schedule id after each write through this object (mark, rebuild, fix, reset) returned:
    /// how this process's in-memory copy (AvailabilityCopy) drops a schedule it knows changed. Set once,
    /// before use; it must not throw.
    void on_change(std::function<void(std::int64_t)> listener) { listener_ = std::move(listener); }

    static std::string taken_key(std::int64_t schedule_id);
    static std::string sold_key(std::int64_t schedule_id);
    static std::string version_key(std::int64_t schedule_id);
    static std::string built_key(std::int64_t schedule_id);

  private:
    void changed(std::int64_t schedule_id) const {
        if (listener_) listener_(schedule_id);
    }

    redis::Client& redis_;
    std::function<void(std::int64_t)> listener_;
};

}  // namespace marquee::catalog
