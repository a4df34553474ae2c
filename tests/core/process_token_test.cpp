// process_token and process_gone against real processes of this host.
#include "core/process_token.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

using namespace boomer;

namespace {

// token_of_child starts a child that writes its token, then ends once `release_fd` (set here) is
// closed; returns the token and the child's pid.
std::pair<std::string, pid_t> token_of_child(int& release_fd) {
    int out[2];
    int hold[2];
    REQUIRE(::pipe(out) == 0);
    REQUIRE(::pipe(hold) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(out[0]);
        ::close(hold[1]);                    // so that the parent's close is the end of its pipe
        const auto token = process_token();  // its own, not the parent's
        (void)!::write(out[1], token.data(), token.size());
        ::close(out[1]);
        char byte = 0;
        (void)!::read(hold[0], &byte, 1);
        ::_exit(0);
    }
    ::close(out[1]);
    ::close(hold[0]);
    std::string token;
    char buffer[256];
    for (ssize_t n = 0; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
        token.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    release_fd = hold[1];
    return {token, pid};
}

}  // namespace

TEST_CASE("process token: a running process is not gone, an ended one is", "[core]") {
    CHECK_FALSE(process_gone(process_token()));

    int release = -1;
    const auto [token, pid] = token_of_child(release);
    REQUIRE_FALSE(token.empty());
    CHECK(token != process_token());
    CHECK_FALSE(process_gone(token));  // still running

    ::close(release);  // the child ends, not collected yet: a zombie is gone all the same
    for (int i = 0; i < 200 && !process_gone(token); ++i) {
        ::usleep(10'000);
    }
    CHECK(process_gone(token));
    REQUIRE(::waitpid(pid, nullptr, 0) == pid);
    CHECK(process_gone(token));
}

TEST_CASE("process token: a pid reused by another process does not pass for the first", "[core]") {
    // This process's pid with another start time: the process it names has ended.
    const auto mine = process_token();
    const auto last_bar = mine.rfind('|');
    CHECK(process_gone(mine.substr(0, last_bar + 1) + "1"));
}

TEST_CASE("process token: a process of another host or container is not known to be gone",
          "[core]") {
    const auto mine = process_token();
    const auto first_bar = mine.find('|');
    const auto second_bar = mine.find('|', first_bar + 1);
    // Another boot (host), then another PID namespace (container), naming a pid not running here.
    const std::string rest_dead = "|999999999|12345";
    CHECK_FALSE(process_gone("00000000-0000-0000-0000-000000000000" +
                             mine.substr(first_bar, second_bar - first_bar) + rest_dead));
    CHECK_FALSE(process_gone(mine.substr(0, first_bar) + "|pid:[1]" + rest_dead));
    CHECK(process_gone(mine.substr(0, second_bar) + rest_dead));  // here: gone
    for (const char* garbage : {"", "1", "a|b|c", "a|b|c|d|e", "||||", "x|y|notapid|5"}) {
        INFO(garbage);
        CHECK_FALSE(process_gone(garbage));
    }
}
