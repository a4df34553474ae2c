// The wake-up thread: listen, call back, and on a lost connection retry with backoff.
#include "store/postgres_wakeups.hpp"

#include <algorithm>
#include <memory>
#include <optional>

namespace boomer::store {

postgres_wakeups::postgres_wakeups(std::string dsn, postgres_options store_options,
                                   std::function<void()> on_jobs,
                                   std::function<void(const std::string&)> on_error,
                                   wakeup_options options)
    : dsn_(std::move(dsn)),
      store_options_(std::move(store_options)),
      on_jobs_(std::move(on_jobs)),
      on_error_(std::move(on_error)),
      options_(options) {
    store_options_.connect_timeout_s = options_.connect_timeout_s;
    thread_ = std::thread([this] { run(); });
}

postgres_wakeups::~postgres_wakeups() {
    stop();
}

void postgres_wakeups::stop() {
    stopping_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
}

void postgres_wakeups::pause(std::chrono::milliseconds d) {
    constexpr std::chrono::milliseconds slice{20};
    auto until = std::chrono::steady_clock::now() + d;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::min(slice, d));
    }
}

void postgres_wakeups::run() {
    std::unique_ptr<postgres_listener> listener;
    auto backoff = options_.backoff_min;
    bool failing = false;
    while (!stopping_) {
        try {
            bool jobs = true;  // a fresh connection may have missed notifications
            if (!listener) {
                listener = std::make_unique<postgres_listener>(dsn_, store_options_);
            } else {
                jobs = listener->wait_for_notification(options_.wait);
            }
            connected_ = true;
            if (failing && on_error_) {
                on_error_("");
            }
            failing = false;
            backoff = options_.backoff_min;
            if (jobs) {
                on_jobs_();
            }
        } catch (const store_error& e) {
            // The listener reconnects by itself on its next wait; a fresh one is made only when
            // the first connection never came up.
            connected_ = false;
            if (!failing && on_error_) {
                on_error_(e.what());
            }
            failing = true;
            pause(backoff);
            backoff = std::min(backoff * 2, options_.backoff_max);
        }
    }
}

}  // namespace boomer::store
