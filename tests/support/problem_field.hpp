#pragma once
// Test-only: which field a 400 problem names.

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

}  // namespace marquee::test
