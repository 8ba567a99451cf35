#include "services/queue/scripts.hpp"

#include <string>

namespace marquee::queue::scripts {
namespace {

// Shared by every script: the Redis clock in ms, the audit event, and ending a token (its keys then vanish
// after the ended TTL; the user key only if it still points at this token).
constexpr const char* kPrelude = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function audit(list, tk, id)
  local v = redis.call('HMGET', tk, 'user', 'schedule', 'state', 'seq', 'issued', 'admitted', 'expires', 'ended')
  redis.call('RPUSH', list, cjson.encode({id = id, user = v[1], schedule = v[2], state = v[3], seq = v[4],
    issued = v[5], admitted = v[6], expires = v[7], ended = v[8]}))
end
local function finish(prefix, list, id, state, now, ended_ttl)
  local tk = prefix .. 'token:' .. id
  redis.call('HSET', tk, 'state', state, 'ended', now)
  redis.call('PEXPIRE', tk, ended_ttl)
  local user = redis.call('HGET', tk, 'user')
  if user then
    local uk = prefix .. 'user:' .. user
    if redis.call('GET', uk) == id then redis.call('PEXPIRE', uk, ended_ttl) end
  end
  audit(list, tk, id)
end
)lua";

// ADR 0026: before the opening (ARGV[6], epoch ms, against the Redis clock) a new token is PRE_QUEUE, kept in
// the pre-queue KEYS[8] at its arrival number, and not polled-expired; the opening's shuffle moves it.
constexpr const char* kJoin = R"lua(
if KEYS[9] and redis.call('EXISTS', KEYS[9]) == 0 then return 'RECOVER' end
local now = now_ms()
local scanned = redis.call('EXISTS', KEYS[7])
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local existing = redis.call('GET', KEYS[5])
if existing then
  local tk = ARGV[1] .. 'token:' .. existing
  local state = redis.call('HGET', tk, 'state')
  if state == 'PRE_QUEUE' then
    if redis.call('ZSCORE', KEYS[8], existing) then return {0, existing, 'PRE_QUEUE', 0, 0, seq, scanned} end
  elseif state == 'WAITING' then
    local rank = redis.call('ZRANK', KEYS[2], existing)
    if rank then
      redis.call('HSET', tk, 'seen', now)
      redis.call('ZADD', KEYS[3], 'XX', now, existing)
      return {0, existing, 'WAITING', rank + 1, 0, seq, scanned, tonumber(redis.call('ZSCORE', KEYS[2], existing)),
        tonumber(redis.call('GET', ARGV[1] .. 'admitted') or '0')}
    end
  elseif state == 'ACTIVE' then
    local expires = tonumber(redis.call('HGET', tk, 'expires'))
    if expires > now then return {0, existing, 'ACTIVE', 0, expires, seq, scanned} end
    redis.call('ZREM', KEYS[4], existing)
    finish(ARGV[1], KEYS[6], existing, 'EXPIRED', now, ARGV[5])
  end
end
seq = redis.call('INCR', KEYS[1])
local id = ARGV[4]
local tk = ARGV[1] .. 'token:' .. id
if tonumber(ARGV[6] or '0') > now then
  redis.call('HSET', tk, 'user', ARGV[2], 'schedule', ARGV[3], 'state', 'PRE_QUEUE', 'seq', seq, 'issued', now)
  redis.call('ZADD', KEYS[8], seq, id)
  redis.call('SET', KEYS[5], id)
  audit(KEYS[6], tk, id)
  return {1, id, 'PRE_QUEUE', 0, 0, seq, scanned}
end
redis.call('HSET', tk, 'user', ARGV[2], 'schedule', ARGV[3], 'state', 'WAITING', 'seq', seq, 'issued', now,
  'seen', now)
redis.call('ZADD', KEYS[2], seq, id)
redis.call('ZADD', KEYS[3], now, id)
redis.call('SET', KEYS[5], id)
audit(KEYS[6], tk, id)
return {1, id, 'WAITING', redis.call('ZRANK', KEYS[2], id) + 1, 0, seq, scanned, seq,
  tonumber(redis.call('GET', ARGV[1] .. 'admitted') or '0')}
)lua";

