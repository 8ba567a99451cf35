#include "local_services.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

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

/// A loopback port nobody listens on (bound, then released), or 0.
unsigned free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    unsigned port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        port = ntohs(address.sin_port);
    }
    ::close(fd);
    return port;
}

/// True once something accepts a TCP connection and answers "+PONG" to an inline PING on the port.
bool answers_ping(unsigned port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    bool pong = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        const std::string ping = "PING\r\n";
        char reply[16] = {};
        pong = ::write(fd, ping.data(), ping.size()) == static_cast<ssize_t>(ping.size()) &&
               ::read(fd, reply, sizeof reply - 1) > 0 && std::string_view(reply).starts_with("+PONG");
    }
    ::close(fd);
    return pong;
}

}  // namespace

PrivateRedis::PrivateRedis() {
    // A port picked by the kernel and released can be taken again before redis-server binds it: try a few.
    for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
        port_ = free_port();
        std::vector<std::string> argv{"redis-server",
                                      "--port",
                                      std::to_string(port_),
                                      "--bind",
                                      "127.0.0.1",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--dir",
                                      "/tmp",
                                      "--loglevel",
                                      "warning"};
        std::vector<char*> args;
        args.reserve(argv.size() + 1);
        for (auto& arg : argv) args.push_back(arg.data());
        args.push_back(nullptr);
        pid_t pid = -1;
        if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
            ADD_FAILURE() << "cannot start redis-server (it comes with the local services' packages)";
            throw std::runtime_error("cannot start redis-server");
        }
        for (int wait = 0; wait < 200; ++wait) {  // up to 10 s
            if (answers_ping(port_)) {
                pid_ = pid;
                break;
            }
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) break;  // it exited: most likely the port was taken
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (pid_ < 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    if (pid_ < 0) {
        ADD_FAILURE() << "a private redis-server did not answer PING";
        throw std::runtime_error("a private redis-server did not answer PING");
    }
}

PrivateRedis::~PrivateRedis() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
}

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
