#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "load/connection.hpp"
#include "load/stats.hpp"

namespace marquee::load {

/// The password of the users a run creates in bulk (load-<run>-<i>@load.test), and a deliberately cheap
/// Argon2id hash of it (m = 8 KiB, t = 1, from libargon2's argon2id_hash_encoded): the server verifies
/// whatever parameters the stored hash names, so logging in 10,000 users costs milliseconds instead of
/// minutes. Load-test accounts only; never for a real user.
inline constexpr const char* kLoadUserPassword = "Load-test-2026";
inline constexpr const char* kLoadUserHash =
    "$argon2id$v=19$m=8,t=1,p=1$bWFycXVlZWxvYWRzYWx0MQ$kohRzD0ziRL0XPo7+HzBu2gc0szYweFfnWtwSd282dY";

struct Options {
    std::string scenario;  ///< browse | hot-seats | flash-sale
    Target target;
    unsigned users = 100;                        ///< virtual users, one keep-alive connection each
    std::chrono::milliseconds duration{10'000};  ///< measured phase bound (flash-sale: the whole run)
    std::uint64_t requests = 0;  ///< measured requests at most (0: no limit); browse, hot-seats
    double rate = 0;             ///< browse: fixed rate in requests/s (0: closed loop)
    std::vector<std::string> mix{"availability", "availability-304", "seat-map-304"};  ///< browse
    unsigned seats = 10'000;                    ///< seats of the schedule the scenario creates
    unsigned hot_seats = 10;                    ///< hot-seats: the seats everyone wants
    std::int64_t price = 50'000;                ///< KRW per seat
    std::chrono::milliseconds timeout{30'000};  ///< per request
    std::chrono::milliseconds ramp{1'000};      ///< users start spread over this time
    std::chrono::milliseconds arrival{0};  ///< flash-sale: queue joins spread over this time (0: all at once)
    /// Requests started between two polls of the sockets (SendTurns, ADR 0043); 0: no turns.
    unsigned sends_per_turn = 32;
    std::string database_url;       ///< for bulk users and the invariant check (psql)
    std::string invariants_script;  ///< scripts/check-invariants
    std::string psql = "psql";
    std::string admin_email = "admin@marquee.dev";
    std::string admin_password = "Admin-demo-2026";
    std::string run_id;  ///< names the users and the concert of this run
    // fans (issue 15, ADR 0018)
    unsigned connections = 1000;   ///< fans: keep-alive connections shared by every fan
    std::string source_addresses;  ///< fans: loopback addresses to connect from, comma list
    double login_rate = 2000;      ///< fans: logins per second before the sale
    // One sale played by several load processes against several marquee replicas (issue 15, target 3):
    /// flash-sale: join this existing schedule instead of creating one (0: create one)
    std::int64_t schedule_id = 0;
    /// flash-sale: the sale opens at this wall-clock time (unix ms) instead of when this process's logins end
    std::int64_t sale_at_unix_ms = 0;
    bool setup_only = false;  ///< create the schedule, report its id and stop (no users, no sale)
};

struct Result {
    Recorder recorder;
    double seconds = 0;           ///< length of the measured phase
    boost::json::object outcome;  ///< scenario-specific counts and rates
    boost::json::object invariants;
    bool progress = false;  ///< the scenario did what it is for at least once
    bool ok = false;        ///< progress, and every invariant held
};

/// Creates what the scenario needs (a schedule with seats through the admin API, users), runs it on the
/// calling thread's io_context and checks the invariants. Throws std::runtime_error when setup fails.
Result run_scenario(const Options& options);

/// The base64 (RFC 4648) decoding of `text`; throws std::invalid_argument on anything else.
std::string decode_base64(std::string_view text);

}  // namespace marquee::load
