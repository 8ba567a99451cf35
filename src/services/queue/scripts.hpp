#pragma once

#include "redis/script.hpp"

namespace marquee::queue::scripts {

// The waiting room's atomic steps, one Lua script each (docs/architecture.md, "Where state lives").
// Every script reads the clock with Redis TIME, so all queue processes agree on it, and appends an
// audit event (the token hash as JSON) to `queue:{S}:audit` for each change it makes.

/// KEYS seq, waiting, seen, active, user, audit; ARGV prefix, user, schedule, new token id, ended ttl ms.
/// The user's live token (refreshing a WAITING one's last-seen time) or a new WAITING one.
/// Returns {created 0|1, token, state, position, expires ms, seq}.
const redis::Script& join();
/// KEYS user, waiting, seen, active, audit; ARGV prefix, ended ttl ms.
/// Returns {} when the user has no token, else {token, state, position, expires ms}; refreshes the last-seen
/// time of a WAITING token and expires an overdue ACTIVE one on read.
const redis::Script& status();
/// KEYS waiting, active, audit; ARGV prefix, token, user, schedule, sliding ttl ms (0: none), ended ttl ms.
/// Returns {"ACTIVE", expires ms} | {"WAITING", position} | {"ENDED", 0} | {"INVALID", 0}.
const redis::Script& check();
/// KEYS active, audit; ARGV prefix, token, ended ttl ms. ACTIVE -> USED, freeing its slot. Returns 1 or 0.
const redis::Script& release();
/// KEYS waiting, seen, active, audit, admit clock, seq; ARGV prefix, admit per second, burst, max active,
/// active ttl ms, waiting ttl ms, ended ttl ms, expiry batch. Expires overdue ACTIVE and idle WAITING tokens,
/// then admits from the head of the waiting set within the shared rate and the maximum.
/// Returns {admitted, expired, waiting, active, seq}.
const redis::Script& admit();
/// KEYS schedules; ARGV schedule, seq seen. Removes the schedule from the scan set unless a join has
/// raised its score (its arrival counter) past `seq seen` since. Returns 1 or 0.
const redis::Script& forget();

}  // namespace marquee::queue::scripts
