#include "tests/fakes/fake_listen.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace boomer::fakes {

namespace {

// True when fd is a listening TCP socket bound to `port`.
bool is_listener_on(int fd, int port) {
    int accepting = 0;
    socklen_t size = sizeof(accepting);
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size) != 0 || accepting == 0) {
        return false;
    }
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        return false;
    }
    if (address.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port) == port;
    }
    if (address.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port) == port;
    }
    return false;
}

// cpp-httplib keeps its socket private: find it among the process's descriptors and call
// listen() again, which on Linux only changes the backlog of a listening socket.
void deepen_backlog(int port) {
    DIR* fds = ::opendir("/proc/self/fd");
    if (fds == nullptr) {
        return;  // the shallow backlog still works, only worse under load
    }
    while (const dirent* entry = ::readdir(fds)) {
        char* end = nullptr;
        long fd = std::strtol(entry->d_name, &end, 10);
        if (end != entry->d_name && *end == '\0' && is_listener_on(static_cast<int>(fd), port)) {
            ::listen(static_cast<int>(fd), fake_listen_backlog);
        }
    }
    ::closedir(fds);
}

}  // namespace

int bind_listener(httplib::Server& server, const std::string& host, int port,
                  const std::string& who) {
    // cpp-httplib's default also sets SO_REUSEPORT, which lets a second fake bind a port in use
    // and share its traffic: a busy port must be an error instead.
    server.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    int bound =
        port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
        throw std::runtime_error(who + ": cannot listen on " + host + ":" + std::to_string(port) +
                                 " (in use?)");
    }
    deepen_backlog(bound);
    return bound;
}

void serve(httplib::Server& server, std::thread& thread, const std::string& who) {
    thread = std::thread([&server] { server.listen_after_bind(); });

    // stop() has no effect on a server that is not running yet: wait until it is.
    for (int waited_ms = 0; !server.is_running(); ++waited_ms) {
        if (waited_ms == 5000) {
            server.stop();
            thread.join();
            throw std::runtime_error(who + ": the server did not start listening");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace boomer::fakes
