#pragma once

// libpq's handle types, declared but not defined, so db/ headers never include <libpq-fe.h>.
// Only db/ may include this header: nothing above the adapter sees a PGresult or PGconn.

#include <memory>

struct pg_conn;
struct pg_result;

namespace marquee::db::detail {

struct ResultDeleter {
    void operator()(pg_result* result) const noexcept;
};

/// Owns a PGresult; PQclear on destruction.
using ResultPtr = std::unique_ptr<pg_result, ResultDeleter>;

}  // namespace marquee::db::detail
