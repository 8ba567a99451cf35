#include "private_stack.hpp"

#include <utility>

namespace marquee::test {

PrivateStack::PrivateStack(const Options& options)
    : gateway_(options.gateway_seed), process_({options.services}, settings(options, database_, gateway_)) {}

std::map<std::string, std::string> PrivateStack::settings(const Options& options,
                                                          const PrivateDatabase& database,
                                                          const pg_sim::LocalServer& gateway) {
    std::map<std::string, std::string> env{{"MARQUEE_QUEUE_ADMIT_PER_SECOND", "1000"},
                                           {"MARQUEE_QUEUE_TICK_MS", "50"}};
    for (const auto& [name, value] : options.env) env[name] = value;
    env["MARQUEE_DATABASE_URL"] = database.url();
    env["MARQUEE_PAYMENT_GATEWAY_URL"] = gateway.url();
    return env;
}

db::Result PrivateStack::query(const std::string& statement, db::Params params) const {
    return sql(statement, std::move(params), database_.url());
}

}  // namespace marquee::test
