#include "db/detail/connection.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.hpp"
#include "core/problem.hpp"
#include "db/cancels.hpp"
#include "db/detail/parked.hpp"
#include "db/server_error.hpp"
#include "db/sql_error.hpp"

namespace marquee::db::detail {

namespace {

// db/cancels.hpp: the cancel threads of every connection of the process.
std::atomic<std::size_t> g_cancels_in_flight{0};
std::atomic<std::uint64_t> g_cancels_sent{0};
std::atomic<std::uint64_t> g_cancels_skipped{0};
std::atomic<std::uint64_t> g_cancels_failed{0};

namespace asio = boost::asio;
using WaitType = asio::posix::stream_descriptor::wait_type;

std::string first_line(std::string_view text) {
    const auto end = text.find('\n');
    std::string line(text.substr(0, end));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    return line;
}

// The Problem's detail reaches clients, so it says what failed, never where (hosts, ports, URLs) or the
// server's wording; that goes to the log as `reason`.
[[noreturn]] void unavailable(std::string detail, std::string_view reason = {}) {
    if (!reason.empty()) core::log_warn("postgres unavailable", {{"detail", detail}, {"reason", reason}});
    throw core::Problem::unavailable("postgres", std::move(detail));
}

void log_notice(void* /*arg*/, const char* message) {
    core::log_debug("postgres notice", {{"notice", first_line(message)}});
}

// Waits until the socket is ready, or completes at once when it already is.
// Asio's epoll reactor is edge-triggered and never performs a wait speculatively, so readiness that
// arrived after libpq last read but before this wait was registered would raise no new edge and the
// wait would sleep until the deadline. Polling the socket after registering closes that window;
// cancelling makes the registered wait complete immediately (operation_aborted means "look again").
template <class Token>
auto async_wait_ready(asio::posix::stream_descriptor& socket, WaitType type, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [](auto handler, asio::posix::stream_descriptor* socket, WaitType type) {
            socket->async_wait(type, std::move(handler));
            pollfd fd{socket->native_handle(),
                      static_cast<short>(type == WaitType::wait_write ? POLLOUT : POLLIN), 0};
            if (::poll(&fd, 1, 0) > 0) {
                boost::system::error_code ignored;
                socket->cancel(ignored);
            }
        },
        token, &socket, type);
}

// DNS without blocking an I/O thread: Asio resolves on its own thread. A resolver cannot cancel a
// getaddrinfo in flight, so the deadline races the lookup instead of waiting for it to give up.
struct ResolveRace {
    ResolveRace(const asio::any_io_executor& executor, Connection::Clock::time_point deadline)
        : resolver(executor), timer(executor, deadline) {}
    asio::ip::tcp::resolver resolver;
    asio::steady_timer timer;
    std::atomic<bool> finished{false};
    bool timed_out = false;
    boost::system::error_code error;
    asio::ip::tcp::resolver::results_type endpoints;
    Parked handler;
};

std::vector<std::string> split_list(std::string_view list) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const auto comma = list.find(',', start);
        parts.emplace_back(list.substr(start, comma == std::string_view::npos ? comma : comma - start));
        if (comma == std::string_view::npos) return parts;
        start = comma + 1;
    }
}

std::string join_list(const std::vector<std::string>& parts, std::size_t from) {
    std::string joined;
    for (std::size_t i = from; i < parts.size(); ++i) {
        if (i > from) joined += ',';
        joined += parts[i];
    }
    return joined;
}

