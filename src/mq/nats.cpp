#include "mq/nats.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <type_traits>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nats/nats.h>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/problem.hpp"

namespace marquee::mq {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDependency = "nats";
/// The JetStream API prefix, given to libnats and used for the pull requests Consumer::fetch sends itself
/// (ADR 0051): one constant, so the two cannot disagree.
constexpr const char* kJsApiPrefix = "$JS.API";

struct OptionsFree {
    void operator()(natsOptions* options) const noexcept { natsOptions_Destroy(options); }
};
struct MsgFree {
    void operator()(natsMsg* msg) const noexcept { natsMsg_Destroy(msg); }
};
struct PubAckFree {
    void operator()(jsPubAck* ack) const noexcept { jsPubAck_Destroy(ack); }
};
struct MetaDataFree {
    void operator()(jsMsgMetaData* meta) const noexcept { jsMsgMetaData_Destroy(meta); }
};

std::int64_t nanoseconds(std::chrono::milliseconds duration) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
}

/// Ends a failed libnats call: the status text, the JetStream error code, and libnats' own message
/// (thread-local, so read on the worker thread that made the call).
[[noreturn]] void fail(const std::string& what, natsStatus status,
                       jsErrCode code = static_cast<jsErrCode>(0)) {
    std::string detail = what + " failed: " + natsStatus_GetText(status);
    if (code != 0) detail += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
    const char* last = nats_GetLastError(nullptr);
    if (last != nullptr && *last != '\0') detail += ": " + std::string(last);
    throw core::Problem::unavailable(kDependency, std::move(detail));
}

void on_reconnected(natsConnection*, void*) {
    core::log_info("nats reconnected");
}
void on_connected(natsConnection*, void*) {
    core::log_info("nats connected");
}

}  // namespace

std::vector<std::string> split_urls(std::string_view list) {
    std::vector<std::string> urls;
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        std::string_view url = list.substr(start, comma - start);
        while (!url.empty() && url.front() == ' ') url.remove_prefix(1);
        while (!url.empty() && url.back() == ' ') url.remove_suffix(1);
        if (!url.empty()) urls.emplace_back(url);
        start = comma + 1;
    }
    return urls;
}

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
    const auto it =
        std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

struct Nats::Impl {
    explicit Impl(NatsOptions opts);
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    jsOptions js_options(std::int64_t wait_ms) const {
        jsOptions options;
        jsOptions_Init(&options);
        options.Prefix = kJsApiPrefix;
        options.Wait = wait_ms;
        return options;
    }

    void require_connected() const {
        if (natsConnection_Status(connection) != NATS_CONN_STATUS_CONNECTED) {
            throw core::Problem::unavailable(kDependency, "not connected to nats (reconnecting)");
        }
    }

    /// Runs `work(remaining_ms)` on the worker pool, never on the caller's thread, and resumes the caller
    /// on its own executor with the result or the exception. `budget` counts from now, so time spent
    /// queued for a worker is part of the deadline.
    template <typename Work>
    awaitable<std::invoke_result_t<Work&, std::int64_t>> offload(std::chrono::milliseconds budget, Work work);

    /// Called by ~Nats: runs the queued and running blocking calls to their end (they are bounded), so no
    /// worker posts to a caller's io_context after the owner is gone. Idempotent.
    void shut_down() {
        shut.store(true);
        pool.join();
    }

    NatsOptions options;
    std::atomic<bool> shut{false};  ///< ~Nats ran: the worker pool is joined and takes no more calls
    asio::thread_pool pool;
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
};

namespace {

void on_disconnected(natsConnection* connection, void*) {
    // Our own close (~Impl) is not an outage. The status, not a flag in Nats::Impl: libnats runs this on its
    // callback thread after natsConnection_Destroy has returned, when the Impl may be gone (it keeps the
    // connection itself alive for the callback); it set the status to closed before queueing it.
    if (!natsConnection_IsClosed(connection)) core::log_warn("nats disconnected, reconnecting");
}

}  // namespace

