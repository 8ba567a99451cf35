#include "services/catalog/availability_reconcile.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/problem.hpp"
#include "redis/client.hpp"
#include "redis/script.hpp"
#include "services/catalog/availability.hpp"
#include "services/catalog/rules.hpp"
#include "services/catalog/store.hpp"

namespace marquee::catalog {

namespace asio = boost::asio;

namespace {

// KEYS: lease. ARGV: owner, ttl ms. 1 when the caller holds the lease now (renewed or taken), else 0.
const redis::Script& lease_script() {
    static const redis::Script script(R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua");
    return script;
}

SeatState state_in(const Availability& bits, std::int32_t index) {
    if (bit_at(bits.sold, index)) return SeatState::Sold;
    if (bit_at(bits.taken, index)) return SeatState::Held;
    return SeatState::Available;
}

}  // namespace

AvailabilityReconciler::AvailabilityReconciler(Store& store, AvailabilityBitset& bitset, redis::Client& redis,
                                               core::MetricsRegistry& metrics, ReconcileSettings settings,
                                               std::string owner)
    : store_(store),
      bitset_(bitset),
      redis_(redis),
      fixes_(metrics
                 .counter("availability_reconcile_fixes_total",
                          "Seats whose availability bits the reconcile repaired from booking.seat_states()")
                 .with({})),
      passes_(metrics
                  .counter("availability_reconcile_passes_total",
                           "Reconcile passes run by this replica while it held the lease")
                  .with({})),
      settings_(std::move(settings)),
      owner_(std::move(owner)) {}

asio::awaitable<bool> AvailabilityReconciler::hold_lease() {
    std::vector<std::string> keys{settings_.lease_key};
    std::vector<std::string> args{owner_, std::to_string((settings_.period * 3).count())};
    const redis::Script& script = lease_script();
    const redis::Reply reply = co_await redis_.eval(script, std::move(keys), std::move(args));
    co_return reply.or_throw().as_integer() == 1;
}

asio::awaitable<AvailabilityReconciler::Pass> AvailabilityReconciler::pass_once() {
    Pass pass;
    if (!co_await hold_lease()) {
        // Another replica walks; what this one suspected may be stale by the time it leads again.
        suspects_.clear();
        co_return pass;
    }
    pass.leader = true;
    passes_.inc();
    const int limit = static_cast<int>(std::max<std::size_t>(1, settings_.schedules_per_pass));
    std::vector<std::int64_t> ids = co_await store_.schedules_on_sale(cursor_, limit);
    if (ids.size() < static_cast<std::size_t>(limit) && cursor_ != 0) {
        // The walk reached the end: start again from the first schedule, within this pass's budget.
        std::vector<std::int64_t> wrapped =
            co_await store_.schedules_on_sale(0, limit - static_cast<int>(ids.size()));
        for (const std::int64_t id : wrapped) {
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
        }
    }
    for (const std::int64_t id : ids) {
        co_await reconcile(id, pass);
        cursor_ = id;
    }
    if (ids.empty()) cursor_ = 0;
    // Suspects of schedules that left the sale are forgotten.
    for (auto it = suspects_.begin(); it != suspects_.end();) {
        it = it->second.empty() ? suspects_.erase(it) : std::next(it);
    }
    co_return pass;
}

asio::awaitable<AvailabilityReconciler::Pass> AvailabilityReconciler::reconcile_schedule(
    std::int64_t schedule_id) {
    Pass pass;
    pass.leader = true;
    co_await reconcile(schedule_id, pass);
    co_return pass;
}

asio::awaitable<void> AvailabilityReconciler::reconcile(std::int64_t schedule_id, Pass& pass) {
    // Redis first, then booking: an event applied after this read moves the version and the repair below
    // does nothing; an event committed after booking's read is newer than what we would write, and is
    // applied after it.
    const Availability seen = co_await bitset_.read(schedule_id);
    if (!seen.built) co_return;  // never read yet: its first read rebuilds it from booking
    ++pass.schedules;
    const std::vector<std::pair<std::int32_t, SeatState>> live = co_await store_.live_seats(schedule_id);
    std::map<std::int32_t, SeatState> truth(live.begin(), live.end());

    std::map<std::int32_t, SeatState> differs;
    for (const auto& [index, state] : truth) {
        if (state_in(seen, index) != state) differs.emplace(index, state);
    }
    // Bits set in Redis for seats booking calls free.
    const std::size_t bytes = std::max(seen.taken.size(), seen.sold.size());
    for (std::size_t byte = 0; byte < bytes; ++byte) {
        const auto t = byte < seen.taken.size() ? static_cast<unsigned char>(seen.taken[byte]) : 0u;
        const auto s = byte < seen.sold.size() ? static_cast<unsigned char>(seen.sold[byte]) : 0u;
        if ((t | s) == 0) continue;
        for (int bit = 0; bit < 8; ++bit) {
            const auto index = static_cast<std::int32_t>(byte * 8 + static_cast<std::size_t>(bit));
            if (((t | s) & (0x80u >> bit)) != 0 && !truth.contains(index)) {
                differs.emplace(index, SeatState::Available);
            }
        }
    }

    std::map<std::int32_t, SeatState>& previous = suspects_[schedule_id];
    std::vector<std::pair<std::int32_t, SeatState>> repair;
    for (const auto& [index, state] : differs) {
        const auto it = previous.find(index);
        if (it != previous.end() && it->second == state) repair.emplace_back(index, state);
    }
    pass.suspects += differs.size() - repair.size();
    previous = differs;
    if (repair.empty()) co_return;
    const std::optional<std::int64_t> version = co_await bitset_.fix(schedule_id, seen.version, repair);
    if (!version) {
        ++pass.conflicts;  // an event landed meanwhile: compare again next pass
        co_return;
    }
    for (const auto& [index, state] : repair) previous.erase(index);
    pass.fixed += repair.size();
    fixes_.inc(repair.size());
    core::log_warn("availability repaired from booking.seat_states",
                   {{"schedule_id", schedule_id}, {"seats", repair.size()}, {"version", *version}});
}

asio::awaitable<void> AvailabilityReconciler::run() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    bool failing = false;
    while (!stopped_) {
        try {
            co_await pass_once();
            if (failing) core::log_info("availability reconcile recovered");
            failing = false;
        } catch (const core::Problem& problem) {
            if (!failing) {
                core::log_warn("availability reconcile failing, retrying", {{"error", problem.detail()}});
            }
            failing = true;
            suspects_.clear();
        }
        timer.expires_after(settings_.period);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

}  // namespace marquee::catalog
