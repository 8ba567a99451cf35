// The `fans` scenario: 100,000 fans for 10,000 seats over a shared pool of connections (issue 15, ADR 0018).
#include "load/fans.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "load/pool.hpp"
#include "load/pow.hpp"
#include "load/process.hpp"
#include "load/rate.hpp"
#include "load/sold_out_notice.hpp"
#include "load/support.hpp"
#include "load/turns.hpp"

namespace marquee::load {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Every fan's state, on the run's one thread.
struct Fans {
    const Options& o;
    std::optional<SendTurns> turns;  ///< before the pool, whose connections use it (ADR 0043)
    SharedPool pool;
    Recorder recorder;
    std::mt19937_64 rng{7};
    std::int64_t schedule = 0;
    std::vector<std::int64_t> seat_ids;  ///< by seat index
    std::vector<std::string> auth;       ///< by fan: the Authorization header value, empty if not logged in
    Clock::time_point deadline;
    // the sale
    unsigned joined = 0;
    unsigned admitted = 0;
    unsigned paid = 0;
    unsigned expired_rejoins = 0;  ///< a fan's token ended (not sold out) and it joined again
    std::uint64_t hold_conflicts = 0;
    std::optional<Clock::time_point> sale_start;
    /// The last payment's 201, and when each fan that did not buy learnt the sale is over (or that it never
    /// did).
    SoldOutNotice notice;
    std::uint64_t transport_errors = 0;
    std::uint64_t retries = 0;
    BurstClock joins;  ///< the fans' joins that got in (200 or 201, after any retries)

    Fans(asio::io_context& ioc, const Options& options, std::vector<asio::ip::address> sources)
        : o(options),
          turns(options.sends_per_turn > 0
                    ? std::optional<SendTurns>(std::in_place, ioc.get_executor(), options.sends_per_turn)
                    : std::nullopt),
          pool(ioc.get_executor(), options.target, options.connections, std::move(sources), options.timeout,
               turns ? &*turns : nullptr) {}

