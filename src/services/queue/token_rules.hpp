#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/queue/model.hpp"

namespace marquee::queue {

std::string_view to_string(TokenState state);
/// "WAITING", "ACTIVE", "USED", "EXPIRED", "PRE_QUEUE"; nullopt for anything else.
std::optional<TokenState> parse_state(std::string_view text);

/// The forward order of states: PRE_QUEUE -1 < WAITING 0 < ACTIVE 1 < USED = EXPIRED 2. The audit upsert
/// never moves a row to a lower rank, so late or repeated writes are harmless.
int state_rank(TokenState state);
/// Whether `from` -> `to` is a transition of the state machine (PRE_QUEUE -> WAITING, WAITING -> ACTIVE |
/// EXPIRED, ACTIVE -> USED | EXPIRED; USED and EXPIRED are final).
bool can_move(TokenState from, TokenState to);
bool is_ended(TokenState state);

/// Seconds until a token at `position` is admitted at `admit_per_second`, rounded up: position 1 at
/// 50/s waits 1 s, position 100 waits 2 s. 0 for position 0 (not waiting).
std::int64_t eta_seconds(std::int64_t position, unsigned admit_per_second);

/// When a WAITING client should ask again (`pollAfterMs`): a quarter of its ETA, and at least 5 ms per place
/// ahead of it, within 0.5..15 s. The back of a long queue polls rarely, the front often, so 10,000 waiting
/// fans cost the waiting room about 1,400 status reads per second instead of one per fan every second or two
/// (which overloaded Redis in the flash-sale benchmark, docs/performance.md).
std::int64_t poll_after_ms(std::int64_t position, unsigned admit_per_second);

/// `pollAfterMs` of a WAITING token while an operator has paused the schedule's admission (ADR 0033): nobody
/// moves, so the front asks every 5 s instead of twice a second, and the back as rarely as it would anyway
/// (at most 15 s). A resumed room is heard within about 5 s plus the controls' poll (1 s, ADR 0027).
std::int64_t paused_poll_after_ms(std::int64_t position, unsigned admit_per_second);

/// Tokens one scheduler tick may admit at most: rate x tick, rounded up, at least 1.
std::int64_t burst_per_tick(unsigned admit_per_second, std::chrono::milliseconds tick);

/// The Redis key prefix of one schedule's waiting room, `queue:{S}:`; the `{S}` hash tag keeps every
/// key of a schedule in one Redis Cluster slot, so one Lua script may touch them together.
std::string key_prefix(std::int64_t schedule_id);

/// Folds a later observation of the same token into `into`, moving forward only: the higher-ranked
/// state wins, first admission and end times stay, the latest expiry wins.
void merge(AuditRecord& into, const AuditRecord& later);

/// Parses one audit event the Lua scripts append (a JSON object of the token hash's fields);
/// nullopt when it is not one.
std::optional<AuditRecord> parse_audit_event(std::string_view json);

}  // namespace marquee::queue
