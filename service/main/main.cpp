// boomer's entry point: parse the command, set up logging, run the service or its call keeper.
#include <unistd.h>

#include <climits>
#include <csignal>
#include <exception>
#include <filesystem>

#include "clients/call_keeper.hpp"
#include "core/log.hpp"
#include "service/app.hpp"
#include "service/config.hpp"
#include "service/logging.hpp"
#include "service/supervisor.hpp"

namespace {

int run_keeper(const boomer::service::call_keeper_config& c) {
    // Nothing of the service that started it stays open here: not its listening socket (a
    // restarted service must be able to bind it), not its database.
    ::close_range(3, UINT_MAX, 0);
    ::signal(SIGPIPE, SIG_IGN);  // a log or a client gone is no reason to drop calls in flight
    if (c.detach) {
        const pid_t child = ::fork();
        if (child != 0) {
            ::_exit(child < 0 ? 1 : 0);
        }
    }
    boomer::service::setup_logging(c.log_format, "info");
    return boomer::clients::run_call_keeper(
        c.dir, c.url,
        {.idle_exit = std::chrono::milliseconds(c.idle_exit_ms),
         .read_limit = std::chrono::milliseconds(c.read_limit_ms)});
}

}  // namespace

int main(int argc, char** argv) {
    // A closed log pipe or peer is an error to handle where it happens, not a reason to die.
    ::signal(SIGPIPE, SIG_IGN);
    auto cmd = boomer::service::parse_command(argc, argv);
    if (cmd.what == boomer::service::command::kind::call_keeper) {
        return run_keeper(cmd.keeper);
    }
    if (cmd.what != boomer::service::command::kind::serve) {
        return cmd.exit_code;
    }
    boomer::service::setup_logging(cmd.serve.log_format, cmd.serve.log_level);
    if (::getpid() == 1) {
        // A container's first process: the service runs as its child (see supervisor.hpp).
        if (const int status = boomer::service::supervise(); status >= 0) {
            return status;
        }
    }
    std::error_code ec;
    cmd.serve.program = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    try {
        boomer::service::app service(cmd.serve);
        return service.run();
    } catch (const std::exception& e) {
        boomer::log::event(spdlog::level::critical, "start_failed", {{"what", e.what()}});
        return 1;
    }
}
