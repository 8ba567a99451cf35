#include "marquee_process.hpp"

#include <fstream>
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
    for (const char* name : {"MARQUEE_JWT_PRIVATE_KEY_FILE", "MARQUEE_JWT_KEY_ID", "MARQUEE_JWT_PUBLIC_KEYS"})
        env[name] = local_setting(name);
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
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& log_path) {
    std::vector<std::string> argv_strings{MARQUEE_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = env;
    std::vector<char*> envp;
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

}  // namespace

std::uint16_t free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

MarqueeProcess::MarqueeProcess(std::vector<std::string> args, std::map<std::string, std::string> overrides)
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
    return reply;
}

std::map<std::string, std::string> new_fan(std::uint16_t port, std::string_view prefix) {
    const std::map<std::string, std::string> json_headers{{"Content-Type", "application/json"}};
    const std::string email = unique_name(prefix) + "@example.com";
    const std::string password = "Tickets-2026";
    boost::json::object signup{{"email", email}, {"password", password}, {"displayName", "E2E Fan"}};
    const auto created =
        http_request(port, "POST", "/api/v1/auth/signup", boost::json::serialize(signup), json_headers);
    EXPECT_EQ(created.status, 201u) << created.body;
    boost::json::object login{{"email", email}, {"password", password}};
    const auto reply =
        http_request(port, "POST", "/api/v1/auth/login", boost::json::serialize(login), json_headers);
    EXPECT_EQ(reply.status, 200u) << reply.body;
    boost::system::error_code ec;
    const auto doc = boost::json::parse(reply.body, ec);
    if (ec || !doc.is_object() || !doc.as_object().contains("accessToken")) return {};
    return {{"Authorization", "Bearer " + std::string(doc.as_object().at("accessToken").as_string())}};
}

}  // namespace marquee::test