constexpr const char* kStatus = R"lua(
if KEYS[9] and redis.call('EXISTS', KEYS[9]) == 0 then return 'RECOVER' end
local id = redis.call('GET', KEYS[1])
if not id then return {} end
local tk = ARGV[1] .. 'token:' .. id
local state = redis.call('HGET', tk, 'state')
if not state then return {} end
local now = now_ms()
if state == 'PRE_QUEUE' then
  if not redis.call('ZSCORE', KEYS[8], id) then return {id, 'EXPIRED', 0, 0} end
  return {id, state, 0, 0, redis.call('EXISTS', KEYS[6]), tonumber(redis.call('GET', KEYS[7]) or '0')}
elseif state == 'WAITING' then
  local rank = redis.call('ZRANK', KEYS[2], id)
  if not rank then return {id, 'EXPIRED', 0, 0} end
  redis.call('HSET', tk, 'seen', now)
  redis.call('ZADD', KEYS[3], 'XX', now, id)
  return {id, state, rank + 1, 0, redis.call('EXISTS', KEYS[6]), tonumber(redis.call('GET', KEYS[7]) or '0'),
    tonumber(redis.call('ZSCORE', KEYS[2], id)), tonumber(redis.call('GET', ARGV[1] .. 'admitted') or '0')}
elseif state == 'ACTIVE' then
  local expires = tonumber(redis.call('HGET', tk, 'expires'))
  if expires > now then return {id, state, 0, expires} end
  redis.call('ZREM', KEYS[4], id)
  finish(ARGV[1], KEYS[5], id, 'EXPIRED', now, ARGV[2])
  return {id, 'EXPIRED', 0, 0}
end
return {id, state, 0, 0}
)lua";

constexpr const char* kCheck = R"lua(
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 0 then return 'RECOVER' end
local id = ARGV[2]
local tk = ARGV[1] .. 'token:' .. id
local v = redis.call('HMGET', tk, 'user', 'schedule', 'state', 'expires', 'checked', 'aexp')
if not v[3] then return {'MISSING', 0} end
if v[1] ~= ARGV[3] or v[2] ~= ARGV[4] then return {'INVALID', 0} end
local now = now_ms()
if v[3] == 'PRE_QUEUE' then return {'WAITING', 0} end
if v[3] == 'WAITING' then
  local rank = redis.call('ZRANK', KEYS[1], id)
  if rank then return {'WAITING', rank + 1} end
  return {'ENDED', 0}
elseif v[3] == 'ACTIVE' then
  local expires = tonumber(v[4])
  if expires <= now then
    redis.call('ZREM', KEYS[2], id)
    finish(ARGV[1], KEYS[3], id, 'EXPIRED', now, ARGV[6])
    return {'ENDED', 0}
  end
  -- The first passed check starts the purchase (its time to USED is what admission measures).
  if not v[5] then redis.call('HSET', tk, 'checked', now) end
  local ttl = tonumber(ARGV[5])
  if ttl > 0 and now + ttl > expires then
    expires = now + ttl
    redis.call('HSET', tk, 'expires', expires)
    redis.call('ZADD', KEYS[2], 'XX', expires, id)
    -- ADR 0022: a slide that moved the expiry a step past the one PostgreSQL last heard of is audited, so a
    -- rebuild from queue.queue_tokens knows the fan's turn within a step.
    local step = tonumber(ARGV[7] or '0')
    if step > 0 and expires - (tonumber(v[6]) or 0) >= step then
      redis.call('HSET', tk, 'aexp', expires)
      audit(KEYS[3], tk, id)
    end
  end
  return {'ACTIVE', expires}
end
return {'ENDED', 0}
)lua";

// A purchase done: the token ends USED, and the schedule's admission counters (KEYS[3], ADR 0016) count it
// with its purchase time (first passed check -> now) and its time in ACTIVE (admitted -> now).
constexpr const char* kRelease = R"lua(
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 0 then return 'RECOVER' end
local tk = ARGV[1] .. 'token:' .. ARGV[2]
local v = redis.call('HMGET', tk, 'state', 'admitted', 'checked')
if not v[1] then return -1 end
if v[1] ~= 'ACTIVE' then return 0 end
local now = now_ms()
redis.call('ZREM', KEYS[1], ARGV[2])
finish(ARGV[1], KEYS[2], ARGV[2], 'USED', now, ARGV[3])
local admitted = tonumber(v[2]) or now
local checked = tonumber(v[3]) or admitted
redis.call('HINCRBY', KEYS[3], 'used', 1)
redis.call('HINCRBY', KEYS[3], 'busy', math.max(0, now - checked))
redis.call('HINCRBY', KEYS[3], 'active_ms', math.max(0, now - admitted))
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
)lua";

