// Helpers shared by the clients suite: running a coroutine to completion in a test.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace boomer::test {

namespace detail {

template <class T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> work, std::optional<T>* out) {
    out->emplace(co_await std::move(work));
}

}  // namespace detail

// run_coro runs `io` until `work` finishes (other work left on `io`, such as a test server
// waiting for its next request, stays pending) and returns its value; an exception escaping
// `work` is rethrown.
template <class T>
T run_coro(boost::asio::io_context& io, boost::asio::awaitable<T> work) {
    std::optional<T> out;
    std::exception_ptr error;
    boost::asio::co_spawn(io, detail::store_result(std::move(work), &out),
                          [&error, &io](std::exception_ptr e) {
                              error = e;
                              io.stop();
                          });
    io.restart();
    io.run();
    if (error) {
        std::rethrow_exception(error);
    }
    return std::move(*out);
}

}  // namespace boomer::test
