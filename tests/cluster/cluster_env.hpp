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
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
        output += buffer.data();
    }
    const int status = ::pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ADD_FAILURE() << command << " failed (status " << status << "): " << output;
    }
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return output;
}

/// Not in CI (CI=true) unless MARQUEE_CI_EXTRA names `cluster`, as for the cluster smoke: the reason is in
/// docs/reliability.md ("Issue 16: PostgreSQL failover and a NATS cluster").
inline bool skipped_in_ci() {
    const char* ci = std::getenv("CI");
    if (ci == nullptr || std::string(ci) != "true") return false;
    const char* extra = std::getenv("MARQUEE_CI_EXTRA");
    const std::string list = std::string(",") + (extra != nullptr ? extra : "") + ",";
    return list.find(",cluster,") == std::string::npos;
}

/// Brings the scripts/cluster components this suite needs up (`scripts/cluster up --only ...`, which reuses
/// running ones), and on destruction stops those it found down, so a developer's `./scripts/test` leaves
/// nothing behind while a cluster someone started by hand keeps running.
class ClusterComponents {
  public:
    ClusterComponents(std::initializer_list<const char*> components,
                      std::initializer_list<const char*> settings) {
        std::string only;
        for (const char* component : components) only += std::string(" --only ") + component;
        const bool were_up = has_settings(settings);
        const std::string command = "python3 '" + source_dir() + "/scripts/cluster' up" + only + " >&2";
        if (std::system(command.c_str()) != 0) {
            ADD_FAILURE() << command << " failed";
            return;
        }
        if (!were_up) stop_ = "python3 '" + source_dir() + "/scripts/cluster' down" + only + " >&2";
    }
    ~ClusterComponents() {
        if (!stop_.empty() && std::system(stop_.c_str()) != 0) ADD_FAILURE() << stop_ << " failed";
    }
    ClusterComponents(const ClusterComponents&) = delete;
    ClusterComponents& operator=(const ClusterComponents&) = delete;

  private:
    static bool has_settings(std::initializer_list<const char*> names) {
        for (const char* name : names) {
            std::ifstream file(source_dir() + "/.local/cluster/env");
            std::string line;
            bool found = false;
            while (std::getline(file, line)) {
                found = found || line.rfind(std::string("export ") + name + "=", 0) == 0;
            }
            if (!found) return false;
        }
        return true;
    }
    std::string stop_;
};

/// The Patroni node that is primary now.
inline std::string primary_name() {
    return cluster_script("pg_failover.py", "primary");
}

}  // namespace marquee::test
