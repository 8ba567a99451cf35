#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pg_sim/gateway.hpp"

namespace marquee::pg_sim {

/// pg-sim served in-process on a free loopback port from a thread of its own: for tests of code that calls
/// the payment gateway (payment_gateway::Client, wallet, payment) without starting the binary.
class LocalServer {
  public:
    explicit LocalServer(std::uint64_t seed = 1);
    ~LocalServer();
    LocalServer(const LocalServer&) = delete;
    LocalServer& operator=(const LocalServer&) = delete;

    /// http://127.0.0.1:PORT
    std::string url() const;
    /// The simulator's state: set faults, read stats, record a charge directly.
    Gateway& gateway();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace marquee::pg_sim
