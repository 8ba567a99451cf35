#pragma once

#include <string_view>

namespace marquee::db {

/// What an SQLSTATE says about the server rather than the statement
/// (docs/decisions/0021-postgres-failover.md).
enum class ServerFault {
    /// The statement itself failed (constraint, syntax, serialization...): an SqlError; the connection stays
    /// usable.
    None,
    /// The server is overloaded or cancelled the statement (class 53, 57014): 503, and the connection is
    /// kept.
    Busy,
    /// The connection is lost or points at a server that can no longer take writes: class 08 (connection
    /// exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, and 25006
    /// read_only_sql_transaction (a primary demoted under us, or a standby). 503, and the connection is
    /// dropped so that the next one walks the host list to the current primary.
    ConnectionLost,
};

/// Classifies a five-character SQLSTATE (anything else is ServerFault::None).
ServerFault classify_sqlstate(std::string_view sqlstate) noexcept;

}  // namespace marquee::db
