#include "payment_gateway/circuit_breaker.hpp"

namespace marquee::payment_gateway {

bool CircuitBreaker::allow(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    switch (state_) {
        case State::Closed:
            return true;
        case State::Open:
            if (now - opened_at_ < options_.open_for) return false;
            state_ = State::HalfOpen;
            trial_in_flight_ = true;
            return true;
        case State::HalfOpen:
            if (trial_in_flight_) return false;
            trial_in_flight_ = true;
            return true;
    }
    return false;
}

void CircuitBreaker::record_success() {
    std::lock_guard lock(mutex_);
    state_ = State::Closed;
    failures_ = 0;
    trial_in_flight_ = false;
}

void CircuitBreaker::record_failure(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    trial_in_flight_ = false;
    if (state_ == State::HalfOpen || ++failures_ >= options_.failure_threshold) {
        state_ = State::Open;
        opened_at_ = now;
        failures_ = 0;
    }
}

CircuitBreaker::State CircuitBreaker::state(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    if (state_ == State::Open && now - opened_at_ >= options_.open_for) return State::HalfOpen;
    return state_;
}

}  // namespace marquee::payment_gateway
