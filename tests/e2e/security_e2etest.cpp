// End to end: abuse and security checks through the real binary, with the OWASP API Security Top 10 as the
// checklist (issue 7): object-level authorization, broken authentication (forged, tampered and misdated
// JWTs, refresh-token races, login lock-out), mass assignment, hostile input (amounts, long strings, bad
// UTF-8, duplicate keys, deep nesting, 20 MB bodies, slowloris) and secrets in responses or logs. What
// auth_e2etest, booking_e2etest, wallet_e2etest and payment_e2etest already check is not repeated here.
// Every abuse ends with the server still answering /healthz; every answer to an abuse is a 4xx
// application/problem+json (a 5xx, a hang or a crash fails the test). Results: docs/reliability.md.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jwt/base64url.hpp"
#include "jwt/token.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"
#include "private_stack.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Headers = std::map<std::string, std::string>;

constexpr std::int64_t kPrice = 90'000;
constexpr std::string_view kProblems = "https://marquee.dev/problems/";
/// The fixture's read timeout: a request must arrive whole within it (slowloris gets 408).
constexpr int kReadTimeoutMs = 2000;
/// Failed logins allowed per account before it is locked for the window.
constexpr int kLoginAttempts = 3;

/// An abuse must be refused as a client error: 4xx, application/problem+json whose `status` is the HTTP
/// status. Returns the problem's type slug ("" when the reply is not such a problem).
std::string expect_refused(const HttpReply& reply, const std::string& what) {
    EXPECT_GE(reply.status, 400u) << what << " -> " << reply.status << " " << reply.body;
    EXPECT_LT(reply.status, 500u) << what << " -> " << reply.status << " " << reply.body;
    const auto type = reply.headers.find("content-type");
    const bool problem =
        type != reply.headers.end() && type->second.find("application/problem+json") != std::string::npos;
    EXPECT_TRUE(problem) << what << " -> not problem+json: " << reply.body;
    if (!problem) return {};
    boost::system::error_code ec;
    const auto doc = json::parse(reply.body, ec);
    if (ec || !doc.is_object() || !doc.as_object().contains("type")) {
        ADD_FAILURE() << what << " -> problem without a type: " << reply.body;
        return {};
    }
    EXPECT_EQ(doc.as_object().at("status"), json::value(reply.status)) << what;
    const std::string full(doc.as_object().at("type").as_string());
    return full.rfind(kProblems, 0) == 0 ? full.substr(kProblems.size()) : full;
}

/// 401 with the bearer challenge of RFC 6750 naming an invalid token.
void expect_invalid_token(const HttpReply& reply, const std::string& what) {
    EXPECT_EQ(reply.status, 401u) << what << " -> " << reply.body;
    EXPECT_EQ(expect_refused(reply, what), "unauthorized") << what;
    const auto challenge = reply.headers.find("www-authenticate");
    ASSERT_NE(challenge, reply.headers.end()) << what;
    EXPECT_EQ(challenge->second, R"(Bearer realm="marquee", error="invalid_token")") << what;
}

/// Another user's object must answer exactly as an id that never existed: same status, same headers
/// (apart from the per-request ones) and the same problem apart from `instance`, the path asked for.
void expect_indistinguishable(const HttpReply& theirs, const HttpReply& unknown, const std::string& what) {
    EXPECT_EQ(theirs.status, 404u) << what << ": " << theirs.body;
    EXPECT_EQ(theirs.status, unknown.status) << what;
    auto without_instance = [](const HttpReply& reply) {
        boost::system::error_code ec;
        auto doc = json::parse(reply.body, ec);
        if (ec || !doc.is_object()) return json::object{{"unparsed", reply.body}};
        doc.as_object().erase("instance");
        return doc.as_object();
    };
    EXPECT_EQ(without_instance(theirs), without_instance(unknown)) << what;
    auto stable_headers = [](Headers h) {
        for (const char* name : {"x-request-id", "traceparent", "date", "content-length"}) h.erase(name);
        return h;
    };
    EXPECT_EQ(stable_headers(theirs.headers), stable_headers(unknown.headers)) << what;
}

std::string random_uuid() {
    return sql("SELECT gen_random_uuid()::text").get<std::string>(0, 0);
}

std::string text_of_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

/// A token with exactly this header and payload JSON, signed with the local signing key (.local/keys):
/// what the server would accept but for what the test changes.
std::string signed_token(const json::object& header, const json::object& payload) {
    const auto key = jwt::PrivateKey::from_pem(text_of_file(local_setting("MARQUEE_JWT_PRIVATE_KEY_FILE")));
    return jwt::sign_compact(key, json::serialize(header), json::serialize(payload));
}

/// The claims Marquee's own tokens carry, for `subject`, valid now for 15 minutes.
json::object claims_for(const std::string& subject) {
    const auto now = jwt::numeric_date(std::chrono::system_clock::now());
    return json::object{{"iss", jwt::kIssuer},
                        {"aud", jwt::kAudience},
                        {"sub", subject},
                        {"roles", json::array{"fan"}},
                        {"iat", now},
                        {"nbf", now},
                        {"exp", now + std::int64_t{15} * 60},
                        {"jti", "security-e2e"}};
}

