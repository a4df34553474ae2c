// The running service: owns the thread pools, the store, the scheduler, the HTTP server and the
// watched folder, wires them together, and shuts them down in order.
//
// Threads: one io_context run by `io_threads` threads for all network I/O and coroutines; a CPU
// pool for image work; a store pool for blocking database and disk calls.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "service/config.hpp"

namespace boomer::service {

class app {
public:
    // Opens the store, loads sales history, binds the listener. Throws std::runtime_error with a
    // message for the operator when any of that fails.
    explicit app(serve_config config);
    ~app();

    // run serves until SIGTERM/SIGINT or stop(), then drains. Blocks the calling thread.
    int run();

    // stop begins a graceful shutdown from any thread.
    void stop();

    // The bound address (tests listen on port 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    struct impl;  // opaque; public only so the .cpp's helpers can name it

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace boomer::service