// The addresses of one host name, looked up off the I/O threads within the deadline.
asio::awaitable<std::vector<std::string>> lookup(asio::any_io_executor executor, std::string host,
                                                 std::string port, Connection::Clock::time_point deadline) {
    auto race = std::make_shared<ResolveRace>(executor, deadline);
    // A named initiation, not a temporary in the co_await expression (GCC 12 destroys those twice).
    auto start = [race, host, service = port.empty() ? std::string("5432") : port](auto handler) {
        race->handler = Parked(std::move(handler), race->timer.get_executor());
        auto finish = [race]() { race->handler.resume(); };
        // The timer's wait is registered before the lookup starts, so the lookup's completion (which
        // cancels the timer) always comes after it: no concurrent use of the timer object.
        race->timer.async_wait([race, finish](boost::system::error_code) {
            if (race->finished.exchange(true)) return;
            race->timed_out = true;
            finish();
        });
        race->resolver.async_resolve(
            host, service,
            [race, finish](boost::system::error_code error, asio::ip::tcp::resolver::results_type endpoints) {
                if (race->finished.exchange(true)) return;
                race->error = error;
                race->endpoints = std::move(endpoints);
                race->timer.cancel();
                finish();
            });
    };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(std::move(start),
                                                                         asio::use_awaitable);
    if (race->timed_out) unavailable("resolving the database host did not finish before the deadline", host);
    if (race->error) unavailable("cannot resolve the database host", host + ": " + race->error.message());

    std::vector<std::string> addresses;
    for (const auto& entry : race->endpoints) {
        std::string address = entry.endpoint().address().to_string();
        if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
            addresses.push_back(std::move(address));
        }
    }
    if (addresses.empty()) unavailable("cannot resolve the database host", host + " has no addresses");
    co_return addresses;
}

bool is_numeric_address(const std::string& host) {
    boost::system::error_code error;
    asio::ip::make_address(host, error);
    return !error;
}

// libpq would resolve host names itself, with a blocking getaddrinfo on the I/O thread: resolve them here and
// hand libpq host[i]/hostaddr[i]/port[i] lists it tries in order, as it would have after its own lookup
// (`host` stays the name, for TLS verification and .pgpass). A multi-host list (failover, ADR 0021) gets each
// name resolved in turn; a name that does not resolve is left out while another host remains.
asio::awaitable<void> resolve_host(asio::any_io_executor executor,
                                   std::vector<std::pair<std::string, std::string>>& keywords,
                                   Connection::Clock::time_point deadline) {
    auto find = [&keywords](std::string_view key) -> std::string* {
        for (auto& [k, v] : keywords) {
            if (k == key) return &v;
        }
        return nullptr;
    };
    const std::string* host_value = find("host");
    const std::string* port_value = find("port");
    // Left to libpq: no host, an explicit hostaddr, Unix sockets, a port list that does not match.
    if (host_value == nullptr || host_value->empty() || find("hostaddr") != nullptr) co_return;
    const std::vector<std::string> hosts = split_list(*host_value);
    const std::vector<std::string> ports =
        port_value != nullptr ? split_list(*port_value) : std::vector<std::string>{};
    if (ports.size() > 1 && ports.size() != hosts.size()) co_return;
    bool any_name = false;
    for (const std::string& host : hosts) {
        if (host.empty() || host.front() == '/' || host.front() == '@') co_return;
        any_name = any_name || !is_numeric_address(host);
    }
    if (!any_name) co_return;  // numeric addresses need no lookup

    std::vector<std::string> out_hosts, out_addresses, out_ports;
    std::exception_ptr last_failure;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        const std::string port = ports.empty() ? std::string() : ports.size() == 1 ? ports[0] : ports[i];
        std::vector<std::string> addresses;
        if (is_numeric_address(hosts[i])) {
            addresses.push_back(hosts[i]);
        } else {
            try {
                addresses = co_await lookup(executor, hosts[i], port, deadline);
            } catch (const core::Problem&) {
                last_failure = std::current_exception();  // the next host may still answer
            }
        }
        for (std::string& address : addresses) {
            out_hosts.push_back(hosts[i]);
            out_addresses.push_back(std::move(address));
            out_ports.push_back(port);
        }
    }
    if (out_hosts.empty()) {
        if (last_failure) std::rethrow_exception(last_failure);
        unavailable("cannot resolve the database host");
    }
    *find("host") = join_list(out_hosts, 0);
    if (!ports.empty()) *find("port") = join_list(out_ports, 0);
    keywords.emplace_back("hostaddr", join_list(out_addresses, 0));
}

