#include "redis/reply.hpp"

#include <utility>

namespace marquee::redis {

Reply Reply::integer(std::int64_t value) {
    Reply reply;
    reply.kind_ = Kind::Integer;
    reply.integer_ = value;
    return reply;
}

Reply Reply::string(std::string value) {
    Reply reply;
    reply.kind_ = Kind::String;
    reply.text_ = std::move(value);
    return reply;
}

Reply Reply::status(std::string value) {
    Reply reply;
    reply.kind_ = Kind::Status;
    reply.text_ = std::move(value);
    return reply;
}

Reply Reply::error(std::string message) {
    Reply reply;
    reply.kind_ = Kind::Error;
    reply.text_ = std::move(message);
    return reply;
}

Reply Reply::array(std::vector<Reply> elements) {
    Reply reply;
    reply.kind_ = Kind::Array;
    reply.elements_ = std::move(elements);
    return reply;
}

const std::string& Reply::as_string() const {
    if (kind_ != Kind::String && kind_ != Kind::Status && kind_ != Kind::Error) {
        throw CommandError("redis reply is " + std::string(to_string(kind_)) + ", not a string");
    }
    return text_;
}

std::int64_t Reply::as_integer() const {
    if (kind_ != Kind::Integer) {
        or_throw();
        throw CommandError("redis reply is " + std::string(to_string(kind_)) + ", not an integer");
    }
    return integer_;
}

const std::vector<Reply>& Reply::elements() const {
    if (kind_ != Kind::Array) {
        or_throw();
        throw CommandError("redis reply is " + std::string(to_string(kind_)) + ", not an array");
    }
    return elements_;
}

const Reply& Reply::or_throw() const& {
    if (kind_ == Kind::Error) throw CommandError("redis error reply: " + text_);
    return *this;
}

Reply&& Reply::or_throw() && {
    if (kind_ == Kind::Error) throw CommandError("redis error reply: " + text_);
    return std::move(*this);
}

std::string_view to_string(Reply::Kind kind) {
    switch (kind) {
        case Reply::Kind::Nil:
            return "nil";
        case Reply::Kind::Integer:
            return "integer";
        case Reply::Kind::String:
            return "string";
        case Reply::Kind::Status:
            return "status";
        case Reply::Kind::Array:
            return "array";
        case Reply::Kind::Error:
            return "error";
    }
    return "unknown";
}

}  // namespace marquee::redis
