#include "services/catalog/availability.hpp"

#include <fmt/format.h>

#include "redis/client.hpp"
#include "redis/script.hpp"

namespace marquee::catalog {
namespace {

namespace asio = boost::asio;

// KEYS: taken, sold, version. ARGV: state (0 available, 1 held, 2 sold), then seat indexes.
const redis::Script& mark_script() {
    static const redis::Script script(R"lua(
local state = tonumber(ARGV[1])
local taken = state > 0 and 1 or 0
local sold = state == 2 and 1 or 0
local changed = false
for i = 2, #ARGV do
  local index = tonumber(ARGV[i])
  if redis.call('SETBIT', KEYS[1], index, taken) ~= taken then changed = true end
  if redis.call('SETBIT', KEYS[2], index, sold) ~= sold then changed = true end
end
if changed then return redis.call('INCR', KEYS[3]) end
return tonumber(redis.call('GET', KEYS[3]) or '0')
)lua");
    return script;
}

// KEYS: taken, sold, version, built. ARGV: expected version, number of held seats, held indexes, sold
// indexes. Only sets bits: an event applied before the caller's read is already in the snapshot or still on
// its way.
const redis::Script& rebuild_script() {
    static const redis::Script script(R"lua(
local version = tonumber(redis.call('GET', KEYS[3]) or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
local held = tonumber(ARGV[2])
local changed = false
for i = 3, #ARGV do
  local index = tonumber(ARGV[i])
  if redis.call('SETBIT', KEYS[1], index, 1) ~= 1 then changed = true end
  if i > 2 + held and redis.call('SETBIT', KEYS[2], index, 1) ~= 1 then changed = true end
end
redis.call('SET', KEYS[4], '1')
if changed then return redis.call('INCR', KEYS[3]) end
return version
)lua");
    return script;
}

// KEYS: taken, sold, version. ARGV: expected version, then pairs of (seat index, state 0|1|2).
const redis::Script& fix_script() {
    static const redis::Script script(R"lua(
local version = tonumber(redis.call('GET', KEYS[3]) or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
local changed = false
for i = 2, #ARGV - 1, 2 do
  local index = tonumber(ARGV[i])
  local state = tonumber(ARGV[i + 1])
  local taken = state > 0 and 1 or 0
  local sold = state == 2 and 1 or 0
  if redis.call('SETBIT', KEYS[1], index, taken) ~= taken then changed = true end
  if redis.call('SETBIT', KEYS[2], index, sold) ~= sold then changed = true end
end
if changed then return redis.call('INCR', KEYS[3]) end
return version
)lua");
    return script;
}

int state_code(SeatState state) {
    switch (state) {
        case SeatState::Available:
            return 0;
        case SeatState::Held:
            return 1;
        case SeatState::Sold:
            return 2;
    }
    return 0;
}

}  // namespace

std::string AvailabilityBitset::taken_key(std::int64_t schedule_id) {
    return fmt::format("catalog:availability:{{{}}}", schedule_id);
}
std::string AvailabilityBitset::sold_key(std::int64_t schedule_id) {
    return fmt::format("catalog:availability:{{{}}}:sold", schedule_id);
}
std::string AvailabilityBitset::version_key(std::int64_t schedule_id) {
    return fmt::format("catalog:availability:{{{}}}:version", schedule_id);
}
std::string AvailabilityBitset::built_key(std::int64_t schedule_id) {
    return fmt::format("catalog:availability:{{{}}}:built", schedule_id);
}

asio::awaitable<std::int64_t> AvailabilityBitset::mark(std::int64_t schedule_id,
                                                       std::vector<std::int32_t> seat_indexes,
                                                       SeatState state) {
    std::vector<std::string> keys{taken_key(schedule_id), sold_key(schedule_id), version_key(schedule_id)};
    std::vector<std::string> args{std::to_string(state_code(state))};
    for (const std::int32_t index : seat_indexes) args.push_back(std::to_string(index));
    const redis::Script& script = mark_script();
    const redis::Reply reply = co_await redis_.eval(script, std::move(keys), std::move(args));
    const std::int64_t version = reply.or_throw().as_integer();
    changed(schedule_id);
    co_return version;
}

asio::awaitable<Availability> AvailabilityBitset::read(std::int64_t schedule_id) {
    const redis::Reply reply =
        co_await redis_.command("MGET", version_key(schedule_id), taken_key(schedule_id),
                                sold_key(schedule_id), built_key(schedule_id));
    const auto& values = reply.or_throw().elements();
    Availability availability;
    if (values.size() == 4) {
        if (!values[0].is_nil()) availability.version = std::stoll(values[0].as_string());
        if (!values[1].is_nil()) availability.taken = values[1].as_string();
        if (!values[2].is_nil()) availability.sold = values[2].as_string();
        availability.built = !values[3].is_nil();
    }
    co_return availability;
}

asio::awaitable<std::optional<std::int64_t>> AvailabilityBitset::rebuild(std::int64_t schedule_id,
                                                                         std::int64_t expected_version,
                                                                         std::vector<std::int32_t> held,
                                                                         std::vector<std::int32_t> sold) {
    std::vector<std::string> keys{taken_key(schedule_id), sold_key(schedule_id), version_key(schedule_id),
                                  built_key(schedule_id)};
    std::vector<std::string> args{std::to_string(expected_version), std::to_string(held.size())};
    for (const std::int32_t index : held) args.push_back(std::to_string(index));
    for (const std::int32_t index : sold) args.push_back(std::to_string(index));
    const redis::Script& script = rebuild_script();
    const redis::Reply reply = co_await redis_.eval(script, std::move(keys), std::move(args));
    const std::int64_t version = reply.or_throw().as_integer();
    if (version < 0) co_return std::nullopt;
    changed(schedule_id);
    co_return version;
}

asio::awaitable<std::optional<std::int64_t>> AvailabilityBitset::fix(
    std::int64_t schedule_id, std::int64_t expected_version,
    std::vector<std::pair<std::int32_t, SeatState>> seats) {
    std::vector<std::string> keys{taken_key(schedule_id), sold_key(schedule_id), version_key(schedule_id)};
    std::vector<std::string> args{std::to_string(expected_version)};
    for (const auto& [index, state] : seats) {
        args.push_back(std::to_string(index));
        args.push_back(std::to_string(state_code(state)));
    }
    const redis::Script& script = fix_script();
    const redis::Reply reply = co_await redis_.eval(script, std::move(keys), std::move(args));
    const std::int64_t version = reply.or_throw().as_integer();
    if (version < 0) co_return std::nullopt;
    changed(schedule_id);
    co_return version;
}

asio::awaitable<void> AvailabilityBitset::reset(std::int64_t schedule_id) {
    std::vector<std::string> keys{taken_key(schedule_id), sold_key(schedule_id), version_key(schedule_id),
                                  built_key(schedule_id)};
    co_await redis_.del(std::move(keys));
    changed(schedule_id);
}

}  // namespace marquee::catalog