json::object eddsa_header(std::string kid = "k1") {
    return json::object{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", std::move(kid)}};
}

/// The payload part of a JWS compact token, decoded.
json::object payload_of(const std::string& token) {
    const auto first = token.find('.');
    const auto second = token.find('.', first + 1);
    const auto bytes = jwt::base64url_decode(token.substr(first + 1, second - first - 1));
    return bytes ? json::parse(*bytes).as_object() : json::object{};
}

/// RFC 7519 HS256 over `header.payload` with `secret`: the "algorithm confusion" forgery that uses the
/// server's public key as an HMAC secret.
std::string hs256_token(const json::object& header, const json::object& payload, const std::string& secret) {
    const std::string input = jwt::base64url_encode(json::serialize(header)) + "." +
                              jwt::base64url_encode(json::serialize(payload));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
    return input + "." + jwt::base64url_encode(std::string(reinterpret_cast<const char*>(mac), length));
}

/// A TCP connection to the server for what http_request cannot send: malformed heads, huge bodies and
/// requests that arrive slowly. Sends never raise SIGPIPE; every read is bounded.
class RawConnection {
  public:
    explicit RawConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const timeval timeout{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port << ": " << std::strerror(errno);
        }
    }
    ~RawConnection() { ::close(fd_); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    /// Whether the server took all of `bytes` (false once it closed or reset the connection).
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Reads whatever arrives within `wait`; true once the server has closed (or reset) the connection.
    bool poll(std::chrono::milliseconds wait) {
        if (closed_) return true;
        pollfd p{fd_, POLLIN, 0};
        while (::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
            char buffer[8192];
            const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            received_.append(buffer, static_cast<std::size_t>(n));
            wait = 0ms;  // drain what is there, then return
        }
        return closed_;
    }

    /// Reads until the server closes the connection or `bound` passes; false when it never closed.
    bool read_until_closed(std::chrono::seconds bound) {
        const auto deadline = std::chrono::steady_clock::now() + bound;
        while (!poll(100ms)) {
            if (std::chrono::steady_clock::now() > deadline) return false;
        }
        return true;
    }

    const std::string& received() const { return received_; }

    /// What arrived, as a reply (status 0 when nothing or no HTTP head arrived).
    HttpReply reply() const {
        HttpReply out;
        const auto head_end = received_.find("\r\n\r\n");
        if (received_.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return out;
        out.status = static_cast<unsigned>(std::stoi(received_.substr(9, 3)));
        std::size_t line = received_.find("\r\n") + 2;
        while (line < head_end) {
            const auto end = received_.find("\r\n", line);
            const auto colon = received_.find(':', line);
            if (colon != std::string::npos && colon < end) {
                std::string name = received_.substr(line, colon - line);
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                auto value = received_.substr(colon + 1, end - colon - 1);
                while (!value.empty() && value.front() == ' ') value.erase(0, 1);
                out.headers[name] = value;
            }
            line = end + 2;
        }
        out.body = received_.substr(head_end + 4);
        return out;
    }

  private:
    int fd_;
    std::string received_;
    bool closed_ = false;
};

class SecurityEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        stack_ = std::make_unique<PrivateStack>(
            PrivateStack::Options{"--service=auth,queue,catalog,booking,wallet,payment",
                                  {{"MARQUEE_READ_TIMEOUT_MS", std::to_string(kReadTimeoutMs)},
                                   {"MARQUEE_LOGIN_ATTEMPTS_PER_ACCOUNT", std::to_string(kLoginAttempts)},
                                   // Everything the process can say goes to the log the secrets test reads.
                                   {"MARQUEE_LOG_LEVEL", "debug"}}});
    }
    static void TearDownTestSuite() { stack_.reset(); }

    static std::uint16_t port() { return stack_->port(); }
    static pg_sim::Gateway& gateway() { return stack_->gateway(); }
    static db::Result query(const std::string& statement, db::Params params = {}) {
        return stack_->query(statement, std::move(params));
    }

    /// The server is still up and answering after an abuse.
    static void expect_up(const std::string& after) {
        HttpReply health;
        try {
            health = http_request(port(), "GET", "/healthz");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "/healthz unreachable after " << after << ": " << e.what() << "\n"
                          << stack_->process().output();
            return;
        }
        EXPECT_EQ(health.status, 200u) << "after " << after << ": " << health.body;
    }

    static HttpReply post_json(const std::string& target, const std::string& body, Headers headers = {}) {
        headers["Content-Type"] = "application/json";
        return http_request(port(), "POST", target, body, headers);
    }
    static HttpReply charge(Headers fan, const std::string& body) {
        fan["Idempotency-Key"] = unique_name("sec-charge");
        return post_json("/api/v1/wallet/charges", body, std::move(fan));
    }
    static HttpReply pay(Headers buyer, const std::string& body) {
        buyer["Idempotency-Key"] = unique_name("sec-pay");
        return post_json("/api/v1/payments", body, std::move(buyer));
    }

    static AdmittedFan buyer() { return admitted_fan(port(), 2, kPrice, stack_->database_url(), "sec-fan"); }
    static std::string hold(const AdmittedFan& b, std::size_t seat) { return hold_seats(port(), b, {seat}); }
    static std::int64_t balance_of(const std::string& user) {
        const auto r = query("SELECT balance FROM wallet.wallets WHERE user_id = $1::uuid", db::params(user));
        return r.empty() ? 0 : r.get<std::int64_t>(0, 0);
    }
    static std::int64_t count(const std::string& statement, db::Params params) {
        return query("SELECT count(*)::bigint FROM " + statement, std::move(params)).get<std::int64_t>(0, 0);
    }
    static void expect_invariants(const std::vector<std::string>& users) {
        const auto check = check_invariants(users, 120, stack_->database_url());
        EXPECT_EQ(check.status, 0) << check.output;
    }

    static inline std::unique_ptr<PrivateStack> stack_;
};

// ---- API1 broken object-level authorization ------------------------------------------------------------

TEST_F(SecurityEndToEnd, AnotherUsersObjectsAnswerExactlyLikeIdsThatNeverExisted) {
    const auto owner = buyer();
    const auto reservation = hold(owner, 0);
    const auto charged = top_up(port(), owner.headers, 100'000);
    ASSERT_EQ(charged.status, 201u) << charged.body;
    const std::string charge_id(charged.json().at("id").as_string());

    const auto other = new_fan(port(), "sec-other");
    const auto unknown = random_uuid();
    const auto get = [&](const std::string& path) { return http_request(port(), "GET", path, {}, other); };

    expect_indistinguishable(get("/api/v1/reservations/" + reservation),
                             get("/api/v1/reservations/" + unknown), "GET another user's reservation");
    expect_indistinguishable(http_request(port(), "DELETE", "/api/v1/reservations/" + reservation, {}, other),
                             http_request(port(), "DELETE", "/api/v1/reservations/" + unknown, {}, other),
                             "DELETE another user's reservation");
    expect_indistinguishable(get("/api/v1/wallet/charges/" + charge_id),
                             get("/api/v1/wallet/charges/" + unknown), "GET another user's wallet charge");
    // Ids that are not UUIDs at all (and one shaped as SQL) answer the same 404 as well.
    for (const std::string odd : {"not-a-uuid", "1%27%20OR%20%271%27%3D%271", "00000000"}) {
        expect_indistinguishable(get("/api/v1/reservations/" + odd), get("/api/v1/reservations/" + unknown),
                                 "GET reservation " + odd);
        expect_indistinguishable(get("/api/v1/wallet/charges/" + odd),
                                 get("/api/v1/wallet/charges/" + unknown), "GET charge " + odd);
    }

    // The other fan's DELETE changed nothing; their own lists and wallet do not show the owner's objects.
    EXPECT_EQ(query("SELECT state FROM booking.reservations WHERE id = $1::uuid", db::params(reservation))
                  .get<std::string>(0, 0),
              "HELD");
    EXPECT_EQ(get("/api/v1/reservations").json().at("items").as_array().size(), 0u);
    const auto wallet = get("/api/v1/wallet").json();
    EXPECT_EQ(wallet.at("balance").as_int64(), 0);
    EXPECT_TRUE(wallet.at("ledger").as_array().empty());

    // Paid: the payment is the owner's alone, and answers the other fan like an unknown payment.
    const auto paid = pay(
        owner.headers, json::serialize(json::object{{"reservationId", reservation}, {"method", "POINTS"}}));
    ASSERT_EQ(paid.status, 201u) << paid.body;
    const std::string payment(paid.json().at("id").as_string());
    expect_indistinguishable(get("/api/v1/payments/" + payment), get("/api/v1/payments/" + unknown),
                             "GET another user's payment");
    expect_indistinguishable(get("/api/v1/payments/not-a-uuid"), get("/api/v1/payments/" + unknown),
                             "GET payment not-a-uuid");
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/payments/" + payment, {}, owner.headers).status, 200u);
    expect_invariants({owner.user_id, user_id_of(port(), other)});
}

// ---- API5 broken function-level authorization and API3/6 mass assignment -------------------------------

TEST_F(SecurityEndToEnd, SignupCannotSetRoleIdOrPasswordHash) {
    const std::string email = unique_name("sec-mass") + "@example.com";
    const std::string chosen_id = random_uuid();
    const json::object body{{"email", email},
                            {"password", "Tickets-2026"},
                            {"displayName", "Mass Assigner"},
                            {"role", "admin"},
                            {"roles", json::array{"admin"}},
                            {"isAdmin", true},
                            {"id", chosen_id},
                            {"userId", chosen_id},
                            {"passwordHash", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"},
                            {"password_hash", "plain"},
                            {"createdAt", "2000-01-01T00:00:00Z"}};
    const auto created = post_json("/api/v1/auth/signup", json::serialize(body));
    if (created.status != 201u) {
        expect_refused(created, "signup with role/id/hash");
        EXPECT_EQ(count("auth.users WHERE email = $1", db::params(email)), 0);
        return;
    }
    const auto user = created.json();
    EXPECT_EQ(user.at("roles"), json::value(json::array{"fan"}));
    EXPECT_NE(user.at("id").as_string(), chosen_id);
    EXPECT_NE(user.at("createdAt").as_string(), "2000-01-01T00:00:00Z");

    const auto stored = query(
        "SELECT id::text, role, password_hash, created_at > now() - interval '1 hour' AS recent "
        "FROM auth.users WHERE email = $1",
        db::params(email));
    ASSERT_EQ(stored.rows(), 1);
    EXPECT_EQ(stored.get<std::string>(0, "role"), "fan");
    EXPECT_NE(stored.get<std::string>(0, "id"), chosen_id);
    EXPECT_TRUE(stored.get<bool>(0, "recent"));
    const auto hash = stored.get<std::string>(0, "password_hash");
    EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u);
    EXPECT_NE(hash, body.at("passwordHash").as_string()) << "the hash is the server's, not the client's";
    EXPECT_EQ(count("auth.users WHERE id = $1::uuid", db::params(chosen_id)), 0);

    // The access token and /me say fan, and an admin endpoint refuses it.
    const auto login = post_json(
        "/api/v1/auth/login", json::serialize(json::object{{"email", email}, {"password", "Tickets-2026"}}));
    ASSERT_EQ(login.status, 200u) << login.body;
    const std::string token(login.json().at("accessToken").as_string());
    EXPECT_EQ(payload_of(token).at("roles"), json::value(json::array{"fan"}));
    const Headers fan{{"Authorization", "Bearer " + token}};
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/auth/me", {}, fan).json().at("roles"),
              json::value(json::array{"fan"}));
    const auto admin =
        post_json("/api/v1/admin/concerts", R"({"title":"Mine now","artist":"A","venue":"V"})", fan);
    EXPECT_EQ(admin.status, 403u) << admin.body;
    EXPECT_EQ(expect_refused(admin, "fan on an admin endpoint"), "role-required");
    EXPECT_EQ(count("catalog.concerts WHERE title = 'Mine now'", {}), 0);
}

