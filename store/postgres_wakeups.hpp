// Wake-ups for an idle replica: a thread of its own waits on a postgres_listener and calls back
// whenever a job may have become runnable, so that a scheduler starts new work at once instead
// of at its next poll. The thread reconnects with exponential backoff while the database is
// away and calls back once it is back (notifications sent meanwhile are lost).
//
// Thread-safety: the callbacks run on the wake-up thread, never on the caller's; they must be
// thread-safe and quick (e.g. scheduler::wake, which only posts). The object itself is used by
// its owner's thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "store/postgres_store.hpp"

namespace boomer::store {

struct wakeup_options {
    // How long one wait on the connection lasts; bounds how long stop() waits for the thread.
    std::chrono::milliseconds wait{250};
    std::chrono::milliseconds backoff_min{100};  // first pause after a failed (re)connect
    std::chrono::milliseconds backoff_max{5'000};
    int connect_timeout_s = 2;  // a lost server costs the thread at most this per attempt
};

class postgres_wakeups {
public:
    // Starts the thread; it connects in the background. `on_jobs` is called after each burst of
    // notifications and after every (re)connection; `on_error` (may be empty) with a message
    // without secrets when a connection attempt fails, once per outage, and with "" when the
    // connection is back. `store_options` gives the schema and application name, as the store's.
    postgres_wakeups(std::string dsn, postgres_options store_options, std::function<void()> on_jobs,
                     std::function<void(const std::string&)> on_error = {},
                     wakeup_options options = {});
    postgres_wakeups(const postgres_wakeups&) = delete;
    postgres_wakeups& operator=(const postgres_wakeups&) = delete;
    // Stops and joins the thread.
    ~postgres_wakeups();

    // stop asks the thread to end and waits for it (at most about options.wait, or a connect
    // attempt in progress). Idempotent.
    void stop();

    // connected tells whether the thread holds a listening connection now. Thread-safe.
    bool connected() const { return connected_.load(); }

private:
    void run();
    // pause sleeps for `d` in short slices, returning early when stopping.
    void pause(std::chrono::milliseconds d);

    std::string dsn_;
    postgres_options store_options_;
    std::function<void()> on_jobs_;
    std::function<void(const std::string&)> on_error_;
    wakeup_options options_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> connected_{false};
    std::thread thread_;
};

}  // namespace boomer::store
