#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>
#include <sys/types.h>

#include "db/params.hpp"
#include "db/result.hpp"

namespace marquee::test {

/// A real `marquee` process for end-to-end tests, started with the local services' settings and a free
/// port, stopped (SIGTERM, then SIGKILL after a bound) when destroyed.
class MarqueeProcess {
  public:
    /// `overrides` replace or add MARQUEE_* variables (e.g. a dead Redis URL).
    explicit MarqueeProcess(const std::vector<std::string>& args = {},
                            const std::map<std::string, std::string>& overrides = {});
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

    /// The body as a JSON object; fails the test (and gives an empty object) when it is not one.
    boost::json::object json() const;
};

/// One blocking HTTP/1.1 request to 127.0.0.1:port (Connection: close), with a deadline.
HttpReply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::map<std::string, std::string>& headers = {});

/// Adds one exchange to the spec check's record (ADR 0024), for answers a test reads without http_request (a
/// HEAD, the head of an endless event stream). http_request records its own. A no-op unless
/// MARQUEE_E2E_RECORD_DIR is set.
void record_exchange(const std::string& method, const std::string& target, const HttpReply& reply);

std::uint16_t free_port();

/// Signs up a new fan (unique email with `prefix`) through the auth routes of the process on `port`, logs in,
/// and returns the `Authorization: Bearer <access token>` header to send. Fails the test if either step does.
std::map<std::string, std::string> new_fan(std::uint16_t port, std::string_view prefix = "fan");

/// A new fan made admin by writing the row, as an operator does (scripts/demo/0002_admin.sql), then logged in
/// again so that the access token carries the role: the `Authorization` header plus `Content-Type:
/// application/json`, for the admin routes' JSON bodies.
std::map<std::string, std::string> new_admin(std::uint16_t port, std::string_view prefix = "admin");

/// The problem slug of a problem+json answer (`seat-taken` of `https://marquee.dev/problems/seat-taken`); ""
/// and a test failure when the answer is not problem+json.
std::string problem_type(const HttpReply& reply);

/// Polls `condition` every `every` until it holds or `bound` passes: waiting for something the server does on
/// its own (a poll of the controls, a consumer, recovery). False when it never held.
template <class F>
bool eventually(F condition, std::chrono::seconds bound = std::chrono::seconds(15),
                std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(every);
    }
    return true;
}

/// The user id behind a fan's `Authorization` header (GET /api/v1/auth/me on `port`).
std::string user_id_of(std::uint16_t port, const std::map<std::string, std::string>& fan);

/// Runs one SQL statement on a connection of its own: test data and checks. `database` is a libpq URL; empty
/// means the local services' database.
db::Result sql(const std::string& statement, db::Params params = {}, const std::string& database = {});

/// A database of its own on the local PostgreSQL server, dropped when destroyed. For a test whose Marquee
/// process (started with MARQUEE_DATABASE_URL = url()) runs jobs that act on any row, such as payment and
/// wallet recovery, against a payment gateway of its own: no other test's process sees its rows and it sees
/// no other's, and the invariant checker can check every row.
class PrivateDatabase {
  public:
    /// Applies the migrations of `services` (catalog's first: booking's functions name catalog's) and starts
    /// catalog's identities at a random high value, so that Redis keys named by schedule or seat (queue,
    /// seat locks, availability) never meet those of the shared database's schedules.
    explicit PrivateDatabase(std::vector<std::string> services = {"catalog", "auth", "queue", "booking",
                                                                  "wallet", "payment"});
    ~PrivateDatabase();
    PrivateDatabase(const PrivateDatabase&) = delete;
    PrivateDatabase& operator=(const PrivateDatabase&) = delete;

    const std::string& url() const { return url_; }

  private:
    std::string name_;
    std::string url_;
};

struct Seats {
    std::int64_t schedule = 0;
    std::vector<std::int64_t> ids;  ///< by seat index
};

/// A concert with one schedule open for booking and `count` seats of one zone priced `price` KRW each, made
/// with catalog's tables.
Seats make_seats(int count, std::int64_t price = 90000);

/// `schedules` schedules of one concert, each open for booking with `seats` seats priced `price` KRW, in
/// `database` (empty: the local services' database).
std::vector<Seats> make_schedules(int schedules, int seats, std::int64_t price,
                                  const std::string& database = {});

/// Joins the schedule's waiting room through `port` and follows the event stream until admitted; returns
/// `fan` with X-Queue-Token set, the headers a hold or a payment needs.
std::map<std::string, std::string> admitted(std::uint16_t port, std::map<std::string, std::string> fan,
                                            std::int64_t schedule);

/// A fan signed up on `port` and admitted to a schedule of its own.
struct AdmittedFan {
    std::map<std::string, std::string> headers;  ///< Authorization and X-Queue-Token
    std::string user_id;
    Seats seats;
};

/// A new fan (email prefix `prefix`) admitted to a fresh schedule of `seats` seats priced `price` KRW each,
/// made in `database` (empty: the local services' database).
AdmittedFan admitted_fan(std::uint16_t port, int seats, std::int64_t price, const std::string& database = {},
                         std::string_view prefix = "fan");

/// The body of POST /api/v1/reservations.
std::string hold_body(std::int64_t schedule, const std::vector<std::int64_t>& seats);

/// POST /api/v1/reservations with a JSON body.
HttpReply post_hold(std::uint16_t port, const std::string& body,
                    std::map<std::string, std::string> headers = {});

/// Holds the seats of `fan.seats` with these indexes through `port`; returns the reservation id (fails the
/// test and returns "" unless the hold is 201).
std::string hold_seats(std::uint16_t port, const AdmittedFan& fan, const std::vector<std::size_t>& indexes);

/// POST /api/v1/wallet/charges for `amount` KRW with a fresh Idempotency-Key: a card top-up of the fan's
/// wallet.
HttpReply top_up(std::uint16_t port, std::map<std::string, std::string> fan, std::int64_t amount);

struct InvariantCheck {
    int status = -1;     ///< 0: every invariant holds
    std::string output;  ///< one line per check with its count
};

/// scripts/check-invariants against `database` (empty: the local services' database), limited to these users'
/// data (other suites write beside the test; no users: every row); PENDING rows older than `window_s` count
/// as lost.
InvariantCheck check_invariants(const std::vector<std::string>& users, int window_s = 120,
                                const std::string& database = {});

}  // namespace marquee::test
