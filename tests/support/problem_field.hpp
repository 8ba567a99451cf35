#pragma once
// Test-only: which field a 400 problem names, and which status a problem has.

#include <functional>
#include <string>

#include "core/problem.hpp"

namespace marquee::test {

/// The `field` extension of the core::Problem that `fn` throws; "no problem" when it throws none.
inline std::string field_of_problem(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const core::Problem& p) {
        return std::string(p.extensions().at("field").as_string());
    }
    return "no problem";
}

/// The HTTP status of the core::Problem that `fn` throws; 0 when it throws none.
inline int status_of_problem(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const core::Problem& p) {
        return p.status();
    }
    return 0;
}

}  // namespace marquee::test
