// Process tokens from /proc: the boot id, the PID namespace and the stat line's start time.
#include "core/process_token.hpp"

#include <unistd.h>

#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>

namespace boomer {
namespace {

std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string pid_namespace() {
    std::array<char, 64> target{};
    const auto n = ::readlink("/proc/self/ns/pid", target.data(), target.size() - 1);
    return n > 0 ? std::string(target.data(), static_cast<std::size_t>(n)) : std::string();
}

// start_time returns field 22 of /proc/<pid>/stat (clock ticks after boot); none when no such
// process runs, or it has ended and waits only for its parent to collect it (a zombie).
std::optional<std::string> start_time(std::string_view pid) {
    std::ifstream in("/proc/" + std::string(pid) + "/stat");
    if (!in) {
        return std::nullopt;
    }
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto name_end = text.rfind(')');  // the command name may hold spaces and parentheses
    if (name_end == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(text.substr(name_end + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {  // fields 1 and 2 are the pid and the name
        if (!(fields >> field) || (i == 3 && (field == "Z" || field == "X"))) {
            return std::nullopt;
        }
    }
    return field;
}

// The token's four parts: boot id, PID namespace, pid, start time.
struct token_parts {
    std::string_view boot, pid_ns, pid, started;
};

std::optional<token_parts> split(std::string_view token) {
    std::array<std::string_view, 4> parts;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto bar = token.find('|');
        const bool last = i + 1 == parts.size();
        if (last != (bar == std::string_view::npos)) {
            return std::nullopt;
        }
        parts[i] = token.substr(0, bar);
        token = last ? std::string_view() : token.substr(bar + 1);
        if (parts[i].empty()) {
            return std::nullopt;
        }
    }
    return token_parts{parts[0], parts[1], parts[2], parts[3]};
}

}  // namespace

std::string process_token() {
    // Computed once per process: a forked child computes its own.
    static std::mutex mutex;
    static pid_t computed_for = 0;
    static std::string token;
    std::lock_guard lock(mutex);
    if (computed_for != ::getpid()) {
        computed_for = ::getpid();
        const auto pid = std::to_string(computed_for);
        token = first_line("/proc/sys/kernel/random/boot_id") + "|" + pid_namespace() + "|" + pid +
                "|" + start_time(pid).value_or("?");
    }
    return token;
}

bool process_gone(std::string_view token) {
    const auto theirs = split(token);
    const auto mine = process_token();
    const auto ours = split(mine);  // views into `mine`
    if (!theirs || !ours || theirs->boot != ours->boot || theirs->pid_ns != ours->pid_ns ||
        theirs->started == "?") {
        return false;
    }
    int pid = 0;
    const auto [end, error] =
        std::from_chars(theirs->pid.data(), theirs->pid.data() + theirs->pid.size(), pid);
    if (error != std::errc() || end != theirs->pid.data() + theirs->pid.size() || pid <= 0) {
        return false;
    }
    const auto started = start_time(theirs->pid);
    return !started || *started != theirs->started;
}

}  // namespace boomer