struct Consumer::Impl {
    ~Impl() {
        // Unsubscribes; the durable stays on the server, since we bound to it rather than let
        // libnats create it (libnats deletes consumers its own subscribe created).
        natsSubscription_Destroy(subscription);
    }

    natsSubscription* subscription = nullptr;
    std::shared_ptr<Nats::Impl> owner;
    std::string
        next_subject;  ///< the consumer's pull-request subject ($JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>)
    std::atomic<bool> fetching{false};
};

struct Message::Impl {
    ~Impl() {
        // Dropped without ack, nak or term (its process stopped between fetch and apply, or the handler
        // that would have applied it was destroyed with a stopped io_context): hand it back now, so another
        // consumer of the durable gets it at once instead of after ack_wait (docs/decisions/0014).
        if (msg != nullptr && !settled.load() && owner && owner->connection != nullptr &&
            natsConnection_Status(owner->connection) == NATS_CONN_STATUS_CONNECTED) {
            natsMsg_Nak(msg, nullptr);
        }
        natsMsg_Destroy(msg);
    }

    natsMsg* msg = nullptr;
    std::shared_ptr<Nats::Impl> owner;
    std::shared_ptr<Consumer::Impl> consumer;  ///< its subscription must outlive the message's ack
    std::string subject;
    std::string data;
    Headers headers;
    std::uint64_t delivered = 0;
    std::uint64_t sequence = 0;
    std::atomic<bool> settled{false};  ///< acked, naked or terminated
};

template <typename Work>
awaitable<std::invoke_result_t<Work&, std::int64_t>> Nats::Impl::offload(std::chrono::milliseconds budget,
                                                                         Work work) {
    using Result = std::invoke_result_t<Work&, std::int64_t>;
    // A joined pool runs nothing: fail instead of suspending forever.
    if (shut.load()) throw core::Problem::unavailable(kDependency, "the nats client is shut down");
    const Clock::time_point deadline = Clock::now() + budget;
    auto token = asio::use_awaitable;
    std::optional<Result> result =
        co_await asio::async_initiate<decltype(token), void(std::exception_ptr, std::optional<Result>)>(
            [this, deadline](auto handler, Work work) {
                // Keeps the caller's execution context alive until we hand the result back.
                auto home = asio::prefer(asio::get_associated_executor(handler),
                                         asio::execution::outstanding_work.tracked);
                asio::post(pool, [handler = std::move(handler), home = std::move(home), deadline,
                                  work = std::optional<Work>(std::move(work))]() mutable {
                    std::exception_ptr error;
                    std::optional<Result> value;
                    try {
                        const auto remaining =
                            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                                .count();
                        if (remaining <= 0) {
                            throw core::Problem::unavailable(kDependency,
                                                             "no nats worker free before the deadline");
                        }
                        value.emplace((*work)(remaining));
                    } catch (...) {
                        error = std::current_exception();
                    }
                    // Drop what the work captured here, before the caller resumes and may release the
                    // last reference to Nats::Impl (whose destructor joins this pool).
                    work.reset();
                    asio::post(home,
                               [handler = std::move(handler), error, value = std::move(value)]() mutable {
                                   std::move(handler)(error, std::move(value));
                               });
                });
            },
            token, std::move(work));
    co_return std::move(*result);
}

