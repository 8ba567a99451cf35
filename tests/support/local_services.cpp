#include "local_services.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <unistd.h>

#ifndef MARQUEE_SOURCE_DIR
#error "MARQUEE_SOURCE_DIR must be defined by CMake"
#endif

namespace marquee::test {
namespace {

std::string env_file_path() {
    if (const char* path = std::getenv("MARQUEE_ENV_FILE")) return path;
    return source_dir() + "/.local/env";
}

std::string strip_quotes(std::string value) {
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
        return value.substr(1, value.size() - 2);
    }
    return value;
}

}  // namespace

std::string source_dir() {
    return MARQUEE_SOURCE_DIR;
}

std::string local_setting(std::string_view name) {
    const std::string key(name);
    if (const char* value = std::getenv(key.c_str()); value != nullptr && *value != '\0') return value;
    std::ifstream file(env_file_path());
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind("export ", 0) == 0) line.erase(0, 7);
        if (line.rfind(key + "=", 0) == 0) return strip_quotes(line.substr(key.size() + 1));
    }
    const std::string message = key + " is not set and not in " + env_file_path() +
                                ": the local PostgreSQL/Redis/NATS are not running. Start them with "
                                "`./scripts/dev services` (or run the whole suite with `./scripts/test`).";
    ADD_FAILURE() << message;
    throw std::runtime_error(message);
}

std::string unique_name(std::string_view prefix) {
    static std::atomic<unsigned> counter{0};
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    return std::string(prefix) + "_" + std::to_string(::getpid()) + "_" + std::to_string(now % 1000000007) +
           "_" + std::to_string(counter++);
}

}  // namespace marquee::test
