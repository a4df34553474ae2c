// The first-answer gate: the scout's role, its hand-over and the opening.
#include "resilience/first_answer_gate.hpp"

namespace boomer::resilience {

gate_pass::gate_pass(gate_pass&& other) noexcept : owner_(other.owner_) {
    other.owner_ = nullptr;
}

gate_pass::~gate_pass() {
    if (owner_ != nullptr) {
        owner_->settle(false);
    }
}

void gate_pass::answered() {
    if (owner_ != nullptr) {
        owner_->settle(true);
        owner_ = nullptr;
    }
}

boost::asio::awaitable<gate_pass> first_answer_gate::enter() {
    bool scout = false;
    auto ready = [this, &scout] {
        if (open_) {
            return true;
        }
        if (!scouting_) {
            scouting_ = true;
            scout = true;
            return true;
        }
        return false;
    };
    co_await waiters_.wait(ready);
    if (!scout) {
        // Woken in line: by the opening, or handed the scout's role (the gate still shut).
        std::lock_guard lock(mutex_);
        scout = !open_;
    }
    co_return gate_pass(scout ? this : nullptr);
}

bool first_answer_gate::open() const {
    std::lock_guard lock(mutex_);
    return open_;
}

void first_answer_gate::settle(bool answered) {
    std::lock_guard lock(mutex_);
    if (open_) {
        return;
    }
    if (answered) {
        open_ = true;
        scouting_ = false;
        waiters_.grant_all();
        return;
    }
    // The role passes to the next in line; with nobody waiting, the next caller takes it.
    if (!waiters_.grant_one()) {
        scouting_ = false;
    }
}

}  // namespace boomer::resilience
