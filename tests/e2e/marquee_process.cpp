#include "marquee_process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coroutines.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "local_services.hpp"

extern char** environ;

namespace marquee::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

std::vector<std::string> child_environment(std::uint16_t port,
                                           const std::map<std::string, std::string>& overrides) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    env["MARQUEE_DATABASE_URL"] = database_url();
    env["MARQUEE_REDIS_URL"] = redis_url();
    env["MARQUEE_NATS_URL"] = nats_url();
    // The local Ed25519 key pair that scripts/dev writes under .local/keys: auth signs, everyone verifies.
    for (const char* name :
         {"MARQUEE_JWT_PRIVATE_KEY_FILE", "MARQUEE_JWT_KEY_ID", "MARQUEE_JWT_PUBLIC_KEYS"}) {
        env[name] = local_setting(name);
    }
    env["MARQUEE_HTTP_PORT"] = std::to_string(port);
    env["MARQUEE_HTTP_HOST"] = "127.0.0.1";
    env["MARQUEE_MIGRATIONS_DIR"] = std::string(MARQUEE_SOURCE_DIR) + "/migrations";
    env["MARQUEE_OPENAPI_PATH"] = std::string(MARQUEE_SOURCE_DIR) + "/api/openapi.yaml";
    env["MARQUEE_THREADS"] = "2";
    // pg-sim, started by the scripts beside the data services: the payment gateway of wallet and payment.
    env["MARQUEE_PAYMENT_GATEWAY_URL"] = local_setting("MARQUEE_PAYMENT_GATEWAY_URL");
    // Every e2e test logs in from 127.0.0.1: the per-address login limit would make parallel suites
    // rate-limit each other. Tests of that limit override it.
    env["MARQUEE_LOGIN_ATTEMPTS_PER_IP"] = "1000000";
    for (const auto& [k, v] : overrides) env[k] = v;
    // A process on a private database (PrivateDatabase) would share the local Redis with the processes on the
    // shared database: its waiting-room scheduler scans every schedule with fans in Redis, finds theirs
    // unknown in its own database, and opens their pre-queues at once (the browser test's fan was admitted
    // before the opening). Such a process gets Redis database 1; the shared database keeps database 0.
    if (env["MARQUEE_DATABASE_URL"] != database_url() && !overrides.contains("MARQUEE_REDIS_URL")) {
        std::string url = redis_url();
        const auto host = url.find("://");
        const auto path = url.find('/', host == std::string::npos ? 0 : host + 3);
        env["MARQUEE_REDIS_URL"] = (path == std::string::npos ? url : url.substr(0, path)) + "/1";
    }
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [k, v] : env) out.push_back(std::string(k).append("=").append(v));
    return out;
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& log_path) {
    std::vector<std::string> argv_strings{MARQUEE_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_strings.size() + 1);
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = env;
    std::vector<char*> envp;
    envp.reserve(env_strings.size() + 1);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, MARQUEE_BINARY, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(MARQUEE_BINARY));
    return pid;
}

/// Waits for `pid` up to `bound`; returns its exit status, or nullopt if it is still running.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (true) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string read_all(const std::string& path) {
    std::ifstream file(path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

std::string temp_log_path() {
    return "/tmp/" + unique_name("marquee_e2e") + ".log";
}

/// The spec check's recorder (ADR 0024): with MARQUEE_E2E_RECORD_DIR set (ctest sets it for label e2e), every
/// exchange of http_request is appended as one JSON line to a file of this test process in that folder;
/// tests/spec/validate.mjs checks them against api/openapi.yaml after the suites. Off (one getenv) otherwise.
class ExchangeRecorder {
  public:
    static ExchangeRecorder& instance() {
        static ExchangeRecorder recorder;
        return recorder;
    }

    void record(const std::string& method, const std::string& target, const HttpReply& reply) {
        if (fd_ < 0) return;
        boost::json::object line{
            {"test", current_test()}, {"method", method}, {"target", target}, {"status", reply.status}};
        boost::json::object headers;
        for (const auto& [k, v] : reply.headers) headers[k] = v;
        line["headers"] = std::move(headers);
        const auto type = reply.headers.find("content-type");
        const bool json = type != reply.headers.end() && type->second.find("json") != std::string::npos;
        // JSON bodies are what the schemas describe; of anything else (the metrics text, the document itself,
        // web files, event streams) only the length is kept.
        if (json) {
            line["body"] = reply.body;
        } else {
            line["bodyLength"] = reply.body.size();
        }
        auto text = boost::json::serialize(line);
        text += '\n';
        // One write of one line on an O_APPEND descriptor: lines of threads of this process never interleave.
        const std::lock_guard lock(mutex_);
        if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
            ADD_FAILURE() << "cannot record the exchange " << method << " " << target;
        }
    }

  private:
    ExchangeRecorder() {
        const char* dir = std::getenv("MARQUEE_E2E_RECORD_DIR");
        if (dir == nullptr || *dir == '\0') return;
        // One file per test process (ctest runs each discovered test in a process of its own): the program's
        // name and pid, so parallel tests never share a file.
        path_ = std::string(dir) + "/" + program_invocation_short_name + "-" + std::to_string(::getpid()) +
                ".jsonl";
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) ADD_FAILURE() << "cannot open the record file " << path_ << ": " << std::strerror(errno);
    }

    static std::string current_test() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        if (info == nullptr) return "(outside a test)";
        return std::string(info->test_suite_name()) + "." + info->name();
    }

    int fd_ = -1;
    std::string path_;
    std::mutex mutex_;
};

}  // namespace