// Admission is one script, so any number of schedulers running it at once can neither pass the maximum nor
// admit one token twice (ZPOPMIN hands each token to exactly one call). The rate is a token bucket kept in
// Redis (KEYS[5] = the time in ms up to which admissions are spent), shared by every scheduler process, so
// two processes together still admit at the configured rate; at most `burst` accumulate while idle.
constexpr const char* kAdmit = R"lua(
if KEYS[10] and redis.call('EXISTS', KEYS[10]) == 0 then return 'RECOVER' end
local now = now_ms()
local prefix = ARGV[1]
local limit = tonumber(ARGV[8])
local expired = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', KEYS[3], id)
  finish(prefix, KEYS[4], id, 'EXPIRED', now, ARGV[7])
  expired = expired + 1
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[6]), 'LIMIT', 0, limit)) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  finish(prefix, KEYS[4], id, 'EXPIRED', now, ARGV[7])
  expired = expired + 1
end
-- Automatic admission (ADR 0016): the bound and rate in force are the controller's, from KEYS[7].
local rate = tonumber(ARGV[2])
local max_active = tonumber(ARGV[4])
local burst = tonumber(ARGV[3])
local adm = {}
if ARGV[9] == '1' or ARGV[10] == '1' then
  adm = redis.call('HMGET', KEYS[7], 'at', 'bound', 'rate', 'base', 'tput', 'probing', 's_used', 's_busy',
    's_active', 'used', 'busy', 'active_ms', 'hand')
  if ARGV[9] == '1' and tonumber(adm[2]) then max_active = math.max(1, math.floor(tonumber(adm[2]))) end
  if ARGV[10] == '1' and tonumber(adm[3]) then
    rate = math.max(1, tonumber(adm[3]))
    burst = math.max(1, math.ceil(rate * tonumber(ARGV[11]) / 1000))
  end
end
local per = 1000 / rate
local spent = tonumber(redis.call('GET', KEYS[5]) or '0')
if spent < now - burst * per then spent = now - burst * per end
local allowance = math.floor((now - spent) / per)
local room = max_active - redis.call('ZCARD', KEYS[3])
local admitted = 0
-- ADR 0026: a fan who came after the opening never goes ahead of the pre-queued ones. While the pre-queue
-- (KEYS[9]) is being opened, only the places the opening has moved so far are admitted (ADR 0033): the opener
-- moves them lowest place first and records the highest place below which every token has moved ('opened');
-- every later arrival's place is above every shuffled place. Nothing moved yet: nobody is admitted.
local pre = redis.call('ZCARD', KEYS[9])
local upto = 0
if pre > 0 then upto = tonumber(redis.call('GET', prefix .. 'opened') or '0') end
if allowance > 0 and room > 0 and (pre == 0 or upto > 0) then
  local popped
  if pre == 0 then
    popped = redis.call('ZPOPMIN', KEYS[1], math.min(allowance, room))
  else
    popped = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', upto, 'WITHSCORES', 'LIMIT', 0, math.min(allowance, room))
    for i = 1, #popped, 2 do redis.call('ZREM', KEYS[1], popped[i]) end
  end
  local expires = now + tonumber(ARGV[5])
  for i = 1, #popped, 2 do
    local id = popped[i]
    local tk = prefix .. 'token:' .. id
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZADD', KEYS[3], expires, id)
    redis.call('HSET', tk, 'state', 'ACTIVE', 'admitted', now, 'expires', expires, 'aexp', expires)
    audit(KEYS[4], tk, id)
    admitted = admitted + 1
  end
  spent = spent + admitted * per
  -- ADR 0039: every token admission took from the waiting set, ever; a poll answered from memory tells its
  -- fan's position by how much this moved since the fan's last script.
  if admitted > 0 then
    redis.call('INCRBY', prefix .. 'admitted', admitted)
    redis.call('PEXPIRE', prefix .. 'admitted', ARGV[7])
  end