Nats::Impl::Impl(NatsOptions opts)
    : options(std::move(opts)), pool(std::max<std::size_t>(1, options.worker_threads)) {
    natsOptions* raw = nullptr;
    if (natsOptions_Create(&raw) != NATS_OK) throw std::runtime_error("natsOptions_Create failed");
    const std::unique_ptr<natsOptions, OptionsFree> nats_options(raw);
    const auto timeout = static_cast<std::int64_t>(options.timeout.count());
    // libnats' SetURL takes one URL (it reads "a,b" as one unreachable server); a cluster's nodes go to
    // SetServers, which tries them in turn and, after a node dies, reconnects to another.
    const std::vector<std::string> urls = split_urls(options.url);
    if (urls.empty()) throw core::ConfigError("nats url '" + options.url + "': no server named");
    std::vector<const char*> servers;
    servers.reserve(urls.size());
    for (const std::string& url : urls) servers.push_back(url.c_str());
    const natsStatus set =
        urls.size() == 1 ? natsOptions_SetURL(raw, servers[0])
                         : natsOptions_SetServers(raw, servers.data(), static_cast<int>(servers.size()));
    if (set != NATS_OK) {
        throw core::ConfigError("nats url '" + options.url + "': " + nats_GetLastError(nullptr));
    }
    natsOptions_SetName(raw, options.name.c_str());
    natsOptions_SetTimeout(raw, timeout);
    // Reconnect forever; while disconnected, publishes and other requests fail at once (503) instead
    // of waiting out their deadline, and a first connect that fails keeps retrying in the background.
    natsOptions_SetAllowReconnect(raw, true);
    natsOptions_SetMaxReconnect(raw, -1);
    natsOptions_SetReconnectWait(raw, 1000);
    natsOptions_SetFailRequestsOnDisconnect(raw, true);
    natsOptions_SetRetryOnFailedConnect(raw, true, &on_connected, nullptr);
    natsOptions_SetDisconnectedCB(raw, &on_disconnected, nullptr);
    natsOptions_SetReconnectedCB(raw, &on_reconnected, nullptr);

    const natsStatus connected = natsConnection_Connect(&connection, raw);
    if (connected != NATS_OK && connected != NATS_NOT_YET_CONNECTED) {
        throw core::ConfigError("nats '" + options.url + "': " + natsStatus_GetText(connected) + ": " +
                                nats_GetLastError(nullptr));
    }
    if (connected == NATS_NOT_YET_CONNECTED) {
        core::log_warn("nats not reachable yet, retrying in the background");
    }
    jsOptions js_defaults = js_options(timeout);
    if (const natsStatus s = natsConnection_JetStream(&js, connection, &js_defaults); s != NATS_OK) {
        natsConnection_Destroy(connection);
        throw std::runtime_error(std::string("natsConnection_JetStream failed: ") + natsStatus_GetText(s));
    }
}

Nats::Impl::~Impl() {
    shut_down();  // every blocking call is bounded by its deadline
    jsCtx_Destroy(js);
    natsConnection_Destroy(connection);
}