TEST_F(SecurityEndToEnd, HoldCannotSetStatePriceOwnerOrExpiry) {
    const auto b = buyer();
    const auto victim = new_fan(port(), "sec-victim");
    const auto victim_id = user_id_of(port(), victim);
    const std::string chosen_id = random_uuid();
    const auto seat = b.seats.ids.at(0);
    const json::object body{
        {"scheduleId", b.seats.schedule},
        {"seatIds", json::array{seat}},
        {"id", chosen_id},
        {"state", "CONFIRMED"},
        {"totalPrice", 1},
        {"price", 1},
        {"currency", "USD"},
        {"userId", victim_id},
        {"user_id", victim_id},
        {"expiresAt", "2099-01-01T00:00:00Z"},
        {"paymentId", random_uuid()},
        {"seats", json::array{json::object{{"seatId", seat}, {"price", 1}, {"state", "SOLD"}}}}};
    const auto held = post_hold(port(), json::serialize(body), b.headers);
    if (held.status == 201u) {
        const auto doc = held.json();
        EXPECT_EQ(doc.at("state").as_string(), "HELD");
        EXPECT_EQ(doc.at("totalPrice").as_int64(), kPrice);
        EXPECT_EQ(doc.at("currency").as_string(), "KRW");
        EXPECT_NE(doc.at("id").as_string(), chosen_id);
    } else {
        expect_refused(held, "hold with state/price/owner");
    }
    // Whatever the answer, the stored rows are the server's: the caller's, HELD, at the zone's price, with
    // the hold TTL (5 minutes) by the database clock.
    const auto rows = query(
        "SELECT r.id::text, r.user_id::text, r.state, r.total_price, r.payment_id IS NULL AS unpaid, "
        "r.expires_at <= now() + interval '6 minutes' AS ttl_ok, s.price, s.state AS seat_state "
        "FROM booking.reservations r JOIN booking.reservation_seats s ON s.reservation_id = r.id "
        "WHERE r.schedule_id = $1",
        db::params(b.seats.schedule));
    ASSERT_EQ(rows.rows(), held.status == 201u ? 1 : 0);
    if (rows.rows() == 1) {
        EXPECT_EQ(rows.get<std::string>(0, "user_id"), b.user_id);
        EXPECT_NE(rows.get<std::string>(0, "id"), chosen_id);
        EXPECT_EQ(rows.get<std::string>(0, "state"), "HELD");
        EXPECT_EQ(rows.get<std::int64_t>(0, "total_price"), kPrice);
        EXPECT_TRUE(rows.get<bool>(0, "unpaid"));
        EXPECT_TRUE(rows.get<bool>(0, "ttl_ok"));
        EXPECT_EQ(rows.get<std::int64_t>(0, "price"), kPrice);
        EXPECT_EQ(rows.get<std::string>(0, "seat_state"), "HELD");
    }
    EXPECT_EQ(count("booking.reservations WHERE user_id = $1::uuid", db::params(victim_id)), 0);
    expect_invariants({b.user_id, victim_id});
}

