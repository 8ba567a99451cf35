#pragma once

// A suspended coroutine's completion handler, type-erased, with the executor it resumes on. db/ only.
//
// Not boost::asio::any_completion_handler: in Boost 1.81 its move assignment recurses until the stack
// overflows, and posting it frees memory through an allocator that points at the moved-from object.

#include <memory>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

namespace marquee::db::detail {

class Parked {
  public:
    Parked() = default;

    /// `fallback` is used only if the handler has no associated executor (coroutine handlers always do).
    template <class Handler>
    Parked(Handler handler, const boost::asio::any_io_executor& fallback)
        : executor_(boost::asio::get_associated_executor(handler, fallback)),
          handler_(std::make_unique<Holder<Handler>>(std::move(handler))) {}

    explicit operator bool() const noexcept { return handler_ != nullptr; }

    /// Resumes the coroutine on its own executor, never inline on the caller's stack. Once only.
    void resume() {
        auto executor = std::move(executor_);
        boost::asio::post(executor, [handler = std::move(handler_)]() { handler->call(); });
    }

  private:
    struct Base {
        virtual ~Base() = default;
        virtual void call() = 0;
    };
    template <class Handler>
    struct Holder final : Base {
        explicit Holder(Handler h) : handler(std::move(h)) {}
        void call() override { std::move(handler)(); }
        Handler handler;
    };

    boost::asio::any_io_executor executor_;
    std::unique_ptr<Base> handler_;
};

}  // namespace marquee::db::detail
