#include "services/queue/routes.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "core/problem.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/held_polls.hpp"
#include "services/queue/join_line.hpp"
#include "services/queue/pow.hpp"
#include "services/queue/sold_out.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {
namespace {

namespace asio = boost::asio;

std::string rfc3339_from_ms(std::int64_t epoch_ms) {
    return core::to_rfc3339(core::TimePoint(std::chrono::milliseconds(epoch_ms)));
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t pre_queue_poll_ms(std::int64_t opens_at_ms) {
    return std::clamp<std::int64_t>(opens_at_ms - now_ms(), 500, 15'000);
}

/// The body every queue route answers with: the fields that make sense for the state. While an operator has
/// paused the schedule's admission (ADR 0027), a WAITING body says `paused` and gives no `etaSeconds`: nobody
/// is admitted, so any estimate would count down a wait that is not moving (ADR 0033).
boost::json::object to_json(const TokenStatus& status, unsigned admit_per_second, bool paused = false) {
    boost::json::object body{
        {"token", status.token}, {"scheduleId", status.schedule_id}, {"state", to_string(status.state)}};
    if (status.state == TokenState::Waiting && paused) {
        body["position"] = status.position;
        body["paused"] = true;
        body["pollAfterMs"] = paused_poll_after_ms(status.position, admit_per_second);
    } else if (status.state == TokenState::Waiting) {
        body["position"] = status.position;
        body["etaSeconds"] = eta_seconds(status.position, admit_per_second);
        body["pollAfterMs"] = poll_after_ms(status.position, admit_per_second);
    } else if (status.state == TokenState::Active) {
        body["expiresAt"] = rfc3339_from_ms(status.expires_at);
    } else if (status.state == TokenState::PreQueue) {
        // ADR 0026: no place yet (the opening's shuffle gives one); ask again at the opening, or every 15 s.
        if (status.opens_at > 0) body["opensAt"] = rfc3339_from_ms(status.opens_at);
        body["pollAfterMs"] = pre_queue_poll_ms(status.opens_at);
    }
    return body;
}

std::int64_t schedule_query(const http::Context& ctx) {
    const std::optional<std::string> text = ctx.query("scheduleId");
    if (!text || text->empty()) {
        throw core::Problem::invalid_field("scheduleId", "The query parameter scheduleId is required.");
    }
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), id);
    if (ec != std::errc{} || end != text->data() + text->size() || id <= 0) {
        throw core::Problem::invalid_field("scheduleId", "scheduleId must be a positive integer.");
    }
    return id;
}

/// ADR 0049: `waitMs`, how long the fan is willing to have its poll held (0 when absent: answered at once).
std::int64_t wait_query(const http::Context& ctx) {
    const std::optional<std::string> text = ctx.query("waitMs");
    if (!text) return 0;
    std::int64_t wait = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), wait);
    if (text->empty() || ec != std::errc{} || end != text->data() + text->size() || wait < 0 ||
        wait > Routes::kMaxWaitMs) {
        throw core::Problem::invalid_field(
            "waitMs",
            "waitMs must be an integer from 0 to " + std::to_string(Routes::kMaxWaitMs) + " (milliseconds).");
    }
    return wait;
}

/// Whether this process knows the schedule is sold out (ADR 0018); false without the signal.
bool known_sold_out(const SoldOut* sold_out, std::int64_t schedule_id) {
    return sold_out != nullptr && sold_out->known(schedule_id).value_or(SoldOutView{}).sold_out;
}

core::Problem token_not_found(std::int64_t schedule_id) {
    return core::Problem(
        404, "queue-token-not-found", "Not found",
        "You have no queue token for schedule " + std::to_string(schedule_id) + "; join the queue first.");
}

}  // namespace

void Routes::set_controls(std::shared_ptr<Controls> controls) {
    controls_ = std::move(controls);
    if (!controls_) return;
    // ADR 0049 (amended): a held poll of a paused room is answered paused at once, and one of a resumed room
    // with its ETA back, instead of at the hold's end. Weak: the controls may outlive this room (one copy per
    // process, shared by every service installed on it).
    controls_->on_pause_change([room = std::weak_ptr<WaitingRoom>(room_)](std::int64_t schedule_id) {
        if (const auto live = room.lock()) live->held_polls().wake_all(schedule_id);
    });
}

bool Routes::paused(std::int64_t schedule_id) const {
    return controls_ && controls_->get(schedule_id).paused;
}

asio::awaitable<std::int64_t> Routes::opens_at_of(TokenState state, std::int64_t schedule_id) {
    if (state != TokenState::PreQueue || !opening_) co_return 0;
    co_return (co_await opening_(schedule_id)).value_or(0);
}

