// marquee-load: the flash-sale load generator (issue 6). See `marquee-load --help` and docs/performance.md.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.hpp"
#include "load/nats_publish.hpp"
#include "load/pow.hpp"
#include "load/scenario.hpp"

namespace {

using namespace marquee::load;

constexpr const char* kUsage = R"(usage: marquee-load --scenario=NAME --target=http://127.0.0.1:PORT [options]

Plays a scenario against a running Marquee on this machine (loopback targets only), prints a table per endpoint
(requests, requests/s, p50/p95/p99/max latency, statuses) and writes it as JSON.

scenarios
  browse       availability + seat map of a schedule of its own, with If-None-Match (200 vs 304)
  hot-seats    --users clients all want the same --hot-seats seats: 201 vs 409, exactly one winner per seat;
               every client logs in and is ACTIVE in the queue before the first attempt
  flash-sale   --users users log in, join the queue, wait for ACTIVE, read the seat map and availability,
               race for the front seats (another seat on 409), top up the wallet and pay with points
  events       --users users hold distinct seats as fast as answers come while a watcher polls availability
               every 10 ms: seat events per second and their lag from the hold's 201 to the bitset
               (booking outbox -> NATS JetStream -> catalog consumer -> Redis)
  nats-publish JetStream publish-and-ack rate of small messages (--nats-url, --messages, --max-pending)
  fans         --users fans (100,000 and more) for --seats seats over --connections shared keep-alive
               connections: fans log in before the sale (--login-rate/s), join the queue, poll it, the admitted
               buy one seat each; reports every seat sold once (PostgreSQL) and how long after the last seat
               sold each waiting fan was told it is sold out (ADR 0018)

options
  --users=N            virtual users, one keep-alive connection each (default 100)
  --duration=S         bound of the measured phase in seconds (flash-sale: of the whole run; default 10)
  --requests=N         at most N measured requests (browse, hot-seats; default no limit)
  --rate=R             browse, hot-seats: a fixed total rate of R requests/s spread over the --users, request i
                       due at start + i/R and its latency measured from that due time (corrected for coordinated
                       omission: when no user is free at a due time, the wait counts); default: closed loop, each
                       user sends as soon as its last answer came
  --mix=a,b,...        browse: request kinds in turn: availability, availability-304, seat-map-304, seat-map,
                       healthz (default availability,availability-304,seat-map-304)
  --seats=N            seats of the schedule the run creates (default 10000)
  --hot-seats=N        hot-seats: how many seats everyone wants (default 10)
  --timeout-ms=MS      deadline of each request (default 30000)
  --ramp-ms=MS         users start spread over this time (default 1000); flash-sale: their logins, before the sale
  --arrival-ms=MS      flash-sale: the users' arrivals at the sale (queue joins) spread over this time (default 0:
                       all at once, the moment every login is done)
  --database-url=URL   PostgreSQL of the server: users are made in bulk there and the invariants read back
  --check-invariants=PATH  scripts/check-invariants (default: the one of the source tree)
  --admin-email=E --admin-password=P   the admin who creates the schedule (default: the demo admin)
  --run-id=ID          names this run's users and concert (default: from the time and pid)
  --connections=N      fans: keep-alive connections every fan shares, as behind a load balancer (default 1000)
  --source-addresses=A,B  fans: loopback addresses to connect from (127.0.0.1,127.0.0.2,...), round-robin,
                       for more ephemeral ports (default: the kernel's choice)
  --login-rate=R       fans: logins per second before the sale (default 2000)
  --sends-per-turn=N   at most N requests start between two polls of the sockets (default 32), so a burst's
                       answers are read while the rest of it is sent and each request's latency is its own
                       (ADR 0043); 0: no turns, every woken user sends before any answer is read
  --schedule-id=N      flash-sale: play the sale of this existing schedule (made by --setup-only) instead of
                       creating one; with several processes against several marquee replicas, each with its
                       own --run-id (its own users), the sale is one: the invariant check of the seats is left
                       to whoever merges the reports, and each report lists when each fan was told
                       (told_unix_ms) and when this process saw its last sale (last_sale_unix_ms)
  --sale-at-unix-ms=T  flash-sale: the sale opens at wall-clock time T (ms since the epoch) for every fan logged
                       in by then (later ones join as their login ends), not when this process's logins end
  --setup-only         create the schedule (--seats) as the admin, print `schedule N` and stop
  --json=PATH          write the results as JSON
Exit status: 0 when the scenario made progress and every invariant held, 1 otherwise, 2 on bad usage.
)";

std::string value_of(const std::string& arg) {
    return arg.substr(arg.find('=') + 1);
}

bool starts(const std::string& arg, const char* name) {
    return arg.rfind(name, 0) == 0;
}

std::uint64_t number(const std::string& arg) {
    const std::string v = value_of(arg);
    std::size_t used = 0;
    const auto n = std::stoull(v, &used);
    if (used != v.size()) throw std::invalid_argument("not a whole number: " + arg);
    return n;
}

void raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    std::string target = "http://127.0.0.1:8080";
    std::string json_path;
    NatsPublishOptions nats;
    o.invariants_script = std::string(MARQUEE_SOURCE_DIR) + "/scripts/check-invariants";
    o.run_id = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()) +
               "-" + std::to_string(getpid());
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if (arg == "--help" || arg == "-h") {
                std::cout << kUsage;
                return 0;
            } else if (starts(arg, "--scenario=")) {
                o.scenario = value_of(arg);
            } else if (starts(arg, "--target=")) {
                target = value_of(arg);
            } else if (starts(arg, "--users=")) {
                o.users = static_cast<unsigned>(number(arg));
            } else if (starts(arg, "--duration=")) {
                o.duration = std::chrono::milliseconds(static_cast<long>(std::stod(value_of(arg)) * 1000));
            } else if (starts(arg, "--requests=")) {
                o.requests = number(arg);
            } else if (starts(arg, "--rate=")) {
                o.rate = std::stod(value_of(arg));
            } else if (starts(arg, "--mix=")) {
                o.mix.clear();
                std::string list = value_of(arg);
                for (std::size_t start = 0; start <= list.size();) {
                    const auto comma = std::min(list.find(',', start), list.size());
                    o.mix.push_back(list.substr(start, comma - start));
                    start = comma + 1;
                }
            } else if (starts(arg, "--seats=")) {
                o.seats = static_cast<unsigned>(number(arg));
            } else if (starts(arg, "--hot-seats=")) {
                o.hot_seats = static_cast<unsigned>(number(arg));
            } else if (starts(arg, "--timeout-ms=")) {
                o.timeout = std::chrono::milliseconds(number(arg));
            } else if (starts(arg, "--ramp-ms=")) {
                o.ramp = std::chrono::milliseconds(number(arg));
            } else if (starts(arg, "--arrival-ms=")) {
                o.arrival = std::chrono::milliseconds(number(arg));
            } else if (starts(arg, "--database-url=")) {
                o.database_url = value_of(arg);
            } else if (starts(arg, "--check-invariants=")) {
                o.invariants_script = value_of(arg);
            } else if (starts(arg, "--admin-email=")) {
                o.admin_email = value_of(arg);
            } else if (starts(arg, "--admin-password=")) {
                o.admin_password = value_of(arg);
            } else if (starts(arg, "--run-id=")) {
                o.run_id = value_of(arg);
            } else if (starts(arg, "--json=")) {
                json_path = value_of(arg);
            } else if (starts(arg, "--connections=")) {
                o.connections = static_cast<unsigned>(number(arg));
            } else if (starts(arg, "--source-addresses=")) {
                o.source_addresses = value_of(arg);
            } else if (starts(arg, "--sends-per-turn=")) {
                o.sends_per_turn = static_cast<unsigned>(number(arg));
            } else if (starts(arg, "--schedule-id=")) {
                o.schedule_id = static_cast<std::int64_t>(number(arg));
            } else if (starts(arg, "--sale-at-unix-ms=")) {
                o.sale_at_unix_ms = static_cast<std::int64_t>(number(arg));
            } else if (arg == "--setup-only") {
                o.setup_only = true;
            } else if (starts(arg, "--login-rate=")) {
                o.login_rate = std::stod(value_of(arg));
            } else if (starts(arg, "--nats-url=")) {
                nats.url = value_of(arg);
            } else if (starts(arg, "--messages=")) {
                nats.messages = number(arg);
            } else if (starts(arg, "--max-pending=")) {
                nats.max_pending = static_cast<int>(number(arg));
            } else {
                throw std::invalid_argument("unknown argument '" + arg + "' (see --help)");
            }
        }
        if (o.scenario.empty()) throw std::invalid_argument("--scenario is required (see --help)");
        if (o.users == 0) throw std::invalid_argument("--users must be at least 1");
        if (o.seats == 0) throw std::invalid_argument("--seats must be at least 1");
        if (!(o.rate >= 0)) throw std::invalid_argument("--rate must be a number of requests/s above 0");
        if (o.scenario != "nats-publish") o.target = parse_target(target);
    } catch (const std::exception& e) {
        std::cerr << "marquee-load: " << e.what() << "\n";
        return 2;
    }
    raise_fd_limit();

    boost::json::object report;
    report["scenario"] = o.scenario;
    report["started_at"] = marquee::core::to_rfc3339(std::chrono::system_clock::now());
    bool ok = false;
    try {
        if (o.scenario == "nats-publish") {
            const auto r = nats_publish(nats);
            report["outcome"] = r;
            ok = r.at("acked").as_uint64() > 0 && r.at("errors").as_uint64() == 0;
            std::cout << boost::json::serialize(r) << "\n";
        } else {
            const Result r = run_scenario(o);
            std::cout << "scenario " << o.scenario << ": " << o.users << " users, " << r.seconds
                      << " s measured\n"
                      << r.recorder.table(r.seconds) << "outcome " << boost::json::serialize(r.outcome)
                      << "\n";
            if (!r.invariants.empty()) {
                std::cout << "invariants " << boost::json::serialize(r.invariants) << "\n";
            }
            report["target"] = target;
            report["users"] = o.users;
            report["seconds"] = r.seconds;
            report["endpoints"] = r.recorder.to_json(r.seconds);
            report["outcome"] = r.outcome;
            report["invariants"] = r.invariants;
            report["progress"] = r.progress;
            // ADR 0026: what the proof of work at the queue's door cost this load generator.
            if (const auto pow = pow_report(); !pow.empty()) {
                report["pow"] = pow;
                std::cout << "pow " << boost::json::serialize(pow) << "\n";
            }
            ok = r.ok;
        }
    } catch (const std::exception& e) {
        std::cerr << "marquee-load: " << e.what() << "\n";
        report["error"] = e.what();
    }
    report["ok"] = ok;
    // The load generator's own CPU (user + system, this process only): it shares the machine with what it
    // measures, so a report says what it took.
    if (rusage usage{}; getrusage(RUSAGE_SELF, &usage) == 0) {
        const auto secs = [](const timeval& t) {
            return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
        };
        report["cpu_seconds"] = secs(usage.ru_utime) + secs(usage.ru_stime);
    }
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        out << boost::json::serialize(report) << "\n";
        if (!out) {
            std::cerr << "marquee-load: cannot write " << json_path << "\n";
            return 1;
        }
    }
    std::cout << (ok ? "OK" : "FAILED") << "\n";
    return ok ? 0 : 1;
}