std::uint16_t free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

MarqueeProcess::MarqueeProcess(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& overrides)
    : port_(free_port()), log_path_(temp_log_path()) {
    pid_ = spawn(args, child_environment(port_, overrides), log_path_);
    // Wait until it answers /healthz (bounded): readiness of the process, not a timing assertion.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (wait_for_exit(pid_, std::chrono::milliseconds(0))) {
            pid_ = -1;
            throw std::runtime_error("marquee exited during start-up:\n" + output());
        }
        try {
            if (http_request(port_, "GET", "/healthz").status == 200) return;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    terminate();
    throw std::runtime_error("marquee did not answer /healthz within 30 s:\n" + output());
}

MarqueeProcess::~MarqueeProcess() {
    if (pid_ > 0) terminate();
    ::unlink(log_path_.c_str());
}

int MarqueeProcess::terminate(std::chrono::milliseconds bound) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    auto status = wait_for_exit(pid_, bound);
    if (!status) {
        ::kill(pid_, SIGKILL);
        (void)wait_for_exit(pid_, std::chrono::seconds(5));
        status = -1;
    }
    pid_ = -1;
    return *status;
}

std::string MarqueeProcess::output() const {
    return read_all(log_path_);
}

std::pair<int, std::string> run_marquee(const std::vector<std::string>& args,
                                        std::chrono::milliseconds bound) {
    const auto log = temp_log_path();
    const pid_t pid = spawn(args, child_environment(free_port(), {}), log);
    auto status = wait_for_exit(pid, bound);
    if (!status) {
        ::kill(pid, SIGKILL);
        (void)wait_for_exit(pid, std::chrono::seconds(5));
        status = -1;
    }
    auto out = read_all(log);
    ::unlink(log.c_str());
    return {*status, out};
}

HttpReply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
    // Blocking reads ignore tcp_stream's expiry: bound them with SO_RCVTIMEO so a hung server fails the test.
    const timeval timeout{10, 0};
    ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::connection, "close");
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT") {
        request.body() = body;
        request.prepare_payload();
    }
    bhttp::write(stream.socket(), request);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(stream.socket(), buffer, response);
    HttpReply reply;
    reply.status = response.result_int();
    reply.body = response.body();
    for (const auto& field : response) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        reply.headers[name] = std::string(field.value());
    }
    record_exchange(method, target, reply);
    return reply;
}

void record_exchange(const std::string& method, const std::string& target, const HttpReply& reply) {
    ExchangeRecorder::instance().record(method, target, reply);
}

boost::json::object HttpReply::json() const {
    boost::system::error_code ec;
    auto doc = boost::json::parse(body, ec);
    if (ec || !doc.is_object()) {
        ADD_FAILURE() << "not a JSON object (" << status << "): " << body;
        return {};
    }
    return std::move(doc.as_object());
}

namespace {

constexpr std::string_view kPassword = "Tickets-2026";

/// Signs up `email` on `port`; fails the test unless 201.
void sign_up(std::uint16_t port, const std::string& email, std::string_view display_name) {
    boost::json::object signup{{"email", email}, {"password", kPassword}, {"displayName", display_name}};
    const auto created = http_request(port, "POST", "/api/v1/auth/signup", boost::json::serialize(signup),
                                      {{"Content-Type", "application/json"}});
    EXPECT_EQ(created.status, 201u) << created.body;
}

/// Logs `email` in on `port`: the `Authorization: Bearer <access token>` header (empty if the login failed,
/// which fails the test).
std::map<std::string, std::string> log_in(std::uint16_t port, const std::string& email) {
    boost::json::object login{{"email", email}, {"password", kPassword}};
    const auto reply = http_request(port, "POST", "/api/v1/auth/login", boost::json::serialize(login),
                                    {{"Content-Type", "application/json"}});
    EXPECT_EQ(reply.status, 200u) << reply.body;
    boost::system::error_code ec;
    const auto doc = boost::json::parse(reply.body, ec);
    if (ec || !doc.is_object() || !doc.as_object().contains("accessToken")) return {};
    return {{"Authorization", "Bearer " + std::string(doc.as_object().at("accessToken").as_string())}};
}

}  // namespace

