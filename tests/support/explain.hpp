#pragma once
// Test-only: the shared buffers PostgreSQL reports for a statement (EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)),
// for the tests that pin a statement's cost to its inputs rather than to the size of history.

#include <cstdint>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/json/parse.hpp>

#include "db/params.hpp"
#include "db/result.hpp"
#include "db/session.hpp"

namespace marquee::test {

/// Shared buffers (hit + read) of the top plan node of an EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) result; the
/// statements inside SQL functions are counted in it too.
inline std::int64_t plan_shared_buffers(const db::Result& explained) {
    const auto plan = boost::json::parse(explained.get<std::string>(0, 0)).as_array().at(0).as_object();
    const auto& top = plan.at("Plan").as_object();
    return top.at("Shared Hit Blocks").to_number<std::int64_t>() +
           top.at("Shared Read Blocks").to_number<std::int64_t>();
}

/// Shared buffers of the second of two runs of `statement` on `session` (the first brings the system catalogs
/// in), EXPLAIN ANALYZE'd.
inline boost::asio::awaitable<std::int64_t> second_run_buffers(db::Session& session, std::string statement,
                                                               db::Params params) {
    const std::string explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + std::move(statement);
    std::int64_t buffers = 0;
    for (int i = 0; i < 2; ++i) buffers = plan_shared_buffers(co_await session.query(explain, params));
    co_return buffers;
}

}  // namespace marquee::test