// COMMIT or END (what Transaction::commit sends), any case, blanks and a semicolon around it.
bool is_commit(std::string_view sql) {
    while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n' || sql.front() == '\t')) {
        sql.remove_prefix(1);
    }
    while (!sql.empty() &&
           (sql.back() == ' ' || sql.back() == '\n' || sql.back() == ';' || sql.back() == '\t')) {
        sql.remove_suffix(1);
    }
    const auto equals = [sql](std::string_view word) {
        if (sql.size() != word.size()) return false;
        for (std::size_t i = 0; i < word.size(); ++i) {
            if (std::toupper(static_cast<unsigned char>(sql[i])) != word[i]) return false;
        }
        return true;
    };
    return equals("COMMIT") || equals("END");
}

}  // namespace

std::optional<std::chrono::seconds> per_host_timeout(const Keywords& keywords) {
    for (const auto& [key, value] : keywords) {
        if (key != "connect_timeout") continue;
        int seconds = 0;
        const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (error != std::errc{} || end != value.data() + value.size() || seconds <= 0) return std::nullopt;
        return std::chrono::seconds(std::max(seconds, 2));  // libpq's own floor: 1 s would fail too eagerly
    }
    return std::nullopt;
}

std::optional<Keywords> hosts_after(Keywords keywords, std::string_view host, std::string_view port,
                                    std::string_view address) {
    std::string* hosts = nullptr;
    std::string* ports = nullptr;
    std::string* addresses = nullptr;
    for (auto& [key, value] : keywords) {
        if (key == "host") hosts = &value;
        if (key == "port") ports = &value;
        if (key == "hostaddr") addresses = &value;
    }
    const std::vector<std::string> host_list =
        hosts != nullptr ? split_list(*hosts) : std::vector<std::string>{};
    const std::vector<std::string> address_list =
        addresses != nullptr ? split_list(*addresses) : std::vector<std::string>{};
    const std::vector<std::string> port_list =
        ports != nullptr ? split_list(*ports) : std::vector<std::string>{};
    const std::size_t count = std::max(host_list.size(), address_list.size());
    for (std::size_t i = 0; i < count; ++i) {
        const bool host_matches =
            host_list.size() != count || host_list[i] == host ||
            (host_list[i].empty() && address_list.size() == count && address_list[i] == host);
        const bool address_matches =
            address_list.size() != count || address.empty() || address_list[i] == address;
        const bool port_matches = port_list.size() != count || port_list[i] == port;
        if (!host_matches || !address_matches || !port_matches) continue;
        if (i + 1 >= count) return std::nullopt;  // it was the last one
        if (host_list.size() == count) *hosts = join_list(host_list, i + 1);
        if (address_list.size() == count) *addresses = join_list(address_list, i + 1);
        if (port_list.size() == count) *ports = join_list(port_list, i + 1);
        return keywords;
    }
    return std::nullopt;
}

ConnectSettings make_connect_settings(const std::string& url, const std::string& application_name,
                                      std::chrono::milliseconds statement_timeout) {
    ConnectSettings settings;
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
    if (options == nullptr) {
        settings.error = error != nullptr ? first_line(error) : "out of memory";
        PQfreemem(error);
        return settings;
    }
    // First, so that a statement_timeout in the URL's own options wins.
    std::string server_options = statement_timeout.count() > 0
                                     ? "-c statement_timeout=" + std::to_string(statement_timeout.count())
                                     : "";
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
        if (option->val == nullptr) continue;
        const std::string_view keyword = option->keyword;
        if (keyword == "options") {
            server_options += server_options.empty() ? "" : " ";
            server_options += option->val;
        } else if (keyword == "client_encoding" ||
                   (keyword == "application_name" && !application_name.empty())) {
            continue;
        } else {
            settings.keywords.emplace_back(keyword, option->val);
        }
    }
    PQconninfoFree(options);
    if (!application_name.empty()) settings.keywords.emplace_back("application_name", application_name);
    settings.keywords.emplace_back("client_encoding", "UTF8");
    // Result parses timestamps in exactly this format; the server's own defaults could differ.
    server_options += server_options.empty() ? "" : " ";
    server_options += "-c TimeZone=UTC -c DateStyle=ISO";
    settings.keywords.emplace_back("options", server_options);
    return settings;
}