void Routes::add_to(http::Router& router) {
    router.post("/api/v1/schedules/{scheduleId}/queue", [this](http::Context& ctx) { return join(ctx); });
    if (pow_) {
        router.post("/api/v1/schedules/{scheduleId}/queue/challenge",
                    [this](http::Context& ctx) { return challenge(ctx); });
    }
    router.get("/api/v1/queue/me", [this](http::Context& ctx) { return me(ctx); });
    router.get("/api/v1/queue/me/events", [this](http::Context& ctx) { return events(ctx); });
}

// 201 with a new token; 200 with the same token when the user already holds a live (WAITING or ACTIVE) one.
asio::awaitable<http::Response> Routes::join(http::Context& ctx) {
    // ADR 0036: a place in the line first, so a burst's JWT checks and Redis calls do not all start at once.
    JoinLine::Pass place;
    if (join_line_) {
        place = co_await join_line_->enter();
    }
    const std::string user_id = ctx.user().user_id;
    const std::int64_t schedule_id = ctx.id_param("scheduleId");
    std::int64_t opens_at = 0;
    if (opening_) {
        const std::optional<std::int64_t> opens = co_await opening_(schedule_id);
        if (!opens) throw core::Problem::not_found("no such schedule");
        opens_at = *opens;
    } else if (schedule_exists_ && !(co_await schedule_exists_(schedule_id))) {
        throw core::Problem::not_found("no such schedule");
    }
    if (controls_ && controls_->get(schedule_id).sales_closed) throw sales_closed_problem(schedule_id);
    if (pow_) {
        // ADR 0026: the work buys a place. A fan who already holds a live token gets it back without new work
        // (joining is idempotent anyway), so reopening the waiting room does not cost another second.
        std::optional<core::Problem> refused;
        try {
            co_await check_pow(ctx, user_id, schedule_id);
        } catch (const core::Problem& problem) {
            refused = problem;
        }
        if (refused) {
            std::optional<TokenStatus> live = co_await room_->find_status(user_id, schedule_id);
            if (!live || is_ended(live->state)) throw *refused;
            live->opens_at = co_await opens_at_of(live->state, schedule_id);
            boost::json::object body = to_json(*live, room_->eta_rate(schedule_id), paused(schedule_id));
            if (sold_out_) sold_out_->annotate(body, schedule_id);
            co_return http::json(body);
        }
    }
    if (sold_out_ && co_await sold_out_->sold_out(schedule_id)) throw sold_out_problem(schedule_id);
    Joined joined = co_await room_->join(user_id, schedule_id, opens_at);
    if (joined.status.state == TokenState::PreQueue) joined.status.opens_at = opens_at;
    boost::json::object body = to_json(joined.status, room_->eta_rate(schedule_id), paused(schedule_id));
    if (sold_out_) sold_out_->annotate(body, schedule_id);
    if (joined.created) {
        co_return http::created(body, "/api/v1/queue/me?scheduleId=" + std::to_string(schedule_id));
    }
    co_return http::json(body);
}

// ADR 0026: a challenge bound to the user, the schedule and a short expiry; difficulty 0 when the door is
// open.
asio::awaitable<http::Response> Routes::challenge(http::Context& ctx) {
    const std::string user_id = ctx.user().user_id;
    const std::int64_t schedule_id = ctx.id_param("scheduleId");
    if (opening_) {
        if (!(co_await opening_(schedule_id))) throw core::Problem::not_found("no such schedule");
    } else if (schedule_exists_ && !(co_await schedule_exists_(schedule_id))) {
        throw core::Problem::not_found("no such schedule");
    }
    const int difficulty = co_await pow_->difficulty_for(schedule_id);
    const PowChallenge issued = pow_->issue(user_id, schedule_id, difficulty, now_ms());
    co_return http::json(boost::json::object{{"challenge", issued.challenge},
                                             {"difficulty", issued.difficulty},
                                             {"algorithm", "sha256"},
                                             {"expiresAt", rfc3339_from_ms(issued.expires_at_ms)}});
}