Nats::Nats(NatsOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Nats::~Nats() {
    // The Impl may outlive us (a suspended fetch loop holds it through its Consumer), but its workers must
    // not: one still blocked in a fetch would post its result to the caller's io_context after the
    // application destroyed it (the ASan heap-use-after-free at marquee's shutdown, docs/reliability.md).
    if (impl_) impl_->shut_down();
}
Nats::Nats(Nats&&) noexcept = default;
Nats& Nats::operator=(Nats&& other) noexcept {
    if (this != &other) {
        if (impl_) impl_->shut_down();
        impl_ = std::move(other.impl_);
    }
    return *this;
}

awaitable<bool> Nats::ping() {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [raw = impl.get()](std::int64_t remaining) {
        if (natsConnection_Status(raw->connection) != NATS_CONN_STATUS_CONNECTED) return false;
        return natsConnection_FlushTimeout(raw->connection, remaining) == NATS_OK;
    };
    try {
        co_return co_await impl->offload(impl->options.timeout, std::move(work));
    } catch (const std::exception&) {
        co_return false;
    }
}

awaitable<void> Nats::ensure_stream(StreamSpec spec) {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [raw = impl.get(), spec = std::move(spec)](std::int64_t remaining) {
        raw->require_connected();
        std::vector<const char*> subjects;
        for (const std::string& subject : spec.subjects) subjects.push_back(subject.c_str());
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = spec.name.c_str();
        config.Subjects = subjects.data();
        config.SubjectsLen = static_cast<int>(subjects.size());
        config.Duplicates = nanoseconds(spec.duplicate_window);
        config.MaxAge = nanoseconds(spec.max_age);
        config.Replicas = spec.replicas;
        jsOptions options = raw->js_options(remaining);
        jsStreamInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        natsStatus status = js_AddStream(&info, raw->js, &config, &options, &code);
        jsStreamInfo_Destroy(info);
        if (status != NATS_OK && code == JSStreamNameExistErr) {
            // Exists with another configuration (an identical one is not an error): bring it to spec.
            info = nullptr;
            status = js_UpdateStream(&info, raw->js, &config, &options, &code);
            jsStreamInfo_Destroy(info);
        }
        if (status != NATS_OK) fail("creating stream " + spec.name, status, code);
        return true;
    };
    co_await impl->offload(impl->options.timeout, std::move(work));
}

awaitable<void> Nats::delete_stream(std::string name) {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [raw = impl.get(), name = std::move(name)](std::int64_t remaining) {
        raw->require_connected();
        jsOptions options = raw->js_options(remaining);
        jsErrCode code = static_cast<jsErrCode>(0);
        const natsStatus status = js_DeleteStream(raw->js, name.c_str(), &options, &code);
        if (status != NATS_OK && code != JSStreamNotFoundErr) fail("deleting stream " + name, status, code);
        return true;
    };
    co_await impl->offload(impl->options.timeout, std::move(work));
}

awaitable<PublishAck> Nats::publish(std::string subject, std::string payload, std::string msg_id,
                                    Headers headers) {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [raw = impl.get(), subject = std::move(subject), payload = std::move(payload),
                 msg_id = std::move(msg_id), headers = std::move(headers)](std::int64_t remaining) {
        raw->require_connected();
        natsMsg* created = nullptr;
        natsStatus status = natsMsg_Create(&created, subject.c_str(), nullptr, payload.data(),
                                           static_cast<int>(payload.size()));
        if (status != NATS_OK) fail("building a message for " + subject, status);
        const std::unique_ptr<natsMsg, MsgFree> msg(created);
        for (const auto& [name, value] : headers) {
            status = natsMsgHeader_Add(created, name.c_str(), value.c_str());
            if (status != NATS_OK) fail("setting header " + name, status);
        }
        jsPubOptions options;
        jsPubOptions_Init(&options);
        options.MaxWait = remaining;
        if (!msg_id.empty()) options.MsgId = msg_id.c_str();  // becomes the Nats-Msg-Id header
        jsPubAck* acked = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        status = js_PublishMsg(&acked, raw->js, created, &options, &code);
        const std::unique_ptr<jsPubAck, PubAckFree> ack(acked);
        if (status == NATS_NO_RESPONDERS) {
            throw core::Problem::unavailable(kDependency, "no JetStream stream stores subject " + subject);
        }
        if (status != NATS_OK) fail("publishing to " + subject, status, code);
        return PublishAck{ack->Stream != nullptr ? ack->Stream : "", ack->Sequence, ack->Duplicate};
    };
    co_return co_await impl->offload(impl->options.timeout, std::move(work));
}

awaitable<Consumer> Nats::pull_consumer(ConsumerSpec spec) {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [impl, spec = std::move(spec)](std::int64_t remaining) {
        Impl* raw = impl.get();
        raw->require_connected();
        jsConsumerConfig config;
        jsConsumerConfig_Init(&config);
        config.Durable = spec.durable.c_str();
        config.AckPolicy = js_AckExplicit;
        config.DeliverPolicy = js_DeliverAll;
        config.AckWait = nanoseconds(spec.ack_wait);
        config.MaxDeliver = spec.max_deliver;
        if (!spec.filter_subject.empty()) config.FilterSubject = spec.filter_subject.c_str();
        jsOptions options = raw->js_options(remaining);
        jsConsumerInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        natsStatus status = js_AddConsumer(&info, raw->js, spec.stream.c_str(), &config, &options, &code);
        jsConsumerInfo_Destroy(info);
        if (status != NATS_OK) {
            // Exists with another configuration: bring it to spec, or report why we could not add it.
            const natsStatus add_status = status;
            const jsErrCode add_code = code;
            info = nullptr;
            status = js_UpdateConsumer(&info, raw->js, spec.stream.c_str(), &config, &options, &code);
            jsConsumerInfo_Destroy(info);
            if (status != NATS_OK) {
                fail("creating consumer " + spec.durable + " on " + spec.stream, add_status, add_code);
            }
        }
        jsSubOptions bind;
        jsSubOptions_Init(&bind);
        bind.Stream = spec.stream.c_str();
        bind.Consumer = spec.durable.c_str();
        natsSubscription* subscription = nullptr;
        status = js_PullSubscribe(&subscription, raw->js, spec.filter_subject.c_str(), spec.durable.c_str(),
                                  &options, &bind, &code);
        if (status != NATS_OK) fail("subscribing to consumer " + spec.durable, status, code);
        auto consumer = std::make_shared<Consumer::Impl>();
        consumer->subscription = subscription;
        consumer->owner = impl;
        consumer->next_subject =
            std::string(kJsApiPrefix) + ".CONSUMER.MSG.NEXT." + spec.stream + "." + spec.durable;
        return consumer;
    };
    std::shared_ptr<Consumer::Impl> consumer = co_await impl->offload(impl->options.timeout, std::move(work));
    co_return Consumer(std::move(consumer));
}

awaitable<std::vector<Message>> Consumer::fetch(std::size_t max, std::chrono::milliseconds wait) {
    const std::shared_ptr<Impl> impl = impl_;
    if (!impl) throw std::logic_error("fetch on an empty mq::Consumer");
    if (max == 0) co_return std::vector<Message>{};
    if (impl->fetching.exchange(true)) throw std::logic_error("mq::Consumer::fetch is already running");
    struct Done {
        std::atomic<bool>& flag;
        ~Done() { flag.store(false); }
    } done{impl->fetching};

    const std::int64_t wait_ms = std::max<std::int64_t>(1, wait.count());
    auto work = [consumer = impl, max, wait_ms](std::int64_t) {
        consumer->owner->require_connected();
        natsSubscription* subscription = consumer->subscription;
        // ADR 0051: libnats 3.4.1's fetch of a batch above one can return more messages than the batch,
        // written past the end of the array it allocated for them (the heap corruption of
        // docs/reliability.md): after taking k messages already queued in the subscription it asks the
        // server for batch - k more and then waits until its count equals batch - k, which a count already
        // above it never does. A fetch of one cannot: it takes one queued message and returns, or asks for
        // one and waits for it. So every libnats fetch here is of one. To still move a batch per round trip,
        // one pull request of our own asks for up to `max` when nothing is queued; its messages land in the
        // subscription's queue, where the fetches of one take them without asking the server again.
        int queued = 0;
        int queued_bytes = 0;
        natsSubscription_GetPending(subscription, &queued, &queued_bytes);
        if (queued == 0 && max > 1) {
            const std::string request = "{\"batch\":" + std::to_string(max) +
                                        ",\"expires\":" + std::to_string(wait_ms * 1'000'000) + "}";
            const natsStatus asked = natsConnection_PublishRequestString(
                consumer->owner->connection, consumer->next_subject.c_str(),
                natsSubscription_GetSubject(subscription), request.c_str());
            if (asked != NATS_OK) fail("asking a nats consumer for messages", asked);
        }
        // Owned until each is handed to a Message: an exception on the way destroys the rest.
        std::vector<std::unique_ptr<natsMsg, MsgFree>> taken;
        taken.reserve(max);
        std::int64_t wait_for = wait_ms;  // the first waits; the rest only take what is already queued
        while (taken.size() < max) {
            if (!taken.empty()) {
                natsSubscription_GetPending(subscription, &queued, &queued_bytes);
                if (queued <= 0) break;
            }
            natsMsgList one{nullptr, 0};
            jsErrCode code = static_cast<jsErrCode>(0);
            const natsStatus status = natsSubscription_Fetch(&one, subscription, 1, wait_for, &code);
            if (status == NATS_TIMEOUT) break;  // nothing (more) arrived within the wait
            if (status != NATS_OK) fail("fetching from a nats consumer", status, code);
            if (one.Count != 1) {
                // A fetch of one that returns another count is not the library this was written for: its
                // writes may have left its array already. Stop with the cause rather than fail elsewhere.
                core::log_error("nats fetch of one returned another count: aborting", {{"count", one.Count}});
                std::abort();
            }
            taken.emplace_back(std::exchange(one.Msgs[0], nullptr));
            natsMsgList_Destroy(&one);
            wait_for = 1;
        }
        std::vector<Message> messages;
        messages.reserve(taken.size());
        for (auto& taken_msg : taken) {
            auto message = std::make_shared<Message::Impl>();
            message->msg = taken_msg.release();
            message->owner = consumer->owner;
            message->consumer = consumer;
            natsMsg* msg = message->msg;
            message->subject = natsMsg_GetSubject(msg);
            message->data.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
            const char** keys = nullptr;
            int key_count = 0;
            if (natsMsgHeader_Keys(msg, &keys, &key_count) == NATS_OK) {
                for (int k = 0; k < key_count; ++k) {
                    const char** values = nullptr;
                    int value_count = 0;
                    if (natsMsgHeader_Values(msg, keys[k], &values, &value_count) != NATS_OK) continue;
                    for (int v = 0; v < value_count; ++v) {
                        message->headers.emplace_back(keys[k], values[v]);
                    }
                    std::free(static_cast<void*>(values));
                }
                std::free(static_cast<void*>(keys));
            }
            jsMsgMetaData* meta = nullptr;
            if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
                const std::unique_ptr<jsMsgMetaData, MetaDataFree> owned(meta);
                message->delivered = meta->NumDelivered;
                message->sequence = meta->Sequence.Stream;
            }
            messages.emplace_back(std::move(message));
        }
        return messages;
    };
    co_return co_await impl->owner->offload(wait + impl->owner->options.timeout, std::move(work));
}