asio::awaitable<std::unique_ptr<Connection>> Connection::open(asio::any_io_executor executor,
                                                              ConnectSettings settings,
                                                              Clock::time_point deadline) {
    if (!settings.error.empty()) unavailable("the database URL is invalid", settings.error);
    co_await resolve_host(executor, settings.keywords, deadline);

    const std::optional<std::chrono::seconds> host_timeout = per_host_timeout(settings.keywords);
    Clock::time_point host_deadline = deadline;
    for (;;) {  // one pass of libpq over the hosts still to try
        std::vector<const char*> keys;
        std::vector<const char*> values;
        for (const auto& [key, value] : settings.keywords) {
            keys.push_back(key.c_str());
            values.push_back(value.c_str());
        }
        keys.push_back(nullptr);
        values.push_back(nullptr);
        pg_conn* raw = PQconnectStartParams(keys.data(), values.data(), 0);
        if (raw == nullptr) unavailable("cannot allocate a connection");
        std::unique_ptr<Connection> connection(new Connection(executor, raw));
        PQsetNoticeProcessor(raw, &log_notice, nullptr);
        if (PQstatus(raw) == CONNECTION_BAD) connection->fail("cannot connect to the database");

        // libpq walks a multi-host list inside PQconnectPoll (a refused host, or one that is read-only under
        // target_session_attrs=read-write, moves it to the next), but only its blocking connect enforces
        // connect_timeout per host. Here a host that does not answer within connect_timeout is skipped by
        // starting again with the hosts after it; without that, a primary that vanished without a RST would
        // hold every connect until the deadline and the new primary, further down the list, would never
        // be reached.
        // libpq: "if you have yet to call PQconnectPoll, behave as if it last returned
        // PGRES_POLLING_WRITING".
        PostgresPollingStatusType status = PGRES_POLLING_WRITING;
        bool skip_host = false;
        while (status != PGRES_POLLING_OK) {
            if (status == PGRES_POLLING_FAILED) connection->fail("cannot connect to the database");
            if (status == PGRES_POLLING_READING || status == PGRES_POLLING_WRITING) {
                // The socket changes while libpq tries the next address or host.
                if (connection->track_socket() && host_timeout) {
                    host_deadline = std::min(deadline, Clock::now() + *host_timeout);
                }
                if (co_await connection->wait(status == PGRES_POLLING_WRITING, host_deadline) ==
                    Wait::DeadlineExceeded) {
                    if (Clock::now() >= deadline) {
                        unavailable("connecting to the database did not finish before the deadline");
                    }
                    skip_host = true;
                    break;
                }
            }
            status = PQconnectPoll(raw);
        }
        if (skip_host) {
            const char* host = PQhost(raw);
            const char* port = PQport(raw);
            const char* address = PQhostaddr(raw);
            const std::string where =
                std::string(host != nullptr ? host : "") + ":" + (port != nullptr ? port : "");
            auto rest = hosts_after(settings.keywords, host != nullptr ? host : "",
                                    port != nullptr ? port : "", address != nullptr ? address : "");
            if (!rest) {
                unavailable("connecting to the database did not finish before the deadline",
                            where + " did not answer within connect_timeout and no host is left");
            }
            core::log_warn("postgres host did not answer within connect_timeout, trying the next",
                           {{"host", where}});
            settings.keywords = std::move(*rest);
            continue;
        }
        if (PQsetnonblocking(raw, 1) != 0) connection->fail("cannot make the connection non-blocking");
        connection->track_socket();
        co_return connection;
    }
}

Connection::Connection(asio::any_io_executor executor, pg_conn* conn)
    : executor_(std::move(executor)), strand_(asio::make_strand(executor_)), conn_(conn), socket_(strand_) {}

Connection::~Connection() {
    if (PQtransactionStatus(conn_) == PQTRANS_ACTIVE) cancel_in_background();
    PQfinish(conn_);
}