    /// One request through the pool, recorded; 503/429/transport failures are tried again after
    /// Retry-After (at most 5 s) or a doubling backoff, until the deadline. Status 0: transport failure.
    asio::awaitable<Response> call(const char* endpoint, const char* method, std::string target,
                                   std::string body, Headers headers) {
        auto backoff = std::chrono::milliseconds(250);
        for (int attempt = 0;; ++attempt) {
            const auto start = Clock::now();
            Response r;
            try {
                r = co_await pool.request(method, target, body, headers);
                // The wait for a free connection counts (fans share them as behind a balancer); the wait
                // for the load generator's own send turn does not.
                recorder.answered(endpoint, r.status, latency_us(start + r.turn_wait, Clock::now()));
            } catch (const TransportError& e) {
                recorder.failed(endpoint);
                if (transport_errors++ < 5) {
                    std::fprintf(stderr, "marquee-load: %s: %s\n", endpoint, e.what());
                }
            }
            const bool shed = r.status == 503 || r.status == 429 || r.status == 0;
            if (!shed || attempt >= 40 || Clock::now() >= deadline) co_return r;
            std::chrono::milliseconds wait = backoff;
            if (const auto after = r.header("Retry-After")) {
                int seconds = 0;
                const auto [end, ec] = std::from_chars(after->data(), after->data() + after->size(), seconds);
                if (ec == std::errc() && seconds >= 0) {
                    wait = std::chrono::milliseconds(std::min(seconds, 5) * 1000);
                }
            }
            backoff = std::min(backoff * 2, std::chrono::milliseconds(4000));
            wait += std::chrono::milliseconds(rng() % static_cast<std::uint64_t>(wait.count() / 2 + 1));
            ++retries;
            co_await sleep_for(wait);
        }
    }
};

/// The admin makes a concert, a schedule open for booking and a seat map of two zones (VIP: the front tenth,
/// R: the rest), then reads the seat ids back.
asio::awaitable<void> create_schedule(Fans& f) {
    const auto& o = f.o;
    const json::object credentials{{"email", o.admin_email}, {"password", o.admin_password}};
    Response r = co_await f.call("admin", "POST", "/api/v1/auth/login", json::serialize(credentials), {});
    const auto login = parse_object(r.body);
    if (r.status != 200 || !login) {
        throw std::runtime_error("admin login failed: HTTP " + std::to_string(r.status));
    }
    const Headers admin{{"Authorization", "Bearer " + string_field(*login, "accessToken")}};
    const json::object concert{
        {"title", "Fans run " + o.run_id}, {"artist", "marquee-load"}, {"venue", "Loopback Arena"}};
    r = co_await f.call("admin", "POST", "/api/v1/admin/concerts", json::serialize(concert), admin);
    const auto concert_doc = parse_object(r.body);
    if (r.status != 201 || !concert_doc) {
        throw std::runtime_error("create concert: HTTP " + std::to_string(r.status));
    }
    const auto now = std::chrono::system_clock::now();
    const json::object times{{"startsAt", core::to_rfc3339(now + std::chrono::hours(72))},
                             {"bookingOpensAt", core::to_rfc3339(now - std::chrono::hours(1))},
                             {"bookingClosesAt", core::to_rfc3339(now + std::chrono::hours(48))}};
    r = co_await f.call(
        "admin", "POST",
        "/api/v1/admin/concerts/" + std::to_string(int_field(*concert_doc, "id")) + "/schedules",
        json::serialize(times), admin);
    const auto schedule_doc = parse_object(r.body);
    if (r.status != 201 || !schedule_doc) {
        throw std::runtime_error("create schedule: HTTP " + std::to_string(r.status));
    }
    f.schedule = int_field(*schedule_doc, "id");

    unsigned per_row = std::min(o.seats, 100u);
    while (o.seats % per_row != 0) --per_row;
    const unsigned rows = o.seats / per_row;
    const unsigned vip_rows = rows >= 10 ? rows / 10 : 0;
    json::array zones;
    if (vip_rows > 0) {
        zones.push_back(json::object{{"name", "VIP"},
                                     {"price", o.price * 2},
                                     {"color", "#c0392b"},
                                     {"rows", vip_rows},
                                     {"seatsPerRow", per_row}});
    }
    zones.push_back(json::object{{"name", "R"},
                                 {"price", o.price},
                                 {"color", "#8e44ad"},
                                 {"rows", rows - vip_rows},
                                 {"seatsPerRow", per_row}});
    const json::object layout{{"zones", std::move(zones)}};
    const std::string base = "/api/v1/schedules/" + std::to_string(f.schedule);
    r = co_await f.call("admin", "POST",
                        "/api/v1/admin/schedules/" + std::to_string(f.schedule) + "/seat-map",
                        json::serialize(layout), admin);
    if (r.status != 201) {
        throw std::runtime_error("create seat map: HTTP " + std::to_string(r.status) + " " + r.body);
    }
    r = co_await f.call("seat-map", "GET", base + "/seat-map", "", {});
    const auto map = parse_object(r.body);
    if (r.status != 200 || !map || !map->contains("seats")) throw std::runtime_error("read seat map");
    f.seat_ids.assign(o.seats, 0);
    for (const auto& seat : map->at("seats").as_array()) {
        const auto& s = seat.as_object();
        const auto index = int_field(s, "index");
        if (index >= 0 && static_cast<std::size_t>(index) < f.seat_ids.size()) {
            f.seat_ids[static_cast<std::size_t>(index)] = int_field(s, "id");
        }
    }
}

/// Before the sale: every fan logs in, at --login-rate (real fans log in ahead of time; 100,000 password
/// checks at the on-sale instant would measure password hashing, not the sale).
asio::awaitable<void> log_in(Fans& f, unsigned fan) {
    const auto& o = f.o;
    co_await sleep_for(
        std::chrono::microseconds(static_cast<std::int64_t>(1e6 * fan / std::max(1.0, o.login_rate))));
    const json::object credentials{{"email", "load-" + o.run_id + "-" + std::to_string(fan) + "@load.test"},
                                   {"password", kLoadUserPassword}};
    const Response r =
        co_await f.call("login", "POST", "/api/v1/auth/login", json::serialize(credentials), {});
    const auto doc = parse_object(r.body);
    if (r.status == 200 && doc) f.auth[fan] = "Bearer " + string_field(*doc, "accessToken");
}

/// An ACTIVE fan buys one seat: availability, hold (another seat on 409), top-up, points payment. False when
/// no seat was free or a step failed.
asio::awaitable<bool> buy(Fans& f, unsigned fan, const std::string& token) {
    const auto& o = f.o;
    const std::string base = "/api/v1/schedules/" + std::to_string(f.schedule);
    Headers headers{{"Authorization", f.auth[fan]}, {"X-Queue-Token", token}};
    std::mt19937_64 rng(fan * 104729ULL + 3);
    std::string reservation;
    std::int64_t total = 0;
    std::vector<std::size_t> view;
    for (int attempt = 0; attempt < 20 && Clock::now() < f.deadline; ++attempt) {
        if (view.empty() || attempt % 3 == 0) {
            const Response r = co_await f.call("availability", "GET", base + "/availability", "", {});
            const auto doc = parse_object(r.body);
            if (r.status != 200 || !doc) co_return false;
            view = free_seats(*doc, f.seat_ids.size());
            if (view.empty()) co_return false;
        }
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        const auto pick =
            std::min(view.size() - 1, static_cast<std::size_t>(u * u * u * static_cast<double>(view.size())));
        const std::size_t index = view[pick];
        view.erase(view.begin() + static_cast<std::ptrdiff_t>(pick));
        const json::object hold{{"scheduleId", f.schedule}, {"seatIds", json::array{f.seat_ids[index]}}};
        // One Idempotency-Key per hold attempt (ADR 0032), reused by call()'s retries after a 5xx or a
        // dropped connection: a hold that committed while its answer was lost is answered again, not held
        // twice.
        Headers hold_headers = headers;
        hold_headers.emplace_back("Idempotency-Key",
                                  o.run_id + "-hold-" + std::to_string(fan) + "-" + std::to_string(attempt));
        const Response r =
            co_await f.call("hold", "POST", "/api/v1/reservations", json::serialize(hold), hold_headers);
        if (r.status == 201) {
            if (const auto doc = parse_object(r.body)) {
                reservation = string_field(*doc, "id");
                total = int_field(*doc, "totalPrice");
            }
            break;
        }
        if (r.status != 409) co_return false;
        ++f.hold_conflicts;
    }
    if (reservation.empty() || total <= 0) co_return false;
    const json::object charge{{"amount", std::max<std::int64_t>(total, 1000)}};
    Headers charge_headers{{"Authorization", f.auth[fan]},
                           {"Idempotency-Key", o.run_id + "-charge-" + std::to_string(fan)}};
    // A 202 (still in progress) or a 409 (the same key still in flight after a retried 503) is asked again
    // with the same Idempotency-Key until it is final: abandoning it would leave the hold to block its seat.
    Response r;
    for (int again = 0; again < 30 && Clock::now() < f.deadline; ++again) {
        if (again > 0) {
            co_await sleep_for(std::chrono::seconds(1));
        }
        r = co_await f.call("wallet charge", "POST", "/api/v1/wallet/charges", json::serialize(charge),
                            charge_headers);
        if (r.status != 202 && r.status != 409) break;
    }
    if (r.status != 201) co_return false;
    const json::object payment{{"reservationId", reservation}, {"method", "POINTS"}};
    Headers pay_headers = headers;
    pay_headers.emplace_back("Idempotency-Key", o.run_id + "-pay-" + std::to_string(fan));
    for (int again = 0; again < 30 && Clock::now() < f.deadline; ++again) {
        if (again > 0) {
            co_await sleep_for(std::chrono::seconds(1));
        }
        r = co_await f.call("payment", "POST", "/api/v1/payments", json::serialize(payment), pay_headers);
        if (r.status != 202 && r.status != 409) break;
    }
    if (r.status != 201) co_return false;
    ++f.paid;
    f.notice.sold(Clock::now());
    co_return true;
}

/// ADR 0026: a join that pays the proof of work at the door when asked to (403 pow-required), as each fan's
/// browser does (web/api.js joinQueue).
asio::awaitable<Response> join_with_pow(Fans& f, std::string join, Headers headers) {
    Response r = co_await f.call("queue join", "POST", join, "", headers);
    if (r.status != 403 || r.body.find("/pow-required") == std::string::npos) co_return r;
    Response c = co_await f.call("queue challenge", "POST", join + "/challenge", "", headers);
    std::string body = c.status == 200 ? pow_join_body(c.body) : std::string();
    co_return co_await f.call("queue join", "POST", std::move(join), std::move(body), std::move(headers));
}

/// One fan at the sale: joins, polls GET /queue/me at the server's pollAfterMs until admitted (then buys) or
/// told the sale is over (`soldOut`, or a 410 sold-out on joining).
asio::awaitable<void> fan_at_sale(Fans& f, unsigned fan) {
    const auto& o = f.o;
    if (f.auth[fan].empty()) co_return;
    co_await sleep_for(o.arrival * fan / std::max(1u, o.users));
    const Headers headers{{"Authorization", f.auth[fan]}};
    const std::string join = "/api/v1/schedules/" + std::to_string(f.schedule) + "/queue";
    const std::string me = "/api/v1/queue/me?scheduleId=" + std::to_string(f.schedule);
    std::mt19937_64 rng(fan * 7919ULL + 1);
    Response r = co_await join_with_pow(f, join, headers);
    if (r.status == 200 || r.status == 201) f.joins.answered(r.sent, Clock::now());
    bool in_queue = false;
    for (int rounds = 0; Clock::now() < f.deadline; ++rounds) {
        const auto doc = parse_object(r.body);
        if (is_sold_out_answer(r)) {
            f.notice.heard(in_queue ? SoldOutHeard::Told : SoldOutHeard::AtJoin, Clock::now());
            co_return;
        }
        if ((r.status != 200 && r.status != 201) || !doc) break;
        if (!in_queue) {
            in_queue = true;
            ++f.joined;
        }
        if (bool_field(*doc, "soldOut")) {
            f.notice.heard(SoldOutHeard::Told, Clock::now());
            co_return;
        }
        const std::string state = string_field(*doc, "state");
        std::chrono::milliseconds wait{1000};
        if (state == "ACTIVE") {
            ++f.admitted;
            if (co_await buy(f, fan, string_field(*doc, "token"))) co_return;
            // No seat free (every one held) or a step failed: ask again in a second, as a fan would.
        } else if (state == "WAITING") {
            const std::int64_t hinted = int_field(*doc, "pollAfterMs");
            wait = std::chrono::milliseconds(hinted > 0 ? hinted : 1000);
        } else {
            // EXPIRED or USED without the sale being over: join again.
            ++f.expired_rejoins;
            r = co_await join_with_pow(f, join, headers);
            continue;
        }
        const auto jitter =
            std::chrono::milliseconds(rng() % static_cast<std::uint64_t>(wait.count() / 4 + 1));
        co_await sleep_for(wait - wait / 8 + jitter);
        r = co_await f.call("queue poll", "GET", me, "", headers);
    }
    f.notice.never_told();
}

}  // namespace

