// The supervisor of a container's service: fork, wait for signals and exits, restart after a crash.
#include "service/supervisor.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>

#include "core/log.hpp"

namespace boomer::service {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// exit_status turns a wait status into a shell's exit status (128 + signal when killed).
int exit_status(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A service that ran at least this long before it died starts again at once; one that dies
// sooner waits twice as long each time, up to the cap, so a crash loop does not spin.
constexpr auto healthy_run = std::chrono::seconds(60);
constexpr auto first_pause = milliseconds(500);
constexpr auto longest_pause = milliseconds(30'000);

class supervisor {
public:
    supervisor() {
        sigemptyset(&handled_);
        for (const int s : {SIGTERM, SIGINT, SIGCHLD}) {
            sigaddset(&handled_, s);
        }
        // Blocked here and taken with sigtimedwait; the child restores the mask it had.
        sigprocmask(SIG_BLOCK, &handled_, &before_);
    }

    int run() {
        auto next_pause = first_pause;  // after a service that died soon after its start
        for (;;) {
            const auto started = steady::now();
            service_ = ::fork();
            if (service_ == 0) {
                sigprocmask(SIG_SETMASK, &before_, nullptr);
                return -1;
            }
            if (service_ < 0) {
                log::event(spdlog::level::critical, "supervisor_failed",
                           {{"error", std::strerror(errno)}});
                return 1;
            }
            log::event(spdlog::level::info, "supervisor_started_service",
                       {{"pid", static_cast<std::int64_t>(service_)}});
            const int status = wait_for_service();
            if (stopping_ || !WIFSIGNALED(status)) {
                return finish(exit_status(status));
            }
            auto pause = milliseconds(0);  // at once after a healthy run
            if (steady::now() - started < healthy_run) {
                pause = next_pause;
                next_pause = std::min(next_pause * 2, longest_pause);
            } else {
                next_pause = first_pause;
            }
            log::event(spdlog::level::err, "service_died",
                       {{"signal", WTERMSIG(status)},
                        {"restart_in_ms", static_cast<std::int64_t>(pause.count())}});
            if (!wait_or_stop(pause)) {
                return finish(0);  // stopped on request between two runs
            }
        }
    }

private:
    // take handles one signal (or none within `timeout`); true when it was the service's end.
    bool take(const timespec* timeout, int& status) {
        siginfo_t info{};
        const int got = sigtimedwait(&handled_, &info, timeout);
        if (got == SIGTERM || got == SIGINT) {
            stopping_ = true;
            if (service_ > 0) {
                ::kill(service_, got);
            }
            return false;
        }
        if (got != SIGCHLD) {
            return false;  // timed out or interrupted
        }
        // Orphans come here too (an exited call keeper): every exited child is collected.
        bool ended = false;
        for (int st = 0;;) {
            const pid_t pid = ::waitpid(-1, &st, WNOHANG);
            if (pid <= 0) {
                break;
            }
            if (pid == service_) {
                status = st;
                ended = true;
                service_ = -1;
            }
        }
        return ended;
    }

    int wait_for_service() {
        int status = 0;
        while (!take(nullptr, status)) {
        }
        return status;
    }

    // wait_or_stop waits `pause` before a restart; false when a stop came meanwhile.
    bool wait_or_stop(milliseconds pause) {
        const auto until = steady::now() + pause;
        int ignored = 0;
        while (!stopping_ && steady::now() < until) {
            const auto left =
                std::chrono::duration_cast<std::chrono::nanoseconds>(until - steady::now());
            const timespec timeout{.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000),
                                   .tv_nsec = static_cast<long>(left.count() % 1'000'000'000)};
            take(&timeout, ignored);
        }
        return !stopping_;
    }

    // finish asks the other processes (the call keeper, which first ends its calls in flight)
    // to stop, waits for them all, and returns `status`.
    int finish(int status) {
        ::kill(-1, SIGTERM);  // as process 1: every other process of the namespace
        while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
        }
        log::event(spdlog::level::info, "supervisor_stopped", {{"status", status}});
        return status;
    }

    sigset_t handled_{};
    sigset_t before_{};
    pid_t service_ = -1;
    bool stopping_ = false;
};

}  // namespace

int supervise() {
    supervisor s;
    return s.run();
}

}  // namespace boomer::service