end
redis.call('SET', KEYS[5], string.format('%.3f', spent), 'PX', 3600000)
local waiting, active = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[3])
-- The scanned flag (KEYS[8]) tells joins that the schedule is in the scan set and stays there while they
-- wait, so they may skip their ZADD: set while the room has tokens, dropped by the step that saw it empty
-- (the only step that may lead to forget), and short-lived, so a schedule nobody scans loses it soon.
if waiting + active + pre > 0 then
  redis.call('SET', KEYS[8], '1', 'PX', ARGV[12])
else
  redis.call('DEL', KEYS[8])
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local head_place = -1
if head[2] then head_place = tonumber(head[2]) end
return {admitted, expired, waiting, active,
  tonumber(redis.call('GET', KEYS[6]) or '0'), now, max_active, tostring(rate), adm, pre, head_place,
  tonumber(redis.call('GET', prefix .. 'admitted') or '0')}
)lua";

// The controller's step (ADR 0016) stored only if no other scheduler stored one since this one read the
// state: ARGV[1] is the 'at' it read ('' for none), ARGV[2] the hash's TTL, then field/value pairs.
constexpr const char* kAdmissionSave = R"lua(
local at = redis.call('HGET', KEYS[1], 'at') or ''
if at ~= ARGV[1] then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

// ADR 0022: tokens put back from queue.queue_tokens after Redis came back empty or behind. Idempotent: a
// token whose hash exists is left alone (Redis knows better), so two rebuilders, or a rebuilder behind live
// traffic, change nothing twice. A WAITING token goes back at its arrival number (the waiting set's score),
// so FIFO order holds; an ACTIVE one keeps its turn: PostgreSQL's expiry lags the real one by less than a
// step (the check audits slides of a step or more), so a token whose recorded expiry is a step or more in the
// past is surely over (it ends EXPIRED, with an audit event), and any other gets max(recorded, now) + grace,
// where grace (ARGV[4]) is twice that step: the fan never loses time to the rebuild.
constexpr const char* kRestore = R"lua(
local now = now_ms()
local prefix = ARGV[1]
local grace = tonumber(ARGV[4])
local top = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[5]))
local restored = 0
for i = 6, #ARGV - 6, 7 do
  local id, user, state = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local pos = tonumber(ARGV[i + 3])
  local tk = prefix .. 'token:' .. id
  if redis.call('EXISTS', tk) == 0 then
    redis.call('HSET', tk, 'user', user, 'schedule', ARGV[2], 'seq', pos, 'issued', ARGV[i + 4], 'restored', now)
    local live = true
    if state == 'PRE_QUEUE' then
      redis.call('HSET', tk, 'state', 'PRE_QUEUE')
      redis.call('ZADD', KEYS[6], pos, id)
    elseif state == 'WAITING' then
      redis.call('HSET', tk, 'state', 'WAITING', 'seen', now)
      redis.call('ZADD', KEYS[2], pos, id)
      redis.call('ZADD', KEYS[3], now, id)
    else
      local recorded = tonumber(ARGV[i + 6]) or 0
      if recorded + grace / 2 > now then
        local expires = math.max(recorded, now) + grace
        redis.call('HSET', tk, 'state', 'ACTIVE', 'admitted', ARGV[i + 5], 'expires', expires, 'aexp', expires)
        redis.call('ZADD', KEYS[4], expires, id)
      else
        redis.call('HSET', tk, 'admitted', ARGV[i + 5], 'expires', recorded)
        finish(prefix, KEYS[5], id, 'EXPIRED', now, ARGV[3])
        live = false
      end
    end
    local uk = prefix .. 'user:' .. user
    local current = redis.call('GET', uk)
    local current_seq = nil
    if current then current_seq = tonumber(redis.call('HGET', prefix .. 'token:' .. current, 'seq')) end
    if not current_seq or current_seq < pos then
      redis.call('SET', uk, id)
      if not live then redis.call('PEXPIRE', uk, ARGV[3]) end
    end
    if pos > top then top = pos end
    restored = restored + 1
  end