asio::awaitable<Result> Connection::query(const std::string& sql, const Params& params,
                                          std::chrono::milliseconds timeout) {
    std::vector<const char*> values(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        values[i] = params.is_null(i) ? nullptr : params.text(i).data();  // backed by std::string: NUL-ended
    }
    const Clock::time_point deadline = Clock::now() + timeout;
    for (int attempt = 0;; ++attempt) {
        const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
        // ADR 0054: the statement is parsed, analysed and planned once per connection, then only bound and
        // run.
        const std::string* name = co_await prepared(sql, static_cast<int>(values.size()), deadline);
        may_be_committing_ = idle || is_commit(sql);
        if (name == nullptr) {
            if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                  nullptr, nullptr, 0) == 0) {
                fail("cannot send the statement");
            }
            co_return co_await finish(remaining(deadline));
        }
        if (PQsendQueryPrepared(conn_, name->c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                nullptr, 0) == 0) {
            fail("cannot send the statement");
        }
        try {
            co_return co_await finish(remaining(deadline));
        } catch (const SqlError& e) {
            // The schema changed under the statement so that its result columns differ ("cached plan must
            // not change result type"): it failed at Bind, before it ran. It is forgotten; outside a
            // transaction block it is sent once more, parsed anew (inside one, the error has aborted the
            // transaction: the caller decides, as for any error).
            if (!e.is(kCachedPlanChanged) || e.message().find("cached plan") == std::string::npos) {
                throw;
            }
            prepared_.erase(sql);
            if (!idle || attempt > 0) throw;
        }
    }
}

asio::awaitable<const std::string*> Connection::prepared(const std::string& sql, int parameters,
                                                         Clock::time_point deadline) {
    if (const auto found = prepared_.find(sql); found != prepared_.end()) co_return &found->second;
    // A full cache (statements built with values in their text) and a failed transaction (which refuses a
    // Parse as it refuses the statement) take the unnamed statement, as before.
    if (prepared_.size() >= kMaxPrepared || PQtransactionStatus(conn_) == PQTRANS_INERROR) co_return nullptr;
    std::string name = "mq" + std::to_string(++statements_named_);
    may_be_committing_ = false;  // a Parse commits nothing
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), parameters, nullptr) == 0) {
        fail("cannot send the statement");
    }
    co_await finish(remaining(deadline));  // an SQL error (a bad statement) is thrown here, and not kept
    co_return &prepared_.emplace(sql, std::move(name)).first->second;
}

std::chrono::milliseconds Connection::remaining(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(left, std::chrono::milliseconds(1));
}

asio::awaitable<Result> Connection::execute(const std::string& script, std::chrono::milliseconds timeout) {
    may_be_committing_ = PQtransactionStatus(conn_) == PQTRANS_IDLE || is_commit(script);
    if (PQsendQuery(conn_, script.c_str()) == 0) fail("cannot send the statements");
    co_return co_await finish(timeout);
}

asio::awaitable<Result> Connection::finish(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    auto on_deadline = [&]() {
        broken_ = true;  // never reuse this connection
        if (may_be_committing_) {
            // It may be waiting for the synchronous standby to confirm its commit. A cancel would end that
            // wait and commit on this node alone, visible to the next reader; closing leaves the server
            // waiting (its own statement_timeout stops a statement that merely runs long). The outcome is
            // unknown to the caller either way: it is settled by idempotency keys (docs/decisions/0021).
            cancel_sent_ = true;
            unavailable("the statement took longer than " + std::to_string(timeout.count()) +
                        " ms; its outcome is unknown");
        }
        // Inside a transaction and not its COMMIT: ask the server to stop the statement.
        unavailable(past_deadline_detail(timeout, cancel_in_background()));
    };
    for (;;) {
        const int flushed = PQflush(conn_);
        if (flushed == 0) break;
        if (flushed < 0) fail("sending the statement failed");
        if (co_await wait(true, deadline) == Wait::DeadlineExceeded) on_deadline();
    }
    ResultPtr last;
    ResultPtr error;
    for (;;) {
        while (PQisBusy(conn_) == 1) {
            if (co_await wait(false, deadline) == Wait::DeadlineExceeded) on_deadline();
            if (PQconsumeInput(conn_) == 0) fail("reading the result failed");
        }
        ResultPtr result(PQgetResult(conn_));
        if (!result) break;
        switch (PQresultStatus(result.get())) {
            case PGRES_FATAL_ERROR:
                if (!error) error = std::move(result);
                break;
            case PGRES_BAD_RESPONSE:
                fail("the server's response could not be understood");
            case PGRES_COPY_IN:
            case PGRES_COPY_OUT:
            case PGRES_COPY_BOTH:
                broken_ = true;
                throw ResultError("COPY is not supported through db::Pool");
            default:
                last = std::move(result);
                break;
        }
    }
    if (error) throw_error(error);
    // clang 14's analyzer evaluates a co_return's operand twice (the operand and the return_value call built
    // from it), so it reports this one move as a second one (ADR 0041, false positives).
    co_return Result(std::move(last));  // NOLINT(clang-analyzer-cplusplus.Move)
}

