#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace marquee::core {

/// The canonical lower-case form of `text` when it is a UUID in 8-4-4-4-12 hex form (any letter case);
/// nullopt otherwise. Ids from paths and headers are checked with it before they reach SQL or Redis, so a
/// malformed id is a clean 404/403 and never a cast error.
std::optional<std::string> normalize_uuid(std::string_view text);

inline bool is_uuid(std::string_view text) {
    return normalize_uuid(text).has_value();
}

}  // namespace marquee::core
