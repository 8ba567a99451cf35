#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "marquee_process.hpp"
#include "pg_sim/local_server.hpp"

namespace marquee::test {

/// A database of its own, a payment gateway of its own (pg-sim in this process) and a marquee process wired
/// to both, with a queue that admits at once. The set-up of the suites whose process runs recovery jobs that
/// act on any row and call the gateway (payment, security, tracing): no other test's rows or charges are
/// seen. Members are built in the order they are declared and destroyed in reverse: the process stops first.
class PrivateStack {
  public:
    struct Options {
        std::string services = "--service=auth,queue,booking,wallet,payment";
        std::map<std::string, std::string>
            env;  ///< MARQUEE_* settings added to (or replacing) the stack's own
        std::uint64_t gateway_seed = 7;
    };

    explicit PrivateStack(const Options& options);
    PrivateStack(const PrivateStack&) = delete;
    PrivateStack& operator=(const PrivateStack&) = delete;

    std::uint16_t port() const { return process_.port(); }
    MarqueeProcess& process() { return process_; }
    pg_sim::Gateway& gateway() { return gateway_.gateway(); }
    std::string gateway_url() const { return gateway_.url(); }
    const std::string& database_url() const { return database_.url(); }
    /// One SQL statement on the stack's database.
    db::Result query(const std::string& statement, db::Params params = {}) const;

  private:
    static std::map<std::string, std::string> settings(const Options& options,
                                                       const PrivateDatabase& database,
                                                       const pg_sim::LocalServer& gateway);

    PrivateDatabase database_;
    pg_sim::LocalServer gateway_;
    MarqueeProcess process_;
};

}  // namespace marquee::test