end
if top > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], top) end
return {restored, top}
)lua";

// ADR 0026: the pre-queue (KEYS[1]) in arrival order, with what the shuffle's rows need: id, arrival number,
// user and issue time of each token, flat.
constexpr const char* kPreList = R"lua(
local out = {}
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local v = redis.call('HMGET', ARGV[1] .. 'token:' .. members[i], 'user', 'issued')
  out[#out + 1] = members[i]
  out[#out + 1] = members[i + 1]
  out[#out + 1] = v[1] or ''
  out[#out + 1] = v[2] or '0'
end
return out
)lua";

// ADR 0026: the opening. Each (id, place) pair of ARGV moves a token still in the pre-queue (KEYS[1]) to the
// waiting set (KEYS[2]) at its shuffled place, as WAITING and seen now (KEYS[3]), with an audit event
// (KEYS[4]) when ARGV[2] is '1'. A token already moved is skipped, so a second opener or a retry changes
// nothing twice. ADR 0033: ARGV[3] is a place below which (inclusive) the caller has moved every token
// ('0': none); 'opened' keeps the highest such place while the pre-queue is not empty, for admission.
constexpr const char* kOpenPre = R"lua(
local now = now_ms()
local moved = 0
for i = 4, #ARGV - 1, 2 do
  local id, place = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local tk = ARGV[1] .. 'token:' .. id
    redis.call('HSET', tk, 'state', 'WAITING', 'seq', place, 'seen', now)
    redis.call('ZADD', KEYS[2], place, id)
    redis.call('ZADD', KEYS[3], now, id)
    if ARGV[2] == '1' then audit(KEYS[4], tk, id) end
    moved = moved + 1
  end
end
local left = redis.call('ZCARD', KEYS[1])
local opened = ARGV[1] .. 'opened'
if left == 0 then
  redis.call('DEL', opened)
elseif tonumber(ARGV[3]) > tonumber(redis.call('GET', opened) or '0') then
  redis.call('SET', opened, ARGV[3], 'PX', 86400000)
end
return {moved, left}
)lua";

// ADR 0039: one schedule's room as a poll answered from memory needs it. KEYS waiting, pre, scanned, seq[,
// epoch]; ARGV prefix. Read-only.
constexpr const char* kView = R"lua(
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local head_place = -1
if head[2] then head_place = tonumber(head[2]) end
local epoch = 1
if KEYS[5] then epoch = redis.call('EXISTS', KEYS[5]) end
return {head_place, tonumber(redis.call('GET', ARGV[1] .. 'admitted') or '0'), redis.call('ZCARD', KEYS[2]),
  epoch, redis.call('EXISTS', KEYS[3]), tonumber(redis.call('GET', KEYS[4]) or '0'), redis.call('ZCARD', KEYS[1])}
)lua";

constexpr const char* kForget = R"lua(
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
)lua";

}  // namespace

const redis::Script& join() {
    static const redis::Script script(std::string(kPrelude) + kJoin);
    return script;
}
const redis::Script& status() {
    static const redis::Script script(std::string(kPrelude) + kStatus);
    return script;
}
const redis::Script& check() {
    static const redis::Script script(std::string(kPrelude) + kCheck);
    return script;
}
const redis::Script& release() {
    static const redis::Script script(std::string(kPrelude) + kRelease);
    return script;
}
const redis::Script& admit() {
    static const redis::Script script(std::string(kPrelude) + kAdmit);
    return script;
}
const redis::Script& admission_save() {
    static const redis::Script script(kAdmissionSave);
    return script;
}
const redis::Script& restore() {
    static const redis::Script script(std::string(kPrelude) + kRestore);
    return script;
}
const redis::Script& pre_list() {
    static const redis::Script script(kPreList);
    return script;
}
const redis::Script& open_pre() {
    static const redis::Script script(std::string(kPrelude) + kOpenPre);
    return script;
}
const redis::Script& view() {
    static const redis::Script script(kView);
    return script;
}
const redis::Script& forget() {
    static const redis::Script script(kForget);
    return script;
}

}  // namespace marquee::queue::scripts
