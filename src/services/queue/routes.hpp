#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"
#include "http/router.hpp"

namespace marquee::queue {

class WaitingRoom;
class SoldOut;
class Controls;
class ProofOfWork;
class JoinLine;
enum class TokenState;
struct TokenStatus;

/// HTTP in and out of the waiting room (api/openapi.yaml, tag queue). Every route needs a JWT (401).
class Routes {
  public:
    /// ADR 0049: the longest `waitMs` a poll may ask for (more is 400), and the longest a poll is held
    /// whatever it asked (below the server's 10 s shutdown drain, so a stopping process answers its held
    /// polls before it closes).
    static constexpr std::int64_t kMaxWaitMs = 60'000;
    static constexpr std::int64_t kMaxHoldMs = 5'000;

    /// Whether a schedule exists (catalog's answer, through queue's Store).
    using ScheduleCheck = std::function<boost::asio::awaitable<bool>(std::int64_t)>;
    /// ADR 0026: when booking opens for a schedule (epoch ms), nullopt when there is no such schedule.
    using OpeningLookup = std::function<boost::asio::awaitable<std::optional<std::int64_t>>(std::int64_t)>;

    /// `room` must outlive the routes and every event stream they start. Without `schedule_exists` (tests of
    /// the waiting room alone) every schedule id is taken as existing.
    explicit Routes(std::shared_ptr<WaitingRoom> room, ScheduleCheck schedule_exists = {})
        : room_(std::move(room)), schedule_exists_(std::move(schedule_exists)) {}

    void add_to(http::Router& router);
    /// The sold-out signal (ADR 0018): joins of a sold-out schedule get 410 `sold-out`, bodies say `soldOut`.
    void set_sold_out(std::shared_ptr<SoldOut> sold_out) { sold_out_ = std::move(sold_out); }
    /// The operators' controls (ADR 0027): joins of a schedule whose sales were closed get 403
    /// `sales-closed`; a pause or resume wakes the schedule's held polls (ADR 0049, amended).
    void set_controls(std::shared_ptr<Controls> controls);
    /// The fair start (ADR 0026): with it, a join before the opening is PRE_QUEUE and answers `opensAt`, and
    /// it replaces `schedule_exists` (a schedule with no opening does not exist).
    void set_opening(OpeningLookup opening) { opening_ = std::move(opening); }
    /// Proof of work at the door (ADR 0026): adds the challenge route, and joins need a solved challenge
    /// while the schedule's difficulty is above 0.
    void set_pow(std::shared_ptr<ProofOfWork> pow) { pow_ = std::move(pow); }
    /// ADR 0036: joins wait in this line (arrival order) for one of its places before any work, the JWT
    /// check included. Without it every join starts at once.
    void set_join_line(std::shared_ptr<JoinLine> line) { join_line_ = std::move(line); }

    /// POST /api/v1/schedules/{scheduleId}/queue
    boost::asio::awaitable<http::Response> join(http::Context& ctx);
    /// POST /api/v1/schedules/{scheduleId}/queue/challenge
    boost::asio::awaitable<http::Response> challenge(http::Context& ctx);
    /// GET /api/v1/queue/me?scheduleId=[&waitMs=] (waitMs: ADR 0049)
    boost::asio::awaitable<http::Response> me(http::Context& ctx);
    /// GET /api/v1/queue/me/events?scheduleId= (Server-Sent Events)
    boost::asio::awaitable<http::Response> events(http::Context& ctx);

  private:
    /// Whether an operator has paused the schedule's admission (this process's copy of the controls).
    bool paused(std::int64_t schedule_id) const;
    /// When a PRE_QUEUE token's schedule opens (epoch ms); 0 for any other state.
    boost::asio::awaitable<std::int64_t> opens_at_of(TokenState state, std::int64_t schedule_id);
    boost::asio::awaitable<std::optional<TokenStatus>> poll_token(std::string user_id,
                                                                  std::int64_t schedule_id);
    /// Whether this process knows the schedule is sold out.
    bool gone(std::int64_t schedule_id) const;
    /// ADR 0049: holds a WAITING fan's poll until its state may have changed or the hold's timeout.
    boost::asio::awaitable<std::optional<TokenStatus>> hold(std::string user_id, std::int64_t schedule_id,
                                                            TokenStatus status, std::int64_t wait_ms);
    boost::asio::awaitable<void> check_pow(http::Context& ctx, std::string user_id, std::int64_t schedule_id);

    std::shared_ptr<WaitingRoom> room_;
    ScheduleCheck schedule_exists_;
    std::shared_ptr<SoldOut> sold_out_;
    std::shared_ptr<Controls> controls_;
    OpeningLookup opening_;
    std::shared_ptr<ProofOfWork> pow_;
    std::shared_ptr<JoinLine> join_line_;
};

}  // namespace marquee::queue