asio::awaitable<void> Routes::check_pow(http::Context& ctx, std::string user_id, std::int64_t schedule_id) {
    const int required = co_await pow_->difficulty_for(schedule_id);
    if (required <= 0) co_return;
    const auto required_problem = [&] {
        return core::Problem::forbidden("pow-required",
                                        "Joining this queue needs a solved challenge: POST "
                                        "/api/v1/schedules/" +
                                            std::to_string(schedule_id) +
                                            "/queue/challenge, then join with its challenge and nonce.")
            .with("difficulty", required);
    };
    if (ctx.body().empty()) throw required_problem();
    const std::optional<PowAnswer> answer = pow_answer_from(ctx.json_object());
    if (!answer) throw required_problem();
    switch (pow_->verify(answer->challenge, answer->nonce, user_id, schedule_id, required, now_ms())) {
        case PowVerdict::Ok:
            co_return;
        case PowVerdict::Expired:
            throw core::Problem::gone("pow-expired", "The challenge has expired; fetch a new one.");
        case PowVerdict::Invalid:
            break;
    }
    throw core::Problem::forbidden("pow-invalid",
                                   "The challenge is not this fan's for this schedule, or the nonce does not "
                                   "solve it; fetch a new challenge.")
        .with("difficulty", required);
}

// ADR 0039: a poll goes to memory first, unless this process knows the schedule is sold out (its tokens are
// being ended: only Redis can say which).
asio::awaitable<std::optional<TokenStatus>> Routes::poll_token(std::string user_id,
                                                               std::int64_t schedule_id) {
    if (gone(schedule_id)) {
        co_return co_await room_->find_status(std::move(user_id), schedule_id);
    }
    co_return co_await room_->poll_status(std::move(user_id), schedule_id);
}

bool Routes::gone(std::int64_t schedule_id) const {
    return known_sold_out(sold_out_.get(), schedule_id);
}

// ADR 0049: a WAITING fan's poll held until its state may have changed (admission passed its place, the
// schedule sold out, the room's epoch was lost, the process stops) or up to min(waitMs, its pollAfterMs,
// kMaxHoldMs); then the fan's status: Redis's word after a wake, a poll's (memory first) at the timeout. A
// poll that cannot be held (over the bound, a fan memory does not hold, a sold-out schedule) is the status at
// once.
asio::awaitable<std::optional<TokenStatus>> Routes::hold(std::string user_id, std::int64_t schedule_id,
                                                         TokenStatus status, std::int64_t wait_ms) {
    if (gone(schedule_id)) co_return status;
    const bool was_paused = paused(schedule_id);
    boost::json::object probe = to_json(status, room_->eta_rate(schedule_id), was_paused);
    if (sold_out_) sold_out_->annotate(probe, schedule_id);
    const std::int64_t poll = probe.at("pollAfterMs").as_int64();
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min({wait_ms, poll, kMaxHoldMs}));
    const std::optional<std::int64_t> place = room_->memory().place(schedule_id, user_id);
    if (!place) co_return status;
    HeldPolls& held = room_->held_polls();
    // The handler's executor: the connection's strand (HeldPolls needs one handler at a time there).
    std::shared_ptr<HeldPolls::Waiter> waiter =
        held.hold(schedule_id, *place, co_await asio::this_coro::executor);
    if (!waiter) co_return status;
    // A sell-out stored before the hold was registered woke nobody: look once more (SoldOut wakes the held
    // polls after it stores the verdict, so a later one wakes this waiter). The same for a pause or resume
    // (Controls calls its listener after it updates its copy).
    const auto changed = [&] { return gone(schedule_id) || paused(schedule_id) != was_paused; };
    const auto deadline = changed() ? std::chrono::steady_clock::now() : until;
    const bool woken = co_await held.wait(std::move(waiter), deadline);
    // ADR 0049, amended: sold out (the wake, or a verdict seen at registration). The verdict is final (every
    // seat SOLD, ADR 0018), so the fan is told from what this process holds (its status before the hold,
    // `soldOut` added by the caller), not from Redis: a sell-out wakes every held poll of the schedule at
    // once, and one Redis read each (16,200 in the 18,000-fan sale) timed Redis out and answered 503 to most
    // of them.
    if (gone(schedule_id)) co_return status;
    // Woken by admission: Redis's word (memory may not have the admission yet). By a pause or resume: the
    // state did not change, only what the answer says about it, so memory's answer (no Redis read for each of
    // a room's held polls at once).
    if (woken && !changed()) {
        co_return co_await room_->find_status(user_id, schedule_id);
    }
    co_return co_await poll_token(user_id, schedule_id);
}

// 200 with the state, whatever it is (a status read; EXPIRED and USED are answers, not errors). With waitMs
// (ADR 0049) a WAITING fan's poll is held until that state changes.
asio::awaitable<http::Response> Routes::me(http::Context& ctx) {
    const std::string user_id = ctx.user().user_id;
    const std::int64_t schedule_id = schedule_query(ctx);
    const std::int64_t wait_ms = wait_query(ctx);
    std::optional<TokenStatus> status = co_await poll_token(user_id, schedule_id);
    if (status && wait_ms > 0 && status->state == TokenState::Waiting) {
        status = co_await hold(user_id, schedule_id, std::move(*status), wait_ms);
    }
    if (!status) throw token_not_found(schedule_id);
    status->opens_at = co_await opens_at_of(status->state, schedule_id);
    boost::json::object body = to_json(*status, room_->eta_rate(schedule_id), paused(schedule_id));
    if (sold_out_) sold_out_->annotate(body, schedule_id);
    co_return http::json(body);
}

