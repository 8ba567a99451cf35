#pragma once

#include <string>
#include <utility>
#include <vector>

namespace marquee::load {

/// Runs `argv` (argv[0] looked up in PATH) to completion with `input` on its stdin; returns (exit status,
/// stdout and stderr). Status 127 when it could not be started. For psql and scripts/check-invariants: the
/// load generator reads the database only through them.
std::pair<int, std::string> run_command(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace marquee::load
