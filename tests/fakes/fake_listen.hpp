// How every fake upstream starts listening: bind to the host and port (0: any free port), give
// the socket a backlog as deep as a real front end's, and serve on a thread of its own once the
// server is running. The installed cpp-httplib listens with a backlog of 5, compiled in; under
// load runs the queue overflowed and the kernel reset connections a real upstream would have
// accepted, so the fakes raise it on the bound socket before serving.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

namespace boomer::fakes {

// The listen backlog the fakes ask for (the kernel caps it at net.core.somaxconn).
inline constexpr int fake_listen_backlog = 4096;

// bind_listener binds `server` to host:port (port 0: any free one) and deepens its backlog.
// Returns the bound port. Errors: std::runtime_error when the address cannot be bound.
int bind_listener(httplib::Server& server, const std::string& host, int port,
                  const std::string& who);

// serve runs listen_after_bind() on `thread`, returning once the server runs. The server's
// threads start here, so whatever its handlers read (the bound port, say) is set before this
// call. `who` names the fake in errors. Errors: std::runtime_error when the server does not start
// within 5 s (the thread is joined before the throw).
void serve(httplib::Server& server, std::thread& thread, const std::string& who);

}  // namespace boomer::fakes
