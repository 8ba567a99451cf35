#pragma once

// Helpers of the `cluster` tests: the settings `scripts/cluster up` writes to .local/cluster/env, and the
// components' own command lines (scripts/opslib/pg_failover.py, nats_cluster.py) to kill and restore nodes.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "local_services.hpp"

namespace marquee::test {

/// Exports these settings from .local/cluster/env into this process's environment, where local_setting()
/// (and so every helper and MarqueeProcess) looks first. Fails the test when one is missing.
inline void use_cluster_settings(std::initializer_list<const char*> names) {
    const std::string path = source_dir() + "/.local/cluster/env";
    for (const char* name : names) {
        std::ifstream file(path);
        std::string line;
        std::string value;
        const std::string prefix = std::string("export ") + name + "=";
        while (std::getline(file, line)) {
            if (line.rfind(prefix, 0) != 0) continue;
            value = line.substr(prefix.size());
            if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
                value = value.substr(1, value.size() - 2);
            }
        }
        if (value.empty()) {
            FAIL() << name << " is not in " << path << ": start the cluster first (scripts/cluster up)";
        }
        ::setenv(name, value.c_str(), 1);
    }
}

/// Runs `python3 scripts/opslib/<script> <args>` and returns its standard output (trailing newline
/// removed); a failure fails the test. Its log lines go to stderr, into the test's output.
inline std::string cluster_script(const std::string& script, const std::string& args) {
    const std::string command = "python3 '" + source_dir() + "/scripts/opslib/" + script + "' " + args;
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        ADD_FAILURE() << "cannot run " << command;
        return output;
    }
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr)
        output += buffer.data();
    const int status = ::pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ADD_FAILURE() << command << " failed (status " << status << "): " << output;
    }
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return output;
}

/// The Patroni node that is primary now.
inline std::string primary_name() {
    return cluster_script("pg_failover.py", "primary");
}

}  // namespace marquee::test
