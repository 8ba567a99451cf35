#include "services/queue/gate.hpp"

#include <utility>

#include "core/problem.hpp"
#include "services/queue/controls.hpp"
#include "services/queue/token_id.hpp"
#include "services/queue/token_rules.hpp"
#include "services/queue/waiting_room.hpp"

namespace marquee::queue {

namespace asio = boost::asio;

asio::awaitable<std::string> Gate::require_active(std::string user_id, std::int64_t schedule_id,
                                                  std::string token) {
    if (token.empty()) {
        throw core::Problem::forbidden("queue-token-required",
                                       "This call needs an ACTIVE queue token in the X-Queue-Token header.");
    }
    const std::optional<std::string> id = normalize_token_id(token);
    if (!id) {
        throw core::Problem::forbidden("queue-token-invalid",
                                       "The queue token is not valid for this schedule.");
    }
    const GateCheck check = co_await room_.check(user_id, schedule_id, *id);
    switch (check.outcome) {
        case GateOutcome::Active:
            co_return *id;
        case GateOutcome::Waiting:
            // Position 0: PRE_QUEUE (ADR 0026), which has no place before the opening's shuffle.
            if (check.position == 0) {
                throw core::Problem::forbidden(
                    "queue-not-admitted", "The queue token is in the pre-queue; booking has not opened.");
            }
            if (controls_ && controls_->get(schedule_id).paused) {
                // ADR 0033: nobody is admitted while paused, so no countdown.
                throw core::Problem::forbidden("queue-not-admitted",
                                               "The queue token is waiting; admission is paused for now.")
                    .with("position", check.position)
                    .with("paused", true);
            }
            throw core::Problem::forbidden("queue-not-admitted", "The queue token is still waiting its turn.")
                .with("position", check.position)
                .with("etaSeconds", eta_seconds(check.position, room_.eta_rate(schedule_id)));
        case GateOutcome::Ended:
            throw core::Problem::gone("queue-token-expired",
                                      "The queue token has expired or was used; join the queue again.");
        case GateOutcome::Invalid:
            break;
    }
    throw core::Problem::forbidden("queue-token-invalid", "The queue token is not valid for this schedule.");
}

Gate::Function Gate::as_function() {
    return [this](std::string user_id, std::int64_t schedule_id, std::string token) {
        return require_active(std::move(user_id), schedule_id, std::move(token));
    };
}

}  // namespace marquee::queue
