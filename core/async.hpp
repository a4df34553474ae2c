// Moving blocking work off the I/O threads: run_on(pool, f) runs f on a thread pool and resumes
// the awaiting coroutine on its own executor with f's value or exception.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace boomer {

namespace asio = boost::asio;

namespace detail {

template <class R>
struct boxed {
    std::optional<R> value;
};

template <>
struct boxed<void> {};

}  // namespace detail

// run_on runs a copy of `f()` on `pool` and returns its value to the caller's executor.
// Everything `f` touches must stay alive until the await completes (the caller's frame does).
// Exceptions thrown by `f` are rethrown in the caller. Not cancellable once started.
//
// IMPORTANT: pass a named lambda (`auto work = [...] {...}; co_await run_on(pool, work);`), not
// a temporary. GCC 12 can destroy a temporary with a non-trivial destructor twice when it sits
// in a co_await expression (a lambda capturing a std::string, say), which corrupts the heap.
template <class F, class R = std::invoke_result_t<std::decay_t<F>&>>
asio::awaitable<R> run_on(asio::thread_pool& pool, F&& f) {
    using box = detail::boxed<R>;
    using work = std::decay_t<F>;
    auto initiate = [&pool](auto handler, work fn) {
        asio::post(pool, [handler = std::move(handler), fn = std::move(fn)]() mutable {
            std::exception_ptr error;
            box out;
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                } else {
                    out.value.emplace(fn());
                }
            } catch (...) {
                error = std::current_exception();
            }
            auto home = asio::get_associated_executor(handler);
            asio::post(home, [handler = std::move(handler), error, out = std::move(out)]() mutable {
                handler(error, std::move(out));
            });
        });
    };
    work copy(std::forward<F>(f));
    box out =
        co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, box)>(
            std::move(initiate), asio::use_awaitable, std::move(copy));
    if constexpr (!std::is_void_v<R>) {
        co_return std::move(*out.value);
    }
}

}  // namespace boomer
