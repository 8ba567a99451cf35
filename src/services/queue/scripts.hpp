#pragma once

#include "redis/script.hpp"

namespace marquee::queue::scripts {

// The waiting room's atomic steps, one Lua script each (docs/architecture.md, "Where state lives").
// Every script reads the clock with Redis TIME, so all queue processes agree on it, and appends an
// audit event (the token hash as JSON) to `queue:{S}:audit` for each change it makes.
//
// ADR 0022: join, status, check, release and admit take one optional last KEY, the schedule's `epoch` marker
// (`queue:{S}:epoch`, set by a rebuild from PostgreSQL). Given and absent, Redis has lost the schedule's
// state: the script changes nothing and returns the string "RECOVER" (the caller rebuilds, then retries).

/// KEYS seq, waiting, seen, active, user, audit, scanned, pre[, epoch]; ARGV prefix, user, schedule, new
/// token id, ended ttl ms, opens at ms (0: none). The user's live token (refreshing a WAITING one's last-seen
/// time) or a new one: PRE_QUEUE in the pre-queue while the Redis clock is before `opens at` (ADR 0026), else
/// WAITING.
/// Returns {created 0|1, token, state, position, expires ms, seq, scanned 0|1}: with scanned = 1 the caller
/// need not add the schedule to the scan set (the admit script keeps the flag, see admit()). A WAITING answer
/// adds {..., place in the waiting set, admitted counter} (ADR 0039).
const redis::Script& join();
/// KEYS user, waiting, seen, active, audit, scanned, seq, pre[, epoch]; ARGV prefix, ended ttl ms.
/// Returns {} when the user has no token, else {token, state, position, expires ms} and, for a WAITING or
/// PRE_QUEUE token,
/// {..., scanned 0|1, seq} (WAITING: then place in the waiting set, admitted counter; ADR 0039); refreshes
/// the last-seen time of a WAITING token and expires an overdue ACTIVE one on read.
const redis::Script& status();
/// KEYS waiting, active, audit[, epoch]; ARGV prefix, token, user, schedule, sliding ttl ms (0: none), ended
/// ttl ms[, audit step ms]. The first check an ACTIVE token passes stamps `checked` (the purchase's start,
/// ADR 0016); a slide that moves the expiry `audit step` or more past the last audited one is audited (ADR
/// 0022). Returns {"ACTIVE", expires ms} | {"WAITING", position} | {"ENDED", 0} | {"INVALID", 0} |
/// {"MISSING", 0} (no such token hash in Redis: forged, long gone, or lost with Redis). A PRE_QUEUE token is
/// {"WAITING", 0}.
const redis::Script& check();
/// KEYS active, audit, admission[, epoch]; ARGV prefix, token, ended ttl ms. ACTIVE -> USED, freeing its
/// slot, and counts the purchase in the admission hash (used, busy, active_ms). Returns 1, 0 (not ACTIVE) or
/// -1 (no such token hash).
const redis::Script& release();
/// KEYS waiting, seen, active, audit, admit clock, seq, admission, scanned, pre[, epoch]; ARGV prefix, admit
/// per second, burst, max active, active ttl ms, waiting ttl ms, ended ttl ms, expiry batch, automatic bound
/// 0|1, automatic rate 0|1, tick ms, scanned flag ttl ms. Sets the scanned flag while the schedule has tokens
/// and drops it when the step finds it empty. Expires overdue ACTIVE and idle WAITING tokens, then admits
/// from the head of the waiting set within the shared rate and the maximum; an automatic bound or rate is the
/// admission hash's (ADR 0016), the ARGV values standing in until the controller's first step. Returns
/// {admitted, expired, waiting, active, seq, now ms, bound applied, rate applied (text), admission hash
/// fields (empty unless automatic): at, bound, rate, base, tput, probing, s_used, s_busy, s_active, used,
/// busy, active_ms, hand}, pre-queued, head place (-1: empty), admitted counter}. Admits nobody while the
/// pre-queue is not empty (ADR 0026). Counts what it admits in `queue:{S}:admitted` (ADR 0039).
const redis::Script& admit();
/// KEYS admission; ARGV 'at' as read ('' for none), ttl ms, field, value, ... Stores a controller step
/// unless another scheduler stored one since `at` was read. Returns 1 or 0.
const redis::Script& admission_save();
/// KEYS seq, waiting, seen, active, audit, pre; ARGV prefix, schedule, ended ttl ms, grace ms, seq floor,
/// then 7 per token: id, user, state (PRE_QUEUE | WAITING | ACTIVE), arrival number, issued ms, admitted ms,
/// recorded expiry ms. Puts back the tokens whose hash is missing (ADR 0022; see scripts.cpp for the rules)
/// and raises `seq` to the highest arrival number (at least the floor). Returns {restored, highest arrival
/// number}.
const redis::Script& restore();
/// ADR 0026. KEYS pre; ARGV prefix. The pre-queue in arrival order: {id, arrival number, user, issued ms,
/// ...}.
const redis::Script& pre_list();
/// ADR 0026. KEYS pre, waiting, seen, audit; ARGV prefix, audit 0|1, moved-up-to place (ADR 0033), then id,
/// place per token. Moves each token still pre-queued to WAITING at its place, and records the place up to
/// which every token has moved (`opened`) for admission. Returns {moved, left in the pre-queue}.
const redis::Script& open_pre();
/// ADR 0039. KEYS waiting, pre, scanned, seq[, epoch]; ARGV prefix. Read-only: {head place (-1: empty),
/// admitted counter, pre-queued, epoch 0|1 (1 without the key), scanned 0|1, seq, waiting}.
const redis::Script& view();
/// KEYS schedules; ARGV schedule, seq seen. Removes the schedule from the scan set unless a join has
/// raised its score (its arrival counter) past `seq seen` since. Returns 1 or 0.
const redis::Script& forget();

}  // namespace marquee::queue::scripts