Result run_fans(const Options& o) {
    if (o.database_url.empty()) throw std::runtime_error("--database-url is needed for the fans scenario");
    asio::io_context ioc(1);
    Fans f(ioc, o, parse_source_addresses(o.source_addresses));
    f.deadline = Clock::now() + o.duration;
    Result result;
    unsigned crashed = 0;
    std::exception_ptr setup_error;
    asio::co_spawn(ioc, create_schedule(f), [&](const std::exception_ptr& e) { setup_error = e; });
    ioc.run();
    ioc.restart();
    if (setup_error) std::rethrow_exception(setup_error);
    psql(o, "INSERT INTO auth.users (email, password_hash, display_name) SELECT 'load-' || " +
                quote_sql(o.run_id) + " || '-' || i || '@load.test', " + quote_sql(kLoadUserHash) +
                ", 'Fan ' || i FROM generate_series(0, " + std::to_string(o.users) + " - 1) AS i");

    const auto login_start = Clock::now();
    f.auth.assign(o.users, std::string());
    spawn_all(
        ioc, o.users, [&](unsigned i) { return log_in(f, i); }, crashed, "a fan");
    ioc.run();
    ioc.restart();
    const auto logged_in = static_cast<unsigned>(
        std::count_if(f.auth.begin(), f.auth.end(), [](const auto& a) { return !a.empty(); }));
    const double login_seconds = std::chrono::duration<double>(Clock::now() - login_start).count();
    std::printf("fans: %u of %u logged in over %.1f s; the sale opens\n", logged_in, o.users, login_seconds);
    std::fflush(stdout);

    const auto sale_start = Clock::now();
    const std::int64_t sale_start_unix_ms = unix_ms();
    f.recorder = Recorder{};
    const std::uint64_t login_retries = f.retries;
    f.retries = 0;
    spawn_all(
        ioc, o.users, [&](unsigned i) { return fan_at_sale(f, i); }, crashed, "a fan");
    ioc.run();
    const auto end = Clock::now();
    result.seconds = std::chrono::duration<double>(end - sale_start).count();

    const std::string sold_sql =
        "SELECT count(*) || '|' || count(DISTINCT seat_id) FROM booking.reservation_seats "
        "WHERE schedule_id = " +
        std::to_string(f.schedule) + " AND state = 'SOLD'";
    const std::string sold = psql(o, sold_sql);
    const std::string expected = std::to_string(o.seats) + "|" + std::to_string(o.seats);

    json::object outcome;
    outcome["schedule"] = f.schedule;
    outcome["fans"] = o.users;
    outcome["seats"] = o.seats;
    outcome["connections"] = o.connections;
    outcome["pool_connects"] = f.pool.connects();
    outcome["pool_waits"] = f.pool.waits();
    outcome["pool_most_waiting"] = f.pool.most_waiting();
    outcome["logged_in"] = logged_in;
    outcome["login_seconds"] = login_seconds;
    outcome["login_retries_after_503_429"] = login_retries;
    outcome["joined"] = f.joined;
    outcome["admitted_polls"] = f.admitted;
    outcome["paid"] = f.paid;
    outcome["hold_conflicts_409"] = f.hold_conflicts;
    // Told latency: from the last seat sold (the last payment's 201) to each waiting fan's answer.
    f.notice.report(outcome, f.recorder);
    outcome["rejoins_after_expiry"] = f.expired_rejoins;
    outcome["sale_start_unix_ms"] = sale_start_unix_ms;
    const auto last_sale = f.notice.last_sale();
    outcome["sell_out_seconds"] =
        last_sale ? std::chrono::duration<double>(*last_sale - sale_start).count() : 0.0;
    outcome["transport_errors"] = f.transport_errors;
    outcome["retries_after_503_429"] = f.retries;
    outcome["sold_in_db"] = sold;
    outcome["every_seat_sold_once"] = sold == expected && f.paid == o.seats;
    outcome["crashed_fans"] = crashed;
    outcome["join_burst"] = f.joins.to_json();
    if (f.turns) {
        outcome["sends_per_turn"] = f.turns->per_turn();
        outcome["sends_that_waited_a_turn"] = f.turns->waits();
        outcome["most_sends_waiting"] = f.turns->most_waiting();
    }
    result.outcome = std::move(outcome);
    result.recorder = f.recorder;
    result.invariants = json::object{
        {"sold_count_distinct", sold}, {"expected", expected}, {"ok", sold == expected && f.paid == o.seats}};
    result.progress = f.paid > 0;
    result.ok =
        result.progress && sold == expected && f.paid == o.seats && crashed == 0 && f.notice.never() == 0;
    std::printf("%s\n", f.notice.summary(f.recorder).c_str());
    return result;
}

}  // namespace marquee::load