const std::string& Message::subject() const {
    return impl_->subject;
}
const std::string& Message::data() const {
    return impl_->data;
}
const Headers& Message::headers() const {
    return impl_->headers;
}
std::uint64_t Message::delivery_count() const {
    return impl_->delivered;
}
std::uint64_t Message::stream_sequence() const {
    return impl_->sequence;
}

awaitable<void> Message::ack() {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [message = impl.get()](std::int64_t remaining) {
        jsOptions options = message->owner->js_options(remaining);
        jsErrCode code = static_cast<jsErrCode>(0);
        const natsStatus status = natsMsg_AckSync(message->msg, &options, &code);
        if (status != NATS_OK) {
            fail("acknowledging message " + std::to_string(message->sequence), status, code);
        }
        message->settled.store(true);
        return true;
    };
    co_await impl->owner->offload(impl->owner->options.timeout, std::move(work));
}

awaitable<void> Message::nak(std::chrono::milliseconds delay) {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [message = impl.get(), delay](std::int64_t) {
        const natsStatus status = delay.count() > 0
                                      ? natsMsg_NakWithDelay(message->msg, delay.count(), nullptr)
                                      : natsMsg_Nak(message->msg, nullptr);
        if (status != NATS_OK) fail("nak of message " + std::to_string(message->sequence), status);
        message->settled.store(true);
        return true;
    };
    co_await impl->owner->offload(impl->owner->options.timeout, std::move(work));
}

awaitable<void> Message::term() {
    const std::shared_ptr<Impl> impl = impl_;
    auto work = [message = impl.get()](std::int64_t) {
        const natsStatus status = natsMsg_Term(message->msg, nullptr);
        if (status != NATS_OK) fail("term of message " + std::to_string(message->sequence), status);
        message->settled.store(true);
        return true;
    };
    co_await impl->owner->offload(impl->owner->options.timeout, std::move(work));
}

}  // namespace marquee::mq
