#pragma once

// Server-side cancels of statements past their deadline inside a transaction (db::detail::Connection).
// PostgreSQL 15's libpq cancels with a blocking PQcancel: a new connection that waits, without a timeout,
// until the server closes it. It runs on a thread of its own, and at most kMaxCancelsInFlight run at once:
// a cancel beyond that is skipped and the server's statement_timeout (the pool's deadline + 1 s, ADR 0021)
// stops the statement instead, so a server that never answers cancels cannot take a thread per deadline.

#include <cstddef>
#include <cstdint>

namespace marquee::db {

inline constexpr std::size_t kMaxCancelsInFlight = 4;

struct CancelStats {
    std::size_t in_flight = 0;  ///< cancel threads still waiting for the server
    std::uint64_t sent = 0;     ///< cancels started (each on a thread of its own)
    std::uint64_t skipped = 0;  ///< cancels not started: kMaxCancelsInFlight were already in flight
    std::uint64_t failed = 0;   ///< cancels not started: libpq made no cancel request, or no thread started
};

/// Process-wide, across every pool.
CancelStats cancel_stats() noexcept;

}  // namespace marquee::db