TEST_F(SecurityEndToEnd, PaymentAndTopUpCannotSetAmountStateOrBalance) {
    const auto b = buyer();
    const auto reservation = hold(b, 0);
    const auto victim = new_fan(port(), "sec-victim");
    const auto victim_id = user_id_of(port(), victim);

    // A top-up that names a balance, a state, an owner and a kind: only `amount` counts.
    const auto topped = charge(b.headers, json::serialize(json::object{{"amount", 100'000},
                                                                       {"balance", 999'999'999},
                                                                       {"state", "APPROVED"},
                                                                       {"kind", "REFUND"},
                                                                       {"currency", "USD"},
                                                                       {"userId", victim_id},
                                                                       {"id", random_uuid()}}));
    ASSERT_EQ(topped.status, 201u) << topped.body;
    EXPECT_EQ(topped.json().at("balance").as_int64(), 100'000);
    EXPECT_EQ(balance_of(b.user_id), 100'000);
    EXPECT_EQ(count("wallet.charges WHERE user_id = $1::uuid AND amount = 100000", db::params(b.user_id)), 1);
    EXPECT_EQ(count("wallet.ledger l JOIN wallet.wallets w ON w.id = l.wallet_id WHERE w.user_id = $1::uuid "
                    "AND l.kind = 'CHARGE' AND l.amount = 100000",
                    db::params(b.user_id)),
              1);

    // A payment that names its own total, card part, state and owner: 30,000 points + the card for the
    // rest of the real price, charged to the caller.
    const auto paid = pay(b.headers, json::serialize(json::object{{"reservationId", reservation},
                                                                  {"method", "POINTS+CARD"},
                                                                  {"pointsAmount", 30'000},
                                                                  {"amount", 1},
                                                                  {"cardAmount", 1},
                                                                  {"totalPrice", 1},
                                                                  {"state", "APPROVED"},
                                                                  {"currency", "USD"},
                                                                  {"userId", victim_id}}));
    if (paid.status == 201u) {
        const auto doc = paid.json();
        const std::string id(doc.at("id").as_string());
        EXPECT_EQ(doc.at("amount").as_int64(), kPrice);
        EXPECT_EQ(doc.at("cardAmount").as_int64(), kPrice - 30'000);
        const auto card = gateway().find_by_key(id);
        ASSERT_TRUE(card.has_value());
        EXPECT_EQ(card->amount, kPrice - 30'000) << "the gateway charged the real card part";
        const auto row = query(
            "SELECT user_id::text, amount, card_amount, points_amount FROM payment.payments "
            "WHERE id = $1::uuid",
            db::params(id));
        ASSERT_EQ(row.rows(), 1);
        EXPECT_EQ(row.get<std::string>(0, "user_id"), b.user_id);
        EXPECT_EQ(row.get<std::int64_t>(0, "amount"), kPrice);
        EXPECT_EQ(row.get<std::int64_t>(0, "card_amount"), kPrice - 30'000);
        EXPECT_EQ(row.get<std::int64_t>(0, "points_amount"), 30'000);
        EXPECT_EQ(balance_of(b.user_id), 70'000);
    } else {
        expect_refused(paid, "payment with amount/state/owner");
        EXPECT_EQ(count("payment.payments WHERE user_id = $1::uuid", db::params(b.user_id)), 0);
        EXPECT_EQ(balance_of(b.user_id), 100'000);
    }
    EXPECT_EQ(count("payment.payments WHERE user_id = $1::uuid", db::params(victim_id)), 0);
    EXPECT_EQ(balance_of(victim_id), 0);
    expect_invariants({b.user_id, victim_id});
}

// ---- API2 broken authentication ------------------------------------------------------------------------

TEST_F(SecurityEndToEnd, ForgedMisdatedAndMisaddressedTokensAreRefusedByEveryService) {
    const auto fan = new_fan(port(), "sec-jwt");
    const auto subject = user_id_of(port(), fan);
    const std::string valid = fan.at("Authorization").substr(7);
    const auto claims = claims_for(subject);
    const auto now = claims.at("iat").as_int64();
    auto with = [&](const json::object& changes) {
        auto c = claims;
        for (const auto& member : changes) c[member.key()] = member.value();
        return c;
    };
    auto without = [&](const std::string& name) {
        auto c = claims;
        c.erase(name);
        return c;
    };
    const std::string public_pem =
        text_of_file(jwt::parse_key_list(local_setting("MARQUEE_JWT_PUBLIC_KEYS")).front().second);
    const auto admin_claims = with({{"roles", json::array{"fan", "admin"}}});
    // The signature of the fan's real token under a payload that makes them admin.
    const std::string real_signature = valid.substr(valid.rfind('.') + 1);
    const std::string tampered = jwt::base64url_encode(R"({"alg":"EdDSA","typ":"JWT","kid":"k1"})") + "." +
                                 jwt::base64url_encode(json::serialize(admin_claims)) + "." + real_signature;
    const std::string unsigned_header_payload = valid.substr(0, valid.rfind('.') + 1);
    const std::string admin_token = signed_token(eddsa_header(), admin_claims);
    auto no_iat_decade = without("iat");
    no_iat_decade["exp"] = now + std::int64_t{3650} * 86400;

    const std::vector<std::pair<std::string, std::string>> tokens{
        // alg confusion: none in any case, missing, and HS256 keyed with the public key (PEM and trimmed).
        {"alg None", jwt::base64url_encode(R"({"alg":"None","typ":"JWT","kid":"k1"})") + "." +
                         jwt::base64url_encode(json::serialize(claims)) + "."},
        {"alg NONE with the real signature",
         jwt::base64url_encode(R"({"alg":"NONE","kid":"k1"})") + valid.substr(valid.find('.'))},
        {"no alg", signed_token({{"typ", "JWT"}, {"kid", "k1"}}, claims)},
        {"HS256 keyed with the public key PEM",
         hs256_token({{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "k1"}}, admin_claims, public_pem)},
        {"HS256 keyed with the trimmed PEM",
         hs256_token({{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "k1"}}, admin_claims,
                     public_pem.substr(0, public_pem.find_last_not_of("\r\n") + 1))},
        {"RS256 header over an EdDSA signature", signed_token({{"alg", "RS256"}, {"kid", "k1"}}, claims)},
        // kid: unknown, missing, not a string, a path.
        {"kid k2", signed_token(eddsa_header("k2"), claims)},
        {"no kid", signed_token({{"alg", "EdDSA"}, {"typ", "JWT"}}, claims)},
        {"kid a number", signed_token({{"alg", "EdDSA"}, {"kid", 1}}, claims)},
        {"kid a path", signed_token(eddsa_header("../../.local/keys/jwt-k1.pub.pem"), claims)},
        {"crit header",
         signed_token({{"alg", "EdDSA"}, {"kid", "k1"}, {"crit", json::array{"exp"}}}, claims)},
        // The payload changed under a real signature, or no signature at all.
        {"payload made admin under the real signature", tampered},
        {"real header and payload, empty signature", unsigned_header_payload},
        {"signature of another token",
         unsigned_header_payload + admin_token.substr(admin_token.rfind('.') + 1)},
        // Dates: expired beyond the leeway, not yet valid, missing or not integers.
        {"expired 2 minutes ago", signed_token(eddsa_header(), with({{"exp", now - 120}}))},
        {"nbf in an hour", signed_token(eddsa_header(), with({{"nbf", now + 3600}}))},
        {"iat a year ahead", signed_token(eddsa_header(), with({{"iat", now + std::int64_t{365} * 86400}}))},
        {"lifetime ten years",
         signed_token(eddsa_header(), with({{"exp", now + std::int64_t{3650} * 86400}}))},
        {"no iat, exp ten years ahead", signed_token(eddsa_header(), no_iat_decade)},
        {"no exp", signed_token(eddsa_header(), without("exp"))},
        {"exp a string", signed_token(eddsa_header(), with({{"exp", std::to_string(now + 900)}}))},
        {"exp a float", signed_token(eddsa_header(), with({{"exp", static_cast<double>(now + 900)}}))},
        // Addressed elsewhere: issuer, audience, subject.
        {"iss other", signed_token(eddsa_header(), with({{"iss", "someone-else"}}))},
        {"no iss", signed_token(eddsa_header(), without("iss"))},
        {"aud other", signed_token(eddsa_header(), with({{"aud", "other-api"}}))},
        {"no sub", signed_token(eddsa_header(), without("sub"))},
        {"roles a string", signed_token(eddsa_header(), with({{"roles", "admin"}}))},
        // Not one JWS: two tokens, four parts, bare JSON (a refresh token: the refresh test below).
        {"two tokens", valid + " " + valid},
        {"four parts", valid + ".x"},
        {"JSON", json::serialize(claims)},
    };
    // Every service verifies with the same rules: auth, wallet, booking and payment reads.
    const std::vector<std::string> targets{"/api/v1/auth/me", "/api/v1/wallet", "/api/v1/reservations",
                                           "/api/v1/payments/" + random_uuid()};
    for (const auto& [what, token] : tokens) {
        for (const auto& target : targets) {
            expect_invalid_token(
                http_request(port(), "GET", target, {}, {{"Authorization", "Bearer " + token}}),
                (what + " on ").append(target));
        }
    }
    // The control: the same construction with nothing changed is accepted, so each refusal above is the
    // change's doing; and the token is not accepted from the query string or another scheme.
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/auth/me", {},
                           {{"Authorization", "Bearer " + signed_token(eddsa_header(), claims)}})
                  .status,
              200u);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/auth/me?access_token=" + valid).status, 401u);
    expect_invalid_token(
        http_request(port(), "GET", "/api/v1/auth/me", {}, {{"Authorization", "Basic " + valid}}),
        "Basic scheme");
    expect_up("forged tokens");
}

TEST_F(SecurityEndToEnd, ConcurrentRefreshTokenReuseLetsOneWinAndRevokesTheFamily) {
    const std::string email = unique_name("sec-refresh") + "@example.com";
    const std::string credentials =
        json::serialize(json::object{{"email", email}, {"password", "Tickets-2026"}, {"displayName", "R"}});
    ASSERT_EQ(post_json("/api/v1/auth/signup", credentials).status, 201u);
    const auto login = post_json("/api/v1/auth/login", credentials);
    ASSERT_EQ(login.status, 200u) << login.body;
    const std::string access(login.json().at("accessToken").as_string());
    const std::string refresh(login.json().at("refreshToken").as_string());

    // Access and refresh tokens are not interchangeable.
    expect_invalid_token(
        http_request(port(), "GET", "/api/v1/auth/me", {}, {{"Authorization", "Bearer " + refresh}}),
        "a refresh token as a bearer token");
    const auto access_as_refresh =
        post_json("/api/v1/auth/refresh", json::serialize(json::object{{"refreshToken", access}}));
    EXPECT_EQ(access_as_refresh.status, 401u) << access_as_refresh.body;

    // Eight copies of one refresh token at once (a stolen copy racing the owner): one rotation at most.
    const std::string body = json::serialize(json::object{{"refreshToken", refresh}});
    std::vector<std::future<HttpReply>> copies;
    copies.reserve(8);
    for (int i = 0; i < 8; ++i) {
        copies.push_back(
            std::async(std::launch::async, [&] { return post_json("/api/v1/auth/refresh", body); }));
    }
    std::vector<std::string> winners;
    for (auto& copy : copies) {
        const auto reply = copy.get();
        if (reply.status == 200u) {
            winners.emplace_back(reply.json().at("refreshToken").as_string());
        } else {
            EXPECT_EQ(reply.status, 401u) << reply.body;
            EXPECT_EQ(expect_refused(reply, "a raced refresh"), "invalid-refresh-token");
        }
    }
    EXPECT_LE(winners.size(), 1u) << "one refresh token rotated more than once";
    // The losers presented a used token: reuse. The family is revoked, the winner's new token with it.
    for (const auto& next : winners) {
        const auto again =
            post_json("/api/v1/auth/refresh", json::serialize(json::object{{"refreshToken", next}}));
        EXPECT_EQ(again.status, 401u) << "the family survived a reuse: " << again.body;
    }
    const auto family = query(
        "SELECT count(*)::bigint AS total, count(revoked_at)::bigint AS revoked FROM auth.refresh_tokens t "
        "JOIN auth.users u ON u.id = t.user_id WHERE u.email = $1",
        db::params(email));
    EXPECT_EQ(family.get<std::int64_t>(0, "total"), static_cast<std::int64_t>(1 + winners.size()));
    EXPECT_EQ(family.get<std::int64_t>(0, "revoked"), family.get<std::int64_t>(0, "total"))
        << "every token of the family is revoked";
}

TEST_F(SecurityEndToEnd, LoginLockoutHoldsAcrossEmailCaseAndDoesNotRevealAccounts) {
    const std::string email = unique_name("sec-lock") + "@example.com";
    const std::string unknown = unique_name("sec-nobody") + "@example.com";
    ASSERT_EQ(post_json("/api/v1/auth/signup",
                        json::serialize(json::object{
                            {"email", email}, {"password", "Tickets-2026"}, {"displayName", "L"}}))
                  .status,
              201u);
    auto login = [&](const std::string& who, const std::string& password) {
        return post_json("/api/v1/auth/login",
                         json::serialize(json::object{{"email", who}, {"password", password}}));
    };
    std::string upper = email;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // The guesses alternate spellings of one address: still one account's counter.
    for (int i = 0; i < kLoginAttempts; ++i) {
        EXPECT_EQ(login(i % 2 == 0 ? email : upper, "Wrong-pass-1").status, 401u);
        EXPECT_EQ(login(unknown, "Wrong-pass-1").status, 401u);
    }
    const auto locked = login(upper, "Tickets-2026");
    const auto locked_unknown = login(unknown, "Tickets-2026");
    for (const auto* reply : {&locked, &locked_unknown}) {
        EXPECT_EQ(reply->status, 429u) << reply->body;
        EXPECT_EQ(expect_refused(*reply, "a locked login"), "rate-limited");
        ASSERT_TRUE(reply->headers.contains("retry-after"));
        const int retry = std::stoi(reply->headers.at("retry-after"));
        EXPECT_GE(retry, 1);
        EXPECT_LE(retry, 60);
    }
    EXPECT_EQ(locked.body, locked_unknown.body) << "the lock does not tell which accounts exist";
    EXPECT_FALSE(locked.body.find("accessToken") != std::string::npos);
}

TEST(SecurityEndToEndLoginLimit, ForgedForwardedForDoesNotEvadeTheAddressLimit) {
    // No trusted proxy is configured: X-Forwarded-For is the client's own word and must not name the
    // address the login limit counts. (The counter of 127.0.0.1 is shared with every e2e test logging in
    // now, so only "a 429 comes within limit + 1 attempts" is certain, as in AuthRateLimits.)
    MarqueeProcess process({"--service=auth"}, {{"MARQUEE_LOGIN_ATTEMPTS_PER_IP", "2"}});
    bool limited = false;
    for (int i = 0; i < 4 && !limited; ++i) {
        const auto reply =
            http_request(process.port(), "POST", "/api/v1/auth/login",
                         json::serialize(json::object{{"email", unique_name("sec-xff") + "@example.com"},
                                                      {"password", "Wrong-pass-1"}}),
                         {{"Content-Type", "application/json"},
                          {"X-Forwarded-For", "203.0.113." + std::to_string(i + 1)},
                          {"X-Real-IP", "198.51.100." + std::to_string(i + 1)},
                          {"Forwarded", "for=192.0.2." + std::to_string(i + 1)}});
        limited = reply.status == 429u;
        if (!limited) {
            EXPECT_EQ(reply.status, 401u) << reply.body;
        }
    }
    EXPECT_TRUE(limited) << "each forged X-Forwarded-For got a fresh address limit";
}

// ---- API4 unrestricted resource consumption / API8 hostile input ---------------------------------------

TEST_F(SecurityEndToEnd, NegativeZeroAndOverflowingAmountsAreRefusedAndMoveNothing) {
    const auto b = buyer();
    const auto reservation = hold(b, 0);
    for (const std::string amount : {"-1",
                                     "0",
                                     "-0",
                                     "-0.0",
                                     "-10000",
                                     "9223372036854775807",
                                     "9223372036854775808",
                                     "-9223372036854775808",
                                     "-9223372036854775809",
                                     "18446744073709551616",
                                     "1e400",
                                     "-1e400",
                                     "1e308",
                                     "10000.0",
                                     "1E4",
                                     "true",
                                     "null",
                                     "[10000]",
                                     R"({"value":10000})",
                                     "10000000001"}) {
        const auto reply = charge(b.headers, R"({"amount":)" + amount + "}");
        const auto type = expect_refused(reply, "top-up of " + amount);
        EXPECT_TRUE(type == "invalid-field" || type == "malformed-json") << amount << ": " << reply.body;
    }
    const auto body = [&](const std::string& points) {
        return R"({"reservationId":")" + reservation + R"(","method":"POINTS+CARD","pointsAmount":)" +
               points + "}";
    };
    for (const std::string points : {"-1", "0", "-0", "9223372036854775807", "9223372036854775808",
                                     "-9223372036854775809", "1e400", "90000", "89999.5"}) {
        const auto reply = pay(b.headers, body(points));
        const auto type = expect_refused(reply, "points part " + points);
        EXPECT_TRUE(type == "invalid-field" || type == "malformed-json") << points << ": " << reply.body;
    }
    const std::string schedule = std::to_string(b.seats.schedule);
    const std::string seat = std::to_string(b.seats.ids.at(1));
    for (const auto& text : {R"({"scheduleId":-1,"seatIds":[)" + seat + "]}",
                             R"({"scheduleId":9223372036854775808,"seatIds":[)" + seat + "]}",
                             R"({"scheduleId":1e400,"seatIds":[)" + seat + "]}",
                             R"({"scheduleId":)" + schedule + R"(,"seatIds":[-1]})",
                             R"({"scheduleId":)" + schedule + R"(,"seatIds":[0]})",
                             R"({"scheduleId":)" + schedule + R"(,"seatIds":[18446744073709551615]})",
                             R"({"scheduleId":)" + schedule + R"(,"seatIds":[9223372036854775807]})"}) {
        expect_refused(post_hold(port(), text, b.headers), "hold " + text);
    }
    EXPECT_EQ(balance_of(b.user_id), 0) << "no refused amount moved money";
    EXPECT_EQ(count("wallet.charges WHERE user_id = $1::uuid", db::params(b.user_id)), 0);
    EXPECT_EQ(count("payment.payments WHERE user_id = $1::uuid", db::params(b.user_id)), 0);
    EXPECT_EQ(count("booking.reservations WHERE user_id = $1::uuid", db::params(b.user_id)), 1);
    expect_up("hostile amounts");
    expect_invariants({b.user_id});
}

TEST_F(SecurityEndToEnd, OverLongStringsHeadersAndPathsAreRefused) {
    const auto fan = new_fan(port(), "sec-long");
    const std::string local(100'000, 'a');
    const std::vector<std::pair<json::object, std::string>> signups{
        {{{"email", local + "@example.com"}, {"password", "Tickets-2026"}, {"displayName", "L"}}, "email"},
        {{{"email", unique_name("sec-long") + "@example.com"},
          {"password", "Tickets-2026" + local},
          {"displayName", "L"}},
         "password"},
        {{{"email", unique_name("sec-long") + "@example.com"},
          {"password", "Tickets-2026"},
          {"displayName", std::string(100'000, 'n')}},
         "displayName"},
        {{{"email", unique_name("sec-long") + "@example.com"},
          {"password", "Tickets-2026"},
          {"displayName", std::string(50'000, '\x7f')}},
         "displayName"},
    };
    for (const auto& [body, field] : signups) {
        const auto reply = post_json("/api/v1/auth/signup", json::serialize(body));
        EXPECT_EQ(reply.status, 400u) << field << ": " << reply.body.substr(0, 300);
        EXPECT_EQ(expect_refused(reply, "long " + field), "invalid-field");
        if (reply.status == 400u) {
            EXPECT_EQ(reply.json().at("field").as_string(), field);
        }
        EXPECT_LT(reply.body.size(), 1000u) << "the answer does not echo the input";
    }
    const auto long_refresh =
        post_json("/api/v1/auth/refresh", json::serialize(json::object{{"refreshToken", local}}));
    EXPECT_EQ(long_refresh.status, 401u) << long_refresh.body;
    const auto long_login =
        post_json("/api/v1/auth/login", json::serialize(json::object{{"email", local}, {"password", local}}));
    expect_refused(long_login, "login with 100 kB fields");

    auto headers = fan;
    headers["Idempotency-Key"] = std::string(10'000, 'k');
    expect_refused(post_json("/api/v1/wallet/charges", R"({"amount":10000})", headers),
                   "10 kB Idempotency-Key");
    headers = fan;
    headers["X-Queue-Token"] = std::string(10'000, 'q');
    expect_refused(post_hold(port(), hold_body(1, {1}), headers), "10 kB X-Queue-Token");
    expect_refused(pay(fan, json::serialize(json::object{{"reservationId", local}, {"method", "CARD"}})),
                   "100 kB reservationId");
    expect_refused(http_request(port(), "GET", "/api/v1/reservations/" + std::string(8'000, 'r'), {}, fan),
                   "8 kB path");
    EXPECT_EQ(balance_of(user_id_of(port(), fan)), 0);
    expect_up("over-long strings");
}

TEST_F(SecurityEndToEnd, InvalidUtf8DuplicateKeysAndDeepNestingAreHandledSafely) {
    const auto fan = new_fan(port(), "sec-json");
    // Invalid UTF-8 in a JSON string: raw bytes, overlong, surrogate halves, truncated; escapes of lone
    // surrogates. Never stored: no account appears under the email.
    for (const auto& bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                            std::string("\xe2\x82"), std::string("\\ud800"), std::string("\\udc00x"),
                            std::string("\xf8\x88\x80\x80\x80")}) {
        const std::string email = unique_name("sec-utf") + "@example.com";
        const auto reply =
            post_json("/api/v1/auth/signup", std::string(R"({"email":")")
                                                 .append(email)
                                                 .append(R"(","password":"Tickets-2026","displayName":"a)")
                                                 .append(bad)
                                                 .append(R"("})"));
        EXPECT_EQ(reply.status, 400u) << reply.body;
        EXPECT_EQ(expect_refused(reply, "invalid UTF-8"), "malformed-json");
        EXPECT_EQ(count("auth.users WHERE email = $1", db::params(email)), 0);
    }

    // Duplicate keys: whichever one the server takes, it takes it everywhere: the answer, the stored
    // charge, the ledger and the balance agree on one amount, charged once.
    const auto user = user_id_of(port(), fan);
    const auto doubled = charge(fan, R"({"amount":10000,"amount":20000})");
    if (doubled.status == 201u) {
        const auto amount = doubled.json().at("amount").as_int64();
        EXPECT_TRUE(amount == 10'000 || amount == 20'000) << doubled.body;
        EXPECT_EQ(doubled.json().at("balance").as_int64(), amount);
        EXPECT_EQ(balance_of(user), amount);
        const auto stored =
            query("SELECT amount FROM wallet.charges WHERE user_id = $1::uuid", db::params(user));
        ASSERT_EQ(stored.rows(), 1);
        EXPECT_EQ(stored.get<std::int64_t>(0, 0), amount);
    } else {
        expect_refused(doubled, "duplicate amount");
        EXPECT_EQ(balance_of(user), 0);
    }
    const std::string email = unique_name("sec-dup") + "@example.com";
    const std::string decoy = unique_name("sec-decoy") + "@example.com";
    const auto signup =
        post_json("/api/v1/auth/signup", R"({"email":")" + decoy + R"(","email":")" + email +
                                             R"(","password":"Tickets-2026","displayName":"D"})");
    if (signup.status == 201u) {
        const std::string taken(signup.json().at("email").as_string());
        EXPECT_TRUE(taken == email || taken == decoy);
        EXPECT_EQ(count("auth.users WHERE email IN ($1, $2)", db::params(email, decoy)), 1);
        EXPECT_EQ(count("auth.users WHERE email = $1", db::params(taken)), 1);
    } else {
        expect_refused(signup, "duplicate email");
    }

    // Deep nesting, as the whole body and inside a field, on every JSON route: refused, never a stack
    // overflow.
    const std::string arrays = std::string(10'000, '[') + std::string(10'000, ']');
    std::string objects;
    for (int i = 0; i < 10'000; ++i) objects += R"({"a":)";
    objects += "1" + std::string(10'000, '}');
    const std::string in_field = R"({"amount":)" + arrays + "}";
    auto authed = fan;
    authed["Idempotency-Key"] = unique_name("sec-deep");
    for (const std::string target : {"/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/refresh",
                                     "/api/v1/wallet/charges", "/api/v1/reservations", "/api/v1/payments"}) {
        for (const auto& body : {arrays, objects, in_field}) {
            const auto reply = post_json(target, body, authed);
            const auto type = expect_refused(reply, "deep nesting on " + target);
            // Routes that check the caller first may refuse with 401/403 before reading the body.
            EXPECT_TRUE(type == "malformed-json" || reply.status == 401u || reply.status == 403u)
                << target << ": " << reply.body;
        }
    }
    EXPECT_EQ(count("wallet.charges WHERE user_id = $1::uuid", db::params(user)),
              doubled.status == 201u ? 1 : 0);
    expect_up("bad JSON");
}

TEST_F(SecurityEndToEnd, TwentyMegabyteBodiesAreRefusedWith413) {
    constexpr std::size_t kTwentyMb = std::size_t{20} * 1024 * 1024;
    // Declared: refused from the head alone, before any of the body is read.
    {
        RawConnection connection(port());
        ASSERT_TRUE(
            connection.send("POST /api/v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            "application/json\r\nContent-Length: " +
                            std::to_string(kTwentyMb) + "\r\n\r\n{\"email\":\""));
        ASSERT_TRUE(connection.read_until_closed(15s)) << "the server kept waiting for a 20 MB body";
        const auto reply = connection.reply();
        EXPECT_EQ(reply.status, 413u) << connection.received();
        EXPECT_EQ(expect_refused(reply, "declared 20 MB body"), "payload-too-large");
    }
    expect_up("a declared 20 MB body");
    // Streamed in chunks with no length: the server stops taking it at its limit, long before 20 MB.
    {
        RawConnection connection(port());
        ASSERT_TRUE(connection.send(
            "POST /api/v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"));
        const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
        std::size_t sent = 0;
        while (sent < kTwentyMb && connection.send(chunk)) sent += 0x10000;
        EXPECT_LT(sent, kTwentyMb) << "the server took a 20 MB body";
        connection.read_until_closed(15s);
        // The 413 may be lost to the reset that ends an upload the server stopped reading; when it
        // arrived, it is the right problem.
        if (!connection.received().empty()) {
            EXPECT_EQ(connection.reply().status, 413u) << connection.received().substr(0, 300);
            EXPECT_EQ(expect_refused(connection.reply(), "chunked 20 MB body"), "payload-too-large");
        }
    }
    expect_up("a streamed 20 MB body");
}

TEST_F(SecurityEndToEnd, SlowlorisConnectionsGet408WithinTheReadTimeoutWhileOthersAreServed) {
    // Sixteen clients trickle header lines (and one a body) every 100 ms, never finishing their request.
    constexpr int kSlow = 16;
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < kSlow; ++i) {
        slow.push_back(std::make_unique<RawConnection>(port()));
        if (i == 0) {
            ASSERT_TRUE(
                slow.back()->send("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                  "application/json\r\nContent-Length: 4000\r\n\r\n{"));
        } else {
            ASSERT_TRUE(slow.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
        }
    }
    // While they hang on, everyone else is served.
    expect_up("slowloris clients connected");
    EXPECT_EQ(new_fan(port(), "sec-slow").size(), 1u);

    // Bounded: five times the read timeout. Each slow client must have been answered or cut off by then.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(5 * kReadTimeoutMs);
    std::vector<bool> ended(kSlow, false);
    int line = 0;
    while (std::chrono::steady_clock::now() < deadline &&
           std::find(ended.begin(), ended.end(), false) != ended.end()) {
        ++line;
        for (int i = 0; i < kSlow; ++i) {
            if (ended[i]) continue;
            // The attack's own pace (one line per 100 ms), not a wait for the server.
            const bool taken =
                slow[i]->send(i == 0 ? std::string(" ") : "X-Slow-" + std::to_string(line) + ": 1\r\n");
            ended[i] = !taken || slow[i]->poll(0ms) || !slow[i]->received().empty();
        }
        std::this_thread::sleep_for(100ms);
    }
    for (int i = 0; i < kSlow; ++i) {
        EXPECT_TRUE(ended[i]) << "slow client " << i << " still connected after " << 5 * kReadTimeoutMs
                              << " ms";
        if (!ended[i]) continue;
        slow[i]->read_until_closed(5s);
        if (slow[i]->received().empty()) continue;  // cut off without an answer: allowed
        const auto reply = slow[i]->reply();
        EXPECT_EQ(reply.status, 408u) << slow[i]->received();
        EXPECT_EQ(expect_refused(reply, "slowloris"), "request-timeout");
    }
    expect_up("slowloris");
}

TEST_F(SecurityEndToEnd, MalformedRequestHeadsAreProblemsAndTheServerStaysUp) {
    const std::vector<std::pair<std::string, std::string>> heads{
        {"TLS hello on plain HTTP",
         std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n"},
        {"garbage request line", "HELLO\r\n\r\n"},
        {"NUL in the target", std::string("GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n", 35)},
        {"header without a colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"},
        {"two content lengths",
         "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Content-Length: 40\r\nContent-Type: application/json\r\n\r\n{}"},
        {"negative content length",
         "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
        {"overflowing content length",
         "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
        {"bad chunk size",
         "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "zz\r\n{}\r\n0\r\n\r\n"},
        {"HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"},
        {"20 kB query", "GET /api/v1/concerts?" + std::string(20'000, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"20 kB content type",
         "POST /api/v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Content-Type: application/json; charset=" +
             std::string(20'000, 'c') + "\r\n\r\n{}"},
        {"64 kB header",
         "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64'000, 'h') + "\r\n\r\n"},
        {"10,000 headers",
         [] {
             std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
             for (int i = 0; i < 10'000; ++i) head += "X-" + std::to_string(i) + ": 1\r\n";
             return head + "\r\n";
         }()},
    };
    for (const auto& [what, bytes] : heads) {
        RawConnection connection(port());
        connection.send(bytes);
        EXPECT_TRUE(connection.read_until_closed(15s)) << what << ": the connection stayed open";
        const auto reply = connection.reply();
        if (!connection.received().empty()) {
            EXPECT_NE(reply.status, 0u) << what << ": not HTTP: " << connection.received().substr(0, 200);
            if (reply.status != 0u) expect_refused(reply, what);
        }
        expect_up(what);
    }
}

// ---- found by this suite and fixed: resource exhaustion, request smuggling, queues for nothing ----------

TEST_F(SecurityEndToEnd, UnknownHttpMethodsDoNotGrowTheMetrics) {
    const auto before = http_request(port(), "GET", "/metrics");
    ASSERT_EQ(before.status, 200u);
    // An unauthenticated client invents 200 methods: each is refused, and must not become a label.
    const std::string prefix = "ZQ" + std::to_string(port());
    for (int i = 0; i < 200; ++i) {
        RawConnection connection(port());
        connection.send(prefix + std::to_string(i) +
                        " /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        connection.read_until_closed(10s);
        const auto reply = connection.reply();
        EXPECT_TRUE(reply.status == 405u || reply.status == 400u || reply.status == 501u)
            << connection.received();
    }
    const auto after = http_request(port(), "GET", "/metrics");
    ASSERT_EQ(after.status, 200u);
    EXPECT_EQ(after.body.find(prefix), std::string::npos) << "an invented method is a metrics label";
    // The HTTP families are where a method would become series; other families (the per-schedule gauges of
    // ADR 0027, exported every 10 s) may grow meanwhile for reasons of their own.
    const auto http_bytes = [](const std::string& body) {
        std::size_t bytes = 0;
        std::istringstream lines(body);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("http_", 0) == 0) bytes += line.size() + 1;
        }
        return bytes;
    };
    EXPECT_LT(http_bytes(after.body), http_bytes(before.body) + 20'000)
        << "the http_ series of /metrics grew from " << http_bytes(before.body) << " to "
        << http_bytes(after.body) << " bytes";
}

TEST_F(SecurityEndToEnd, AmbiguousTransferEncodingIsRefusedAndTheConnectionClosed) {
    // RFC 9112 section 6.3: the body length cannot be determined; 400 and close. The bytes after the head
    // must never be read as a second request.
    for (const std::string coding : {"xchunked", "chunked, identity", "identity"}) {
        RawConnection connection(port());
        connection.send(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: " +
            coding + "\r\nContent-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_TRUE(connection.read_until_closed(5s)) << coding << ": the connection was kept open";
        const auto reply = connection.reply();
        EXPECT_EQ(reply.status, 400u) << coding << ": " << connection.received();
        EXPECT_EQ(expect_refused(reply, coding), "bad-request") << coding;
        std::size_t responses = 0;
        for (auto at = connection.received().find("HTTP/1.1 "); at != std::string::npos;
             at = connection.received().find("HTTP/1.1 ", at + 1)) {
            ++responses;
        }
        EXPECT_EQ(responses, 1u) << coding << ": the body was read as another request\n"
                                 << connection.received();
    }
    expect_up("ambiguous transfer encodings");
}

TEST_F(SecurityEndToEnd, QueueForAScheduleThatDoesNotExistIsNotFound) {
    const auto fan = new_fan(port(), "sec-queue");
    for (const std::string id : {"9223372036854775807", "7999999999999"}) {
        const auto joined = http_request(port(), "POST", "/api/v1/schedules/" + id + "/queue", {}, fan);
        EXPECT_EQ(joined.status, 404u) << id << ": " << joined.body;
        expect_refused(joined, "queue of schedule " + id);
    }
}

// ---- secrets in responses and logs (API3 excessive data exposure, API8 misconfiguration) ----------------

TEST_F(SecurityEndToEnd, NoSecretInAnyResponseOrLogLine) {
    const std::string email = unique_name("sec-secret") + "@example.com";
    const std::string password = "Pw-" + unique_name("secret");
    const std::string wrong = "Wrong-" + unique_name("guess");
    const std::string bad_password =
        "Refused-" + unique_name("pw") + std::string(130, 'z');  // over 128 bytes
    std::vector<HttpReply> replies;
    const auto keep = [&](HttpReply reply) {
        replies.push_back(reply);
        return reply;
    };
    const auto account = [&](const std::string& pw) {
        return json::serialize(json::object{{"email", email}, {"password", pw}, {"displayName", "S"}});
    };
    ASSERT_EQ(keep(post_json("/api/v1/auth/signup", account(password))).status, 201u);
    keep(post_json("/api/v1/auth/signup", account(password)));  // 409: taken
    keep(post_json("/api/v1/auth/signup",
                   json::serialize(json::object{{"email", unique_name("s") + "@example.com"},
                                                {"password", bad_password},
                                                {"displayName", "S"}})));
    EXPECT_EQ(keep(post_json("/api/v1/auth/login", account(wrong))).status, 401u);
    const auto login = keep(post_json("/api/v1/auth/login", account(password)));
    ASSERT_EQ(login.status, 200u) << login.body;
    const std::string access1(login.json().at("accessToken").as_string());
    const std::string refresh1(login.json().at("refreshToken").as_string());
    const auto refreshed =
        keep(post_json("/api/v1/auth/refresh", json::serialize(json::object{{"refreshToken", refresh1}})));
    ASSERT_EQ(refreshed.status, 200u) << refreshed.body;
    const std::string access2(refreshed.json().at("accessToken").as_string());
    const std::string refresh2(refreshed.json().at("refreshToken").as_string());
    Headers fan{{"Authorization", "Bearer " + access2}};
    keep(http_request(port(), "GET", "/api/v1/auth/me", {}, fan));
    keep(http_request(port(), "GET", "/api/v1/auth/me", {}, {{"Authorization", "Bearer " + access2 + "x"}}));

    // Money: a top-up, a hold and a card payment under this fan.
    const auto seats = make_schedules(1, 1, kPrice, stack_->database_url()).front();
    fan = admitted(port(), fan, seats.schedule);
    keep(top_up(port(), fan, 50'000));
    const auto held = keep(post_hold(port(), hold_body(seats.schedule, {seats.ids.at(0)}), fan));
    ASSERT_EQ(held.status, 201u) << held.body;
    keep(
        pay(fan, json::serialize(json::object{{"reservationId", held.json().at("id")}, {"method", "CARD"}})));
    keep(post_json("/api/v1/auth/logout", json::serialize(json::object{{"refreshToken", refresh2}})));
    keep(post_json("/api/v1/auth/refresh", json::serialize(json::object{{"refreshToken", refresh2}})));
    const auto last = keep(http_request(port(), "GET", "/api/v1/wallet", {}, fan));

    const std::vector<std::pair<std::string, std::string>> secrets{
        {"the password", password},
        {"a wrong password", wrong},
        {"a refused password", bad_password},
        {"an Argon2 hash", "$argon2"},
        {"the first access token", access1},
        {"the second access token", access2},
        {"the first refresh token", refresh1},
        {"the second refresh token", refresh2},
        {"any JWT", "eyJ"},
    };
    for (const auto& reply : replies) {
        for (const auto& [what, secret] : secrets) {
            if (what.find("token") != std::string::npos || what == "any JWT") {
                continue;  // token responses carry them
            }
            EXPECT_EQ(reply.body.find(secret), std::string::npos) << what << " in a response: " << reply.body;
        }
        for (const char* field : {"hash", "Hash", "argon"}) {
            EXPECT_EQ(reply.body.find(field), std::string::npos) << field << " in a response: " << reply.body;
        }
    }

    // The access line of the last request is in the log: it is complete up to here.
    const std::string last_id = last.headers.count("x-request-id") ? last.headers.at("x-request-id") : "?";
    std::string log;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while ((log = stack_->process().output()).find(last_id) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_NE(log.find(last_id), std::string::npos) << "the access log is not captured";
    ASSERT_NE(log.find(R"("path":"/api/v1/auth/refresh")"), std::string::npos);
    std::istringstream lines(log);
    std::string line;
    while (std::getline(lines, line)) {
        for (const auto& [what, secret] : secrets) {
            EXPECT_EQ(line.find(secret), std::string::npos) << what << " in a log line: " << line;
        }
        EXPECT_EQ(line.find("Bearer"), std::string::npos)
            << "an Authorization header in a log line: " << line;
    }
    expect_invariants({user_id_of(port(), fan)});
}

}  // namespace
}  // namespace marquee::test
