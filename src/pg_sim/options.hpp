#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg_sim/gateway.hpp"

namespace marquee::pg_sim {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  ///< 0: a free port, printed at start
    std::uint64_t seed = 42;
    Faults faults;
};

/// Parses `--name=value` flags; throws std::invalid_argument naming the flag. nullopt for --help.
std::optional<Options> parse_options(const std::vector<std::string>& args);
std::string usage();

}  // namespace marquee::pg_sim
