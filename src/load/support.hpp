#pragma once

// What the scenarios (scenario.cpp, fans.cpp) share: reading the server's JSON answers, psql for set-up and
// checks, a timer, the free seats of an availability answer, and spawning one coroutine per virtual user.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "load/scenario.hpp"

namespace marquee::load {

/// The body as a JSON object; nullopt if it is not one.
std::optional<boost::json::object> parse_object(const std::string& body);
/// An integer member; -1 when it is missing or not an integer.
std::int64_t int_field(const boost::json::object& o, std::string_view name);
/// A string member; empty when it is missing or not a string.
std::string string_field(const boost::json::object& o, std::string_view name);
/// A boolean member; false when it is missing or not a boolean.
bool bool_field(const boost::json::object& o, std::string_view name);

/// Whether an answer to a top-up is a charge that FAILED for good: 503 (the gateway could not take it) whose
/// problem names its `chargeId`. Such a charge is final for its Idempotency-Key (api/openapi.yaml, "retry
/// with a new key"): the same key gets the same 503 again, so a client retries with a new key, not the same.
bool charge_failed_for_its_key(unsigned status, const std::string& body);

/// `text` as an SQL string literal.
std::string quote_sql(const std::string& text);
/// Runs one statement with psql against the run's database; its unaligned, tuples-only output without the
/// trailing newline. Throws when psql fails.
std::string psql(const Options& o, const std::string& sql);

boost::asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration duration);

/// The indexes of the free seats among the first `seats` of an availability answer (its base64 `taken`
/// bitset); empty when the bitset does not decode.
std::vector<std::size_t> free_seats(const boost::json::object& availability, std::size_t seats);

/// Spawns make(0) .. make(n - 1) on `ioc`; each one that ends with an exception counts in `crashed`, and the
/// first three are printed, naming `who` ("a virtual user", "a fan").
void spawn_all(boost::asio::io_context& ioc, unsigned n,
               const std::function<boost::asio::awaitable<void>(unsigned)>& make, unsigned& crashed,
               const char* who);

}  // namespace marquee::load
