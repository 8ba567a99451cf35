#include "services/queue/controls_rules.hpp"

namespace marquee::queue {
namespace {

namespace json = boost::json;

bool boolean_field(const json::value& value, const char* field) {
    if (!value.is_bool()) {
        throw core::Problem::invalid_field(field, std::string(field) + " must be true or false");
    }
    return value.get_bool();
}

int integer_field(const json::value& value, const char* field, std::int64_t low, std::int64_t high) {
    std::int64_t n = 0;
    if (value.is_int64()) {
        n = value.get_int64();
    } else if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(high)) {
        n = static_cast<std::int64_t>(value.get_uint64());
    } else {
        throw core::Problem::invalid_field(field, std::string(field) + " must be an integer");
    }
    if (n < low || n > high) {
        throw core::Problem::invalid_field(field, std::string(field) + " must be between " +
                                                      std::to_string(low) + " and " + std::to_string(high));
    }
    return static_cast<int>(n);
}

std::optional<int> nullable_field(const json::value& value, const char* field, std::int64_t low,
                                  std::int64_t high) {
    if (value.is_null()) return std::nullopt;
    return integer_field(value, field, low, high);
}

json::value nullable(const std::optional<int>& value) {
    return value ? json::value(*value) : json::value(nullptr);
}

}  // namespace

ControlsPatch parse_controls_patch(const json::object& body) {
    ControlsPatch patch;
    for (const auto& [key, value] : body) {
        if (key == "paused") {
            patch.paused = boolean_field(value, "paused");
        } else if (key == "admitsPerMinute") {
            patch.admits_per_minute = nullable_field(value, "admitsPerMinute", 1, 600'000);
        } else if (key == "maxActive") {
            patch.max_active = nullable_field(value, "maxActive", 1, 1'000'000);
        } else if (key == "queueEveryone") {
            patch.queue_everyone = boolean_field(value, "queueEveryone");
        } else if (key == "salesClosed") {
            patch.sales_closed = boolean_field(value, "salesClosed");
        } else if (key == "holdExtensionSeconds") {
            patch.hold_extension_seconds = integer_field(value, "holdExtensionSeconds", 0, 3600);
        } else if (key == "powDifficulty") {
            patch.pow_difficulty = nullable_field(value, "powDifficulty", 0, 32);
        } else {
            throw core::Problem::invalid_field(std::string(key), "not a schedule control");
        }
    }
    return patch;
}

ScheduleControls apply_patch(ScheduleControls c, const ControlsPatch& patch) {
    if (patch.paused) c.paused = *patch.paused;
    if (patch.admits_per_minute) c.admits_per_minute = *patch.admits_per_minute;
    if (patch.max_active) c.max_active = *patch.max_active;
    if (patch.queue_everyone) c.queue_everyone = *patch.queue_everyone;
    if (patch.sales_closed) c.sales_closed = *patch.sales_closed;
    if (patch.hold_extension_seconds) c.hold_extension_seconds = *patch.hold_extension_seconds;
    if (patch.pow_difficulty) c.pow_difficulty = *patch.pow_difficulty;
    return c;
}

json::object to_json(const ScheduleControls& c) {
    return json::object{{"paused", c.paused},
                        {"admitsPerMinute", nullable(c.admits_per_minute)},
                        {"maxActive", nullable(c.max_active)},
                        {"queueEveryone", c.queue_everyone},
                        {"salesClosed", c.sales_closed},
                        {"holdExtensionSeconds", c.hold_extension_seconds},
                        {"powDifficulty", nullable(c.pow_difficulty)}};
}

std::vector<ControlChange> diff_controls(const ScheduleControls& before, const ScheduleControls& after) {
    const json::object a = to_json(before);
    const json::object b = to_json(after);
    std::vector<ControlChange> changes;
    for (const char* field : kControlFields) {
        if (a.at(field) != b.at(field)) changes.push_back({field, a.at(field), b.at(field)});
    }
    return changes;
}

core::Problem sales_closed_problem(std::int64_t schedule_id) {
    return core::Problem::forbidden("sales-closed", "Sales of schedule " + std::to_string(schedule_id) +
                                                        " were closed by the organiser.");
}

}  // namespace marquee::queue