asio::awaitable<Connection::Wait> Connection::wait(bool for_write, Clock::time_point deadline) {
    // The caller may run on any executor, and an io_context runs on several threads. Started from the
    // caller, a parallel_group whose two waits both complete at once on other threads (a deadline already
    // passed and a socket already ready: an overloaded machine) resumes the caller there, which may destroy
    // the timer or the whole Connection while parallel_group_launch, still running here, emits its
    // cancellations into them: a use-after-free that writes into freed memory (Boost 1.81; upstream
    // chriskohlhoff/asio#1348, #1630). On the strand the launch and both completions take turns.
    asio::awaitable<Wait> race = wait_on_strand(for_write, deadline);
    co_return co_await asio::co_spawn(strand_, std::move(race), asio::use_awaitable);
}

asio::awaitable<Connection::Wait> Connection::wait_on_strand(bool for_write, Clock::time_point deadline) {
    namespace experimental = asio::experimental;
    asio::steady_timer timer(strand_, deadline);
    auto [order, socket_error, timer_error] =
        co_await experimental::make_parallel_group(
            async_wait_ready(socket_, for_write ? WaitType::wait_write : WaitType::wait_read, asio::deferred),
            timer.async_wait(asio::deferred))
            .async_wait(experimental::wait_for_one(), asio::use_awaitable);
    if (order[0] == 1 && !timer_error) co_return Wait::DeadlineExceeded;
    if (order[0] == 0 && socket_error && socket_error != asio::error::operation_aborted) {
        fail("waiting on the socket failed: " + socket_error.message());
    }
    co_return Wait::Ready;
}

bool Connection::track_socket() {
    const int fd = PQsocket(conn_);
    struct stat info {};
    if (fd < 0 || ::fstat(fd, &info) != 0) fail("the connection has no socket");
    if (socket_.is_open() && info.st_ino == socket_inode_) return false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) fail("cannot duplicate the socket");
    boost::system::error_code error;
    socket_.assign(copy, error);
    if (error) {
        ::close(copy);
        fail("cannot watch the socket: " + error.message());
    }
    socket_inode_ = info.st_ino;
    return true;
}

