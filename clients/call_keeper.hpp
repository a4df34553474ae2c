// The call keeper: a small process of its own that makes the service's synchronous Claude calls
// and journals each paid answer before handing it back.
//
// A Messages call cannot be collected later (the API has no idempotency key): when the process
// that made it dies, the connection goes with it, the answer is paid all the same, and the item's
// next attempt pays again. With the keeper the connection lives in another process. The service
// sends it each call over a local socket; the keeper makes the call, writes a 200 answer to
// <dir>/calls/<key> (renamed into place, so never half written) and only then replies. A
// service killed meanwhile loses the socket, not the answer: restarted, it asks the same key
// again and gets the journaled answer, or joins the call still running, and the upstream sees one
// call. The service forgets a key once the answer is kept in its own store.
//
// The keeper is one per directory and Claude endpoint, shared by every process of the service
// using them on one host: it listens on an abstract local socket named after both (a second
// keeper finds the name taken and leaves; containers each have their own), deals only with
// processes of its own user (the service checks the listener's user too before it sends the API
// key), calls only its endpoint, and exits once it has had no client and no call for a while, or
// on SIGTERM once its calls are done. A service that finds no keeper starts one (double fork, a
// session of its own: a kill of the service's process group leaves it running). The keeper does
// nothing else, so it is far less likely to die than the service; a kill of both, of the machine,
// or of a container whose first process is the service still loses what was in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "clients/https_client.hpp"
#include "core/result.hpp"

namespace boomer::clients {

struct call_keeper_options {
    std::string dir;      // the journal and the lock; one keeper per directory
    std::string program;  // the boomer binary, run as `boomer call-keeper --dir DIR --url URL`
    std::string url;      // the Messages endpoint called; a keeper calls only its own
    // How long a new keeper may take to listen before calls go directly. For half a minute
    // after that, no keeper is started: a call uses one that listens (another service sharing
    // the folder may have started it) and otherwise goes directly, without waiting.
    std::chrono::milliseconds start_wait{3'000};
    // A keeper that has not replied this long after a call's timeout (it ends calls at their
    // timeout) is stuck: the call fails as keeper_lost and calls skip it for half a minute.
    std::chrono::milliseconds reply_slack{10'000};
};

// What the keeper answered for one call.
struct kept_response {
    http_response response;
    bool replayed = false;  // from the journal or a call another client started: not paid now
};

// The service's side. Thread-safe: one client may serve coroutines on any threads.
class call_keeper_client {
public:
    call_keeper_client(boost::asio::any_io_executor executor, call_keeper_options options);
    ~call_keeper_client();
    call_keeper_client(const call_keeper_client&) = delete;
    call_keeper_client& operator=(const call_keeper_client&) = delete;

    // send has the keeper make `call`, named by `key` (64 lowercase hex characters: the same key
    // for the same call of the same item, across restarts), and returns what the upstream
    // answered, whatever its status, or https_client's transport failures. A 200 answer stays in
    // the journal until forget(key). Failures of its own: keeper_unavailable (no keeper of this
    // user answered within options.start_wait, or one failed to start within the last half
    // minute: nothing was sent, the caller may make the call itself), keeper_lost (the request
    // went, no reply came: the keeper may have made the call, which the caller should ask for
    // again later, not make elsewhere now; retryable), keeper_refused (the keeper would not make
    // this call; not retryable). Cancellation of the awaiting coroutine drops the socket: the
    // keeper finishes the call and journals its answer for the next asker.
    boost::asio::awaitable<result<kept_response>> send(http_call call, std::string key);

    // forget removes the journaled answer of `key` (the caller keeps it now, or will not use
    // it). The file is removed on a thread of the client's own.
    boost::asio::awaitable<void> forget(std::string key);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// call_keeper_key names for the keeper the call whose request body is named by `body_key` (its
// answer_key, which hashes the whole body, so the keeper need not hash it again). The name is
// the request's alone, not its item's: an item with the same photos and settings that asks
// after a crash (it took the dead process's claim on the answer) gets the answer paid for.
std::string call_keeper_key(std::string_view body_key);

// call_keeper_socket_name is the abstract socket name (a leading NUL) of the keeper of `dir`
// calling `url`: keepers of services configured with other endpoints do not meet.
std::string call_keeper_socket_name(const std::string& dir, const std::string& url);

// The keeper process's timings.
struct call_keeper_timings {
    std::chrono::milliseconds idle_exit{10'000};  // exits after this long with no client, no call
    // A client that has not sent its whole request this long after connecting is dropped.
    std::chrono::milliseconds read_limit{30'000};
};

// run_call_keeper is the keeper process, calling `url` (empty: the Messages endpoint of
// ANTHROPIC_BASE_URL): serves until idle for `timings.idle_exit`, its directory is removed or
// SIGTERM comes, each time once its calls in flight are done. Returns the process's exit status:
// 0 also when another keeper serves the directory.
int run_call_keeper(const std::string& dir, const std::string& url,
                    const call_keeper_timings& timings);

}  // namespace boomer::clients