std::map<std::string, std::string> new_fan(std::uint16_t port, std::string_view prefix) {
    const std::string email = unique_name(prefix) + "@example.com";
    sign_up(port, email, "E2E Fan");
    return log_in(port, email);
}

std::map<std::string, std::string> new_admin(std::uint16_t port, std::string_view prefix) {
    const std::string email = unique_name(prefix) + "@example.com";
    sign_up(port, email, "Admin");
    sql("UPDATE auth.users SET role = 'admin' WHERE email = $1", db::params(email));
    auto headers = log_in(port, email);  // again, so that the access token carries the role
    if (!headers.empty()) headers["Content-Type"] = "application/json";
    return headers;
}

std::string problem_type(const HttpReply& reply) {
    constexpr std::string_view kProblems = "https://marquee.dev/problems/";
    const auto type = reply.headers.find("content-type");
    if (type == reply.headers.end() || type->second.find("application/problem+json") == std::string::npos) {
        ADD_FAILURE() << "not problem+json (" << reply.status << "): " << reply.body;
        return {};
    }
    const auto doc = reply.json();
    if (!doc.contains("type")) return {};
    const std::string full(doc.at("type").as_string());
    return full.rfind(kProblems, 0) == 0 ? full.substr(kProblems.size()) : full;
}

std::string user_id_of(std::uint16_t port, const std::map<std::string, std::string>& fan) {
    const auto me = http_request(port, "GET", "/api/v1/auth/me", {}, fan);
    EXPECT_EQ(me.status, 200u) << me.body;
    const auto doc = me.json();
    return doc.contains("id") ? std::string(doc.at("id").as_string()) : std::string();
}

db::Result sql(const std::string& statement, db::Params params, const std::string& database) {
    asio::io_context io;
    db::Pool pool(io.get_executor(), db::PoolOptions{database.empty() ? database_url() : database, 1,
                                                     std::chrono::seconds(10), "e2e-test"});
    return run_here(io, pool.query(statement, std::move(params)));
}