bool Connection::is_reusable() const noexcept {
    return !broken_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

bool Connection::in_transaction() const noexcept {
    const PGTransactionStatusType status = PQtransactionStatus(conn_);
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

bool Connection::transaction_failed() const noexcept {
    return PQtransactionStatus(conn_) == PQTRANS_INERROR;
}

bool Connection::is_alive() noexcept {
    if (!is_reusable()) return false;
    pollfd fd{socket_.native_handle(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, 0);
    if (ready == 0) return true;
    // Input on an idle connection is a notice, or the server's goodbye (restart, idle_session_timeout,
    // pg_terminate_backend) followed by EOF, which PQconsumeInput turns into CONNECTION_BAD.
    if (ready < 0 || PQconsumeInput(conn_) == 0) return false;
    return is_reusable();
}

void Connection::fail(std::string what) {
    broken_ = true;
    unavailable(std::move(what), first_line(PQerrorMessage(conn_)));
}

void Connection::throw_error(const ResultPtr& error) {
    const auto field = [&error](int code) {
        const char* value = PQresultErrorField(error.get(), code);
        return value != nullptr ? std::string(value) : std::string();
    };
    std::string state = field(PG_DIAG_SQLSTATE);
    std::string message = field(PG_DIAG_MESSAGE_PRIMARY);
    if (message.empty()) message = first_line(PQresultErrorMessage(error.get()));
    if (PQstatus(conn_) == CONNECTION_BAD) {
        broken_ = true;
        unavailable("the database connection failed", message);
    }
    // The server, not the statement, is the problem (db/server_error.hpp): a lost connection or a node that
    // can no longer take writes (08, 57P01-57P03, 25006) is dropped, so the next connect walks the host list
    // to the current primary; overload or a cancel (53, 57014) keeps it.
    switch (classify_sqlstate(state)) {
        case ServerFault::ConnectionLost:
            broken_ = true;
            unavailable("the database is unavailable (SQLSTATE " + state + ")", message);
        case ServerFault::Busy:
            unavailable("the database is unavailable (SQLSTATE " + state + ")", message);
        case ServerFault::None:
            break;
    }
    throw SqlError(std::move(state), std::move(message), field(PG_DIAG_CONSTRAINT_NAME),
                   field(PG_DIAG_MESSAGE_DETAIL), field(PG_DIAG_TABLE_NAME));
}

CancelStart Connection::cancel_in_background() noexcept {
    if (cancel_sent_) return CancelStart::AlreadySent;
    cancel_sent_ = true;
    // PQcancel opens a new connection and blocks until the server closes it, with no timeout: never on an
    // I/O thread, and at most kMaxCancelsInFlight threads at once (db/cancels.hpp). PostgreSQL 15's libpq has
    // no non-blocking cancel (PQcancelStart arrived in 17).
    std::size_t in_flight = g_cancels_in_flight.load(std::memory_order_relaxed);
    do {
        if (in_flight >= kMaxCancelsInFlight) {
            g_cancels_skipped.fetch_add(1, std::memory_order_relaxed);
            return CancelStart::TooManyInFlight;
        }
    } while (!g_cancels_in_flight.compare_exchange_weak(in_flight, in_flight + 1, std::memory_order_relaxed));
    PGcancel* cancel = PQgetCancel(conn_);
    if (cancel == nullptr) {
        g_cancels_in_flight.fetch_sub(1, std::memory_order_relaxed);
        g_cancels_failed.fetch_add(1, std::memory_order_relaxed);
        return CancelStart::NoCancelHandle;
    }
    try {
        std::thread([cancel]() {
            std::array<char, 256> error{};
            PQcancel(cancel, error.data(), static_cast<int>(error.size()));
            PQfreeCancel(cancel);
            g_cancels_in_flight.fetch_sub(1, std::memory_order_relaxed);
        }).detach();
        g_cancels_sent.fetch_add(1, std::memory_order_relaxed);
        return CancelStart::Sent;
    } catch (...) {
        PQfreeCancel(cancel);
        g_cancels_in_flight.fetch_sub(1, std::memory_order_relaxed);
        g_cancels_failed.fetch_add(1, std::memory_order_relaxed);
        return CancelStart::NoThread;
    }
}

std::string past_deadline_detail(std::chrono::milliseconds timeout, CancelStart start) {
    std::string late = "the statement took longer than " + std::to_string(timeout.count()) + " ms";
    const std::string left = ", so the server's statement_timeout stops it";
    switch (start) {
        case CancelStart::Sent:
            return late + " and was cancelled";
        case CancelStart::AlreadySent:
            return late + "; a cancel was already sent on its connection";
        case CancelStart::TooManyInFlight:
            return late + "; too many cancels are in flight" + left;
        case CancelStart::NoCancelHandle:
            return late + "; libpq could not make a cancel request for its connection" + left;
        case CancelStart::NoThread:
            return late + "; no thread could be started to cancel it" + left;
    }
    return late;
}

}  // namespace marquee::db::detail

namespace marquee::db {

CancelStats cancel_stats() noexcept {
    CancelStats stats;
    stats.in_flight = detail::g_cancels_in_flight.load(std::memory_order_relaxed);
    stats.sent = detail::g_cancels_sent.load(std::memory_order_relaxed);
    stats.skipped = detail::g_cancels_skipped.load(std::memory_order_relaxed);
    stats.failed = detail::g_cancels_failed.load(std::memory_order_relaxed);
    return stats;
}

}  // namespace marquee::db
