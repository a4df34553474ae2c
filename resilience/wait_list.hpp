// A queue of suspended coroutines that an owner wakes in order: the building block of the
// asynchronous semaphore (adaptive concurrency) and of single flight (cache/). Nothing blocks a
// thread: a waiter is a stored completion handler, and waking it posts that handler to the
// waiter's own executor.
//
// Thread-safety: a wait_list has no lock of its own. It is guarded by its owner's mutex, given
// at construction: the owner holds that mutex around grant_one/grant_all/size, and wait() and
// cancellation take it themselves. The owner (and so the mutex) must outlive every waiter.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <utility>

namespace boomer::resilience {

namespace asio = boost::asio;

class wait_list {
public:
    explicit wait_list(std::mutex& owner_mutex) : mutex_(owner_mutex) {}
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;

    // wait calls `ready()` under the owner's mutex; when it returns true the coroutine goes on at
    // once (resumed through its executor), otherwise it joins the queue until a grant reaches it.
    // `ready` may change the owner's state (take a slot) since it runs under the lock; it must
    // stay alive until wait() returns (pass a named object). Cancellation of the awaiting
    // coroutine while queued removes it and throws boost::system::system_error
    // (operation_aborted); a waiter already granted is not cancelled and returns normally.
    template <class Ready>
    asio::awaitable<void> wait(Ready& ready) {
        auto initiate = [this, &ready](auto handler) { enqueue(std::move(handler), ready); };
        co_await asio::async_initiate<decltype(asio::use_awaitable),
                                      void(boost::system::error_code)>(initiate,
                                                                       asio::use_awaitable);
    }

    // grant_one wakes the oldest waiter; false when none waits. Precondition: the owner's mutex
    // is held.
    bool grant_one() {
        if (queue_.empty()) {
            return false;
        }
        auto w = queue_.front();
        queue_.pop_front();
        complete(*w, {});
        return true;
    }

    // grant_all wakes every waiter and returns how many. Precondition: the owner's mutex is held.
    std::size_t grant_all() {
        std::size_t n = 0;
        while (grant_one()) {
            ++n;
        }
        return n;
    }

    // size counts queued waiters. Precondition: the owner's mutex is held.
    std::size_t size() const { return queue_.size(); }

private:
    using handler_type = asio::any_completion_handler<void(boost::system::error_code)>;

    struct waiter {
        waiter(handler_type h, asio::any_io_executor e)
            : handler(std::move(h)), executor(std::move(e)) {}
        handler_type handler;
        asio::any_io_executor executor;  // the handler's own, where it resumes
        bool queued = false;
    };

    static void complete(waiter& w, boost::system::error_code ec) {
        w.queued = false;
        auto handler = std::move(w.handler);
        asio::post(w.executor,
                   [handler = std::move(handler), ec]() mutable { std::move(handler)(ec); });
    }

    template <class Handler, class Ready>
    void enqueue(Handler handler, Ready& ready) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        asio::any_io_executor executor = asio::get_associated_executor(handler);
        // Built in place: Boost 1.81's any_completion_handler move assignment recurses forever.
        auto w = std::make_shared<waiter>(handler_type(std::move(handler)), std::move(executor));
        std::lock_guard lock(mutex_);
        if (ready()) {
            complete(*w, {});
            return;
        }
        w->queued = true;
        queue_.push_back(w);
        if (slot.is_connected()) {
            std::weak_ptr<waiter> weak = w;
            slot.assign([this, weak](asio::cancellation_type) { cancel(weak); });
        }
    }

    void cancel(const std::weak_ptr<waiter>& weak) {
        auto w = weak.lock();
        if (!w) {
            return;
        }
        std::lock_guard lock(mutex_);
        if (!w->queued) {
            return;
        }
        queue_.remove(w);
        complete(*w, asio::error::operation_aborted);
    }

    std::mutex& mutex_;
    std::list<std::shared_ptr<waiter>> queue_;
};

}  // namespace boomer::resilience
