// ProofOfWork's one coroutine, apart from pow.cpp so that the fuzz harnesses compile the challenge and its
// verification alone (clang's -fsanitize=fuzzer cannot compile Asio coroutines, fuzz/CMakeLists.txt).
#include <algorithm>

#include "services/queue/pow.hpp"

namespace marquee::queue {

boost::asio::awaitable<int> ProofOfWork::difficulty_for(std::int64_t schedule_id) const {
    if (source_) {
        if (const std::optional<int> chosen = co_await source_(schedule_id)) co_return std::max(*chosen, 0);
    }
    {
        std::lock_guard lock(mutex_);
        if (const auto it = overrides_.find(schedule_id); it != overrides_.end()) co_return it->second;
    }
    co_return default_difficulty_;
}

}  // namespace marquee::queue