PrivateDatabase::PrivateDatabase(std::vector<std::string> services) : name_(unique_name("marquee_test")) {
    const std::string base = database_url();
    const auto slash = base.rfind('/');
    const auto query = base.find('?', slash);
    url_ = base.substr(0, slash + 1) + name_ + (query == std::string::npos ? "" : base.substr(query));
    sql("CREATE DATABASE " + name_);
    if (services.empty()) return;
    {
        asio::io_context io;
        db::Pool pool(io.get_executor(), db::PoolOptions{url_, 1, std::chrono::seconds(10), "e2e-test"});
        run_here(io, db::migrate(pool, std::string(MARQUEE_SOURCE_DIR) + "/migrations", services));
    }
    if (std::find(services.begin(), services.end(), "catalog") != services.end()) {
        std::random_device random;
        const auto start =
            std::to_string(std::int64_t{7'000'000'000} + std::int64_t{random() % 1'000'000u} * 1000);
        sql("ALTER TABLE catalog.schedules ALTER COLUMN id RESTART WITH " + start, {}, url_);
        sql("ALTER TABLE catalog.seats ALTER COLUMN id RESTART WITH " + start, {}, url_);
    }
}

PrivateDatabase::~PrivateDatabase() {
    try {
        sql("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
        ADD_FAILURE() << "cannot drop the test database " << name_ << ": " << e.what();
    }
}

Seats make_seats(int count, std::int64_t price) {
    return make_schedules(1, count, price).front();
}

std::vector<Seats> make_schedules(int schedules, int seats, std::int64_t price, const std::string& database) {
    const auto r = sql(
        "WITH c AS (INSERT INTO catalog.concerts (title, artist, venue) VALUES ($1, 'A', 'V') RETURNING id), "
        "s AS (INSERT INTO catalog.schedules (concert_id, starts_at, booking_opens_at, booking_closes_at, "
        "seat_count) SELECT id, now() + interval '30 days', now() - interval '1 day', "
        "now() + interval '29 days', $2 FROM c, generate_series(1, $4) RETURNING id), "
        "z AS (INSERT INTO catalog.zones (schedule_id, name, price, color) "
        "SELECT id, 'R', $3, '#0000aa' FROM s RETURNING id, schedule_id) "
        "INSERT INTO catalog.seats (schedule_id, zone_id, seat_index, row_label, number, x, y) "
        "SELECT z.schedule_id, z.id, g, 'A', g + 1, g, 0 FROM z, generate_series(0, $2 - 1) g "
        "RETURNING schedule_id, id, seat_index",
        db::params(unique_name("e2e concert"), seats, price, schedules), database);
    std::map<std::int64_t, Seats> by_schedule;
    for (int i = 0; i < r.rows(); ++i) {
        auto& out = by_schedule[r.get<std::int64_t>(i, "schedule_id")];
        out.schedule = r.get<std::int64_t>(i, "schedule_id");
        out.ids.resize(static_cast<std::size_t>(seats));
        out.ids[static_cast<std::size_t>(r.get<std::int64_t>(i, "seat_index"))] =
            r.get<std::int64_t>(i, "id");
    }
    std::vector<Seats> out;
    out.reserve(by_schedule.size());
    for (auto& [id, s] : by_schedule) out.push_back(std::move(s));
    return out;
}

std::map<std::string, std::string> admitted(std::uint16_t port, std::map<std::string, std::string> fan,
                                            std::int64_t schedule) {
    const auto id = std::to_string(schedule);
    const auto joined = http_request(port, "POST", "/api/v1/schedules/" + id + "/queue", {}, fan);
    EXPECT_TRUE(joined.status == 201u || joined.status == 200u) << joined.body;
    const auto token = joined.json();
    // The stream ends by itself once the token is ACTIVE: no polling, no sleeping.
    const auto events = http_request(port, "GET", "/api/v1/queue/me/events?scheduleId=" + id, {}, fan);
    EXPECT_NE(events.body.find("event: admitted"), std::string::npos) << events.body;
    if (token.contains("token")) fan["X-Queue-Token"] = std::string(token.at("token").as_string());
    return fan;
}

std::string hold_body(std::int64_t schedule, const std::vector<std::int64_t>& seats) {
    boost::json::array ids;
    for (auto s : seats) ids.push_back(s);
    return boost::json::serialize(boost::json::object{{"scheduleId", schedule}, {"seatIds", ids}});
}

HttpReply post_hold(std::uint16_t port, const std::string& body, std::map<std::string, std::string> headers) {
    headers["Content-Type"] = "application/json";
    return http_request(port, "POST", "/api/v1/reservations", body, headers);
}

AdmittedFan admitted_fan(std::uint16_t port, int seats, std::int64_t price, const std::string& database,
                         std::string_view prefix) {
    AdmittedFan out;
    out.seats = make_schedules(1, seats, price, database).front();
    const auto fan = new_fan(port, prefix);
    out.user_id = user_id_of(port, fan);
    out.headers = admitted(port, fan, out.seats.schedule);
    return out;
}

std::string hold_seats(std::uint16_t port, const AdmittedFan& fan, const std::vector<std::size_t>& indexes) {
    std::vector<std::int64_t> ids;
    ids.reserve(indexes.size());
    for (auto i : indexes) ids.push_back(fan.seats.ids.at(i));
    const auto held = post_hold(port, hold_body(fan.seats.schedule, ids), fan.headers);
    EXPECT_EQ(held.status, 201u) << held.body;
    const auto doc = held.json();
    return doc.contains("id") ? std::string(doc.at("id").as_string()) : std::string();
}

HttpReply top_up(std::uint16_t port, std::map<std::string, std::string> fan, std::int64_t amount) {
    fan["Content-Type"] = "application/json";
    fan["Idempotency-Key"] = unique_name("top-up");
    return http_request(port, "POST", "/api/v1/wallet/charges",
                        boost::json::serialize(boost::json::object{{"amount", amount}}), fan);
}

InvariantCheck check_invariants(const std::vector<std::string>& users, int window_s,
                                const std::string& database) {
    // Arguments are a URL from the local settings and UUIDs the server made: nothing here needs quoting
    // beyond the single quotes around the URL.
    std::string command = std::string(MARQUEE_SOURCE_DIR) + "/scripts/check-invariants --database-url '" +
                          (database.empty() ? database_url() : database) + "' --window " +
                          std::to_string(window_s);
    for (const auto& user : users) command += " --user " + user;
    command += " 2>&1";
    InvariantCheck result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        result.output = "cannot run " + command;
        return result;
    }
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace marquee::test
