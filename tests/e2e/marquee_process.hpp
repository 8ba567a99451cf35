#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace marquee::test {

/// A real `marquee` process for end-to-end tests, started with the local services' settings and a free
/// port, stopped (SIGTERM, then SIGKILL after a bound) when destroyed.
class MarqueeProcess {
  public:
    /// `overrides` replace or add MARQUEE_* variables (e.g. a dead Redis URL).
    explicit MarqueeProcess(std::vector<std::string> args = {},
                            std::map<std::string, std::string> overrides = {});
    ~MarqueeProcess();
    MarqueeProcess(const MarqueeProcess&) = delete;
    MarqueeProcess& operator=(const MarqueeProcess&) = delete;

    std::uint16_t port() const { return port_; }
    /// Sends SIGTERM and waits; returns the exit status (or -1 if it had to be killed).
    int terminate(std::chrono::milliseconds bound = std::chrono::seconds(15));
    /// Everything the process wrote to stdout/stderr so far.
    std::string output() const;

  private:
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string log_path_;
};

/// Runs `marquee ARGS` to completion (bounded) and returns (exit status, output).
std::pair<int, std::string> run_marquee(const std::vector<std::string>& args,
                                        std::chrono::milliseconds bound = std::chrono::seconds(30));

struct HttpReply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string body;
};

/// One blocking HTTP/1.1 request to 127.0.0.1:port (Connection: close), with a deadline.
HttpReply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::map<std::string, std::string>& headers = {});

std::uint16_t free_port();

/// Signs up a new fan (unique email with `prefix`) through the auth routes of the process on `port`, logs in,
/// and returns the `Authorization: Bearer <access token>` header to send. Fails the test if either step does.
std::map<std::string, std::string> new_fan(std::uint16_t port, std::string_view prefix = "fan");

}  // namespace marquee::test
