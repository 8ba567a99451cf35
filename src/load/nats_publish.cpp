#include "load/nats_publish.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include <nats/nats.h>
#include <unistd.h>

namespace marquee::load {

namespace {

struct Acks {
    std::atomic<std::uint64_t> acked{0};
    std::atomic<std::uint64_t> errors{0};
};

void on_ack(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr* error, void* closure) {
    auto* acks = static_cast<Acks*>(closure);
    if (error != nullptr) {
        ++acks->errors;
    } else {
        ++acks->acked;
    }
    natsMsg_Destroy(msg);
}

void check(natsStatus status, const char* what) {
    if (status != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(status));
}

}  // namespace

boost::json::object nats_publish(const NatsPublishOptions& o) {
    natsOptions* options = nullptr;
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
    Acks acks;
    const std::string stream = "LOADBENCH_" + std::to_string(getpid());
    const std::string subject = "loadbench." + std::to_string(getpid());
    double seconds = 0;
    std::string failure;
    try {
        check(natsOptions_Create(&options), "nats options");
        check(natsOptions_SetURL(options, o.url.c_str()), "nats url");
        check(natsConnection_Connect(&connection, options), ("connect " + o.url).c_str());
        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.PublishAsync.MaxPending = std::max(1, o.max_pending);
        js_options.PublishAsync.AckHandler = on_ack;
        js_options.PublishAsync.AckHandlerClosure = &acks;
        // With max_pending in flight a publish waits for room; the default 200 ms fails it on a busy machine.
        js_options.PublishAsync.StallWait = 30'000;
        check(natsConnection_JetStream(&js, connection, &js_options), "jetstream");
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = stream.c_str();
        const char* subjects[] = {subject.c_str()};
        config.Subjects = subjects;
        config.SubjectsLen = 1;
        config.Storage = js_FileStorage;
        jsStreamInfo* info = nullptr;
        jsErrCode code{};
        check(js_AddStream(&info, js, &config, nullptr, &code), "add stream");
        jsStreamInfo_Destroy(info);

        const std::string payload(o.payload, 'x');
        const auto start = std::chrono::steady_clock::now();
        for (std::uint64_t i = 0; i < o.messages; ++i) {
            if (o.max_pending <= 1) {
                jsPubAck* ack = nullptr;
                const auto status = js_Publish(&ack, js, subject.c_str(), payload.data(),
                                               static_cast<int>(payload.size()), nullptr, &code);
                if (status == NATS_OK) {
                    ++acks.acked;
                } else {
                    ++acks.errors;
                }
                jsPubAck_Destroy(ack);
            } else if (js_PublishAsync(js, subject.c_str(), payload.data(), static_cast<int>(payload.size()),
                                       nullptr) != NATS_OK) {
                ++acks.errors;
            }
        }
        if (o.max_pending > 1) {
            jsPubOptions wait;
            jsPubOptions_Init(&wait);
            wait.MaxWait = 60'000;
            check(js_PublishAsyncComplete(js, &wait), "waiting for the acks");
        }
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        js_DeleteStream(js, stream.c_str(), nullptr, &code);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Destroy(connection);
    if (options != nullptr) natsOptions_Destroy(options);
    if (!failure.empty()) throw std::runtime_error(failure);

    boost::json::object out;
    out["messages"] = o.messages;
    out["payload_bytes"] = o.payload;
    out["max_pending"] = o.max_pending;
    out["acked"] = acks.acked.load();
    out["errors"] = acks.errors.load();
    out["seconds"] = seconds;
    out["acks_per_s"] = seconds > 0 ? static_cast<double>(acks.acked.load()) / seconds : 0.0;
    return out;
}

}  // namespace marquee::load
