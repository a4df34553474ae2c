// A gate that lets calls to an upstream go one at a time until one of them has been answered,
// then lets every call through for good. Two things are learnt only from an answer: the rate
// limits (announced in its headers) and, at Anthropic, a cached prompt prefix, which later calls
// can read only once the answer that wrote it has begun. Calls sent together before that would
// all meet limits nobody knew and all pay to write the same cache entry.
//
// The first caller is the scout and goes at once; the others wait in line. The scout's pass
// reports answered() when an answer came back, which opens the gate; a pass dropped without it
// (no connection, a refusal, cancelled, out of time) hands the scout's role to the next caller
// in line, or to whoever comes next.
//
// Thread-safety: every member may be called from any thread (a mutex guards the state). The
// gate must outlive its passes and waiters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <mutex>

#include "resilience/wait_list.hpp"

namespace boomer::resilience {

class first_answer_gate;

// Leave to go through the gate; move-only. Only the scout's pass matters: answered() opens the
// gate, dropping it without that hands the role on.
class gate_pass {
public:
    gate_pass(gate_pass&& other) noexcept;
    gate_pass& operator=(gate_pass&&) = delete;
    gate_pass(const gate_pass&) = delete;
    ~gate_pass();

    // answered opens the gate for good; later calls and calls on a non-scout pass do nothing.
    void answered();
    bool scout() const { return owner_ != nullptr; }

private:
    friend class first_answer_gate;
    explicit gate_pass(first_answer_gate* scout_of) : owner_(scout_of) {}

    first_answer_gate* owner_;  // set while this pass is the scout's and has not reported
};

class first_answer_gate {
public:
    first_answer_gate() = default;
    first_answer_gate(const first_answer_gate&) = delete;
    first_answer_gate& operator=(const first_answer_gate&) = delete;

    // enter returns a pass once the caller may go: at once when the gate is open or nobody
    // scouts, otherwise when the gate opens or the scout's role comes to this caller.
    // Cancellation while waiting leaves the line and rethrows.
    boost::asio::awaitable<gate_pass> enter();

    // open tells whether an answer has opened the gate.
    bool open() const;

private:
    friend class gate_pass;
    void settle(bool answered);

    mutable std::mutex mutex_;
    wait_list waiters_{mutex_};  // guarded by mutex_
    bool open_ = false;          // guarded by mutex_
    bool scouting_ = false;      // guarded by mutex_; a scout (or one handed the role) is out
};

}  // namespace boomer::resilience
