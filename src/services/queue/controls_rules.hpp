#pragma once
// The operators' controls as data (issue 17, ADR 0027): the values, a PATCH body's parse and its application,
// the audit's diff and the API's JSON. Pure: no database, no Redis (the fuzz harnesses compile it alone).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/problem.hpp"

namespace marquee::queue {

// The API's names, in the order answers and audit rows list them.
inline constexpr const char* kControlFields[] = {"paused",        "admitsPerMinute", "maxActive",
                                                 "queueEveryone", "salesClosed",     "holdExtensionSeconds",
                                                 "powDifficulty"};

/// An operator's controls of one schedule (issue 17, ADR 0027). The defaults are "no control": admission as
/// configured (ADR 0016/0019), sales open, holds of the configured TTL.
struct ScheduleControls {
    bool paused = false;                   ///< admission stopped: fans stay WAITING
    std::optional<int> admits_per_minute;  ///< overrides the automatic or configured rate; nullopt: auto
    std::optional<int> max_active;         ///< overrides the automatic or configured ACTIVE bound
    bool queue_everyone = false;           ///< every joiner waits (ADR 0027: already so in Marquee)
    bool sales_closed = false;             ///< joins and holds answer 403 `sales-closed`
    int hold_extension_seconds = 0;        ///< added to every hold's TTL (payments degraded)
    std::optional<int> pow_difficulty;     ///< the join's proof-of-work difficulty; nullopt: the default
    bool operator==(const ScheduleControls&) const = default;
};

/// A PATCH body: the fields it names (an inner nullopt is JSON null, "back to automatic").
struct ControlsPatch {
    std::optional<bool> paused;
    std::optional<std::optional<int>> admits_per_minute;
    std::optional<std::optional<int>> max_active;
    std::optional<bool> queue_everyone;
    std::optional<bool> sales_closed;
    std::optional<int> hold_extension_seconds;
    std::optional<std::optional<int>> pow_difficulty;
};

/// One changed field: its API name and the JSON values before and after.
struct ControlChange {
    std::string field;
    boost::json::value before;
    boost::json::value after;
};

/// Parses a PATCH body; 400 `invalid-field` for an unknown field, a wrong type or a value out of range.
ControlsPatch parse_controls_patch(const boost::json::object& body);
/// `controls` with the patch's fields set.
ScheduleControls apply_patch(ScheduleControls controls, const ControlsPatch& patch);
/// The fields that differ, in the API's order.
std::vector<ControlChange> diff_controls(const ScheduleControls& before, const ScheduleControls& after);
/// The API's JSON (api/openapi.yaml, ScheduleControls).
boost::json::object to_json(const ScheduleControls& controls);
/// 403 `sales-closed`: the operator closed the schedule's sales early.
core::Problem sales_closed_problem(std::int64_t schedule_id);

}  // namespace marquee::queue