// Server-Sent Events: a `position` event every pollAfterMs (at least a tick) while WAITING, then one
// `admitted` (ACTIVE, with expiresAt) or `ended` (EXPIRED or USED) event, and the stream ends. Each read
// counts as a poll.
asio::awaitable<http::Response> Routes::events(http::Context& ctx) {
    const std::string user_id = ctx.user().user_id;
    const std::int64_t schedule_id = schedule_query(ctx);
    std::optional<TokenStatus> first = co_await room_->find_status(user_id, schedule_id);
    if (!first) throw token_not_found(schedule_id);
    first->opens_at = co_await opens_at_of(first->state, schedule_id);
    std::shared_ptr<WaitingRoom> room = room_;
    std::shared_ptr<SoldOut> sold_out = sold_out_;
    OpeningLookup opening = opening_;
    std::shared_ptr<Controls> controls = controls_;
    co_return http::event_stream([room, sold_out, opening, controls, user_id, schedule_id,
                                  first = *first](http::EventStream& stream) -> asio::awaitable<void> {
        // The captures are by value: this coroutine runs after the handler has returned (the server keeps
        // this closure until the stream ends).
        const std::shared_ptr<WaitingRoom>& r = room;
        const std::shared_ptr<SoldOut>& so = sold_out;
        OpeningLookup opens = opening;
        const std::shared_ptr<Controls>& ctl = controls;
        const std::string& user = user_id;
        std::int64_t schedule = schedule_id;
        TokenStatus status = first;
        asio::steady_timer timer(co_await asio::this_coro::executor);
        while (true) {
            const unsigned rate = r->eta_rate(schedule);
            const bool halted = ctl && ctl->get(schedule).paused;  // ADR 0033
            boost::json::object body = to_json(status, rate, halted);
            // ADR 0018: a sold-out schedule ends the stream with a `sold-out` event.
            const bool gone = known_sold_out(so.get(), schedule);
            if (so) so->annotate(body, schedule);
            const std::string data = boost::json::serialize(body);
            std::string event = "position";
            if (status.state == TokenState::Active) event = "admitted";
            if (is_ended(status.state)) event = "ended";
            if (gone && status.state != TokenState::Used) event = "sold-out";
            if (!co_await stream.send(event, data)) co_return;
            const bool pre = status.state == TokenState::PreQueue;
            if ((status.state != TokenState::Waiting && !pre) || gone) co_return;
            // Like a polling client, the stream reads again after pollAfterMs (never sooner than a tick):
            // 10,000 open streams must not cost the waiting room 10,000 reads per tick.
            const std::int64_t poll = pre      ? pre_queue_poll_ms(status.opens_at)
                                      : halted ? paused_poll_after_ms(status.position, rate)
                                               : poll_after_ms(status.position, rate);
            const auto pause =
                std::max<std::chrono::milliseconds>(r->settings().tick, std::chrono::milliseconds(poll));
            // ADR 0049: a WAITING fan's stream wakes as soon as admission passes its place (or a sell-out),
            // like a held poll; without a remembered place (or past the bound), the plain sleep.
            std::shared_ptr<HeldPolls::Waiter> waiter;
            if (status.state == TokenState::Waiting) {
                if (const auto place = r->memory().place(schedule, user)) {
                    waiter = r->held_polls().hold(schedule, *place, timer.get_executor());
                }
            }
            if (waiter) {
                const auto now = std::chrono::steady_clock::now();
                co_await r->held_polls().wait(std::move(waiter),
                                              known_sold_out(so.get(), schedule) ? now : now + pause);
            } else if (so) {
                co_await so->sleep(schedule, pause);  // wakes early on sold out
            } else {
                timer.expires_after(pause);
                co_await timer.async_wait(asio::use_awaitable);
            }
            if (!stream.open()) co_return;
            // ADR 0039: from memory while it can tell the fan still waits (never once sold out).
            const bool ended = known_sold_out(so.get(), schedule);
            std::optional<TokenStatus> next;
            if (ended) {
                next = co_await r->find_status(user, schedule);
            } else {
                next = co_await r->poll_status(user, schedule);
            }
            if (!next) co_return;
            status = std::move(*next);
            if (status.state == TokenState::PreQueue && opens) {
                status.opens_at = (co_await opens(schedule)).value_or(0);
            }
        }
    });
}

}  // namespace marquee::queue
