#include "services/queue/token_rules.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace marquee::queue {
namespace {

/// The Lua scripts send the token hash's fields as Redis strings; a field never set comes as false.
std::int64_t int_field(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value == nullptr) return 0;
    if (value->is_int64()) return value->as_int64();
    if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
    if (value->is_double()) return static_cast<std::int64_t>(value->as_double());
    if (value->is_string()) {
        const auto& s = value->as_string();
        std::int64_t out = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc{} && end == s.data() + s.size() ? out : 0;
    }
    return 0;
}

std::string string_field(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value == nullptr || !value->is_string()) return {};
    return std::string(value->as_string());
}

}  // namespace

std::string_view to_string(TokenState state) {
    switch (state) {
        case TokenState::Waiting:
            return "WAITING";
        case TokenState::Active:
            return "ACTIVE";
        case TokenState::Used:
            return "USED";
        case TokenState::Expired:
            return "EXPIRED";
        case TokenState::PreQueue:
            return "PRE_QUEUE";
    }
    return "EXPIRED";
}

std::optional<TokenState> parse_state(std::string_view text) {
    if (text == "WAITING") return TokenState::Waiting;
    if (text == "ACTIVE") return TokenState::Active;
    if (text == "USED") return TokenState::Used;
    if (text == "EXPIRED") return TokenState::Expired;
    if (text == "PRE_QUEUE") return TokenState::PreQueue;
    return std::nullopt;
}

int state_rank(TokenState state) {
    switch (state) {
        case TokenState::PreQueue:
            return -1;
        case TokenState::Waiting:
            return 0;
        case TokenState::Active:
            return 1;
        case TokenState::Used:
        case TokenState::Expired:
            return 2;
    }
    return 2;
}

bool can_move(TokenState from, TokenState to) {
    switch (from) {
        case TokenState::PreQueue:
            return to == TokenState::Waiting;
        case TokenState::Waiting:
            return to == TokenState::Active || to == TokenState::Expired;
        case TokenState::Active:
            return to == TokenState::Used || to == TokenState::Expired;
        case TokenState::Used:
        case TokenState::Expired:
            return false;
    }
    return false;
}

bool is_ended(TokenState state) {
    return state == TokenState::Used || state == TokenState::Expired;
}

std::int64_t eta_seconds(std::int64_t position, unsigned admit_per_second) {
    if (position <= 0) return 0;
    const std::int64_t rate = std::max<std::int64_t>(admit_per_second, 1);
    return (position + rate - 1) / rate;
}

std::int64_t poll_after_ms(std::int64_t position, unsigned admit_per_second) {
    constexpr std::int64_t kMin = 500;
    constexpr std::int64_t kMax = 15'000;
    constexpr std::int64_t kPerPlace = 5;
    if (position <= 0) return kMin;
    if (position >= kMax / kPerPlace) return kMax;  // and no overflow below
    const std::int64_t rate = std::max<std::int64_t>(admit_per_second, 1);
    const std::int64_t quarter_eta = position * 1000 / rate / 4;
    return std::clamp(std::max(quarter_eta, position * kPerPlace), kMin, kMax);
}

std::int64_t paused_poll_after_ms(std::int64_t position, unsigned admit_per_second) {
    constexpr std::int64_t kPausedMin = 5'000;
    return std::max(poll_after_ms(position, admit_per_second), kPausedMin);
}

std::int64_t burst_per_tick(unsigned admit_per_second, std::chrono::milliseconds tick) {
    const std::int64_t scaled = std::int64_t{admit_per_second} * tick.count();
    return std::max<std::int64_t>((scaled + 999) / 1000, 1);
}

std::string key_prefix(std::int64_t schedule_id) {
    return "queue:{" + std::to_string(schedule_id) + "}:";
}

void merge(AuditRecord& into, const AuditRecord& later) {
    if (state_rank(later.state) > state_rank(into.state)) into.state = later.state;
    if (into.user_id.empty()) into.user_id = later.user_id;
    if (into.schedule_id == 0) into.schedule_id = later.schedule_id;
    if (into.position == 0) into.position = later.position;
    if (into.issued_at == 0) into.issued_at = later.issued_at;
    if (into.admitted_at == 0) into.admitted_at = later.admitted_at;
    into.expires_at = std::max(into.expires_at, later.expires_at);
    if (into.ended_at == 0) into.ended_at = later.ended_at;
}

std::optional<AuditRecord> parse_audit_event(std::string_view json) {
    boost::system::error_code ec;
    const boost::json::value value = boost::json::parse(json, ec);
    if (ec || !value.is_object()) return std::nullopt;
    const auto& object = value.as_object();
    AuditRecord record;
    record.id = string_field(object, "id");
    record.user_id = string_field(object, "user");
    record.schedule_id = int_field(object, "schedule");
    const auto state = parse_state(string_field(object, "state"));
    if (record.id.empty() || record.user_id.empty() || !state) return std::nullopt;
    record.state = *state;
    record.position = int_field(object, "seq");
    record.issued_at = int_field(object, "issued");
    record.admitted_at = int_field(object, "admitted");
    record.expires_at = int_field(object, "expires");
    record.ended_at = int_field(object, "ended");
    if (record.schedule_id <= 0 || record.position <= 0 || record.issued_at <= 0) return std::nullopt;
    return record;
}

}  // namespace marquee::queue
