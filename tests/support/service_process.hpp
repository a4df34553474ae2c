// Runs the real `boomer serve` binary as a child process for end-to-end tests, on 127.0.0.1
// with a port the kernel picks, and reads its JSON log lines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace boomer::test {

// Path to the boomer binary (BOOMER_BINARY, else the one this build makes).
std::filesystem::path boomer_binary();

// A fresh empty folder under the system temp folder, removed by the destructor.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Environment variables a child gets on top of (or instead of) the test's own, name then value.
using env_vars = std::vector<std::pair<std::string, std::string>>;

class service_process {
public:
    // start runs `boomer serve --listen 127.0.0.1:0 --data <data_dir> --log-format json <args>`
    // with the test's environment plus `env`, and waits until it logs the port it listens on.
    // With a `launcher` (a command and its arguments, such as unshare's), the launcher runs that
    // command line, and pid() is the launcher's. Throws on failure, with its log.
    service_process(std::filesystem::path data_dir, std::vector<std::string> args = {},
                    const env_vars& env = {}, std::vector<std::string> launcher = {});
    ~service_process();  // SIGKILL if still running

    int port() const { return port_; }
    pid_t pid() const { return pid_; }

    void kill9();
    // terminate sends SIGTERM and waits for exit; returns the exit status (-1 on timeout).
    int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // wait_exit waits for the process to exit; returns its exit status (-1 on timeout).
    int wait_exit(std::chrono::milliseconds timeout);

    // The log so far, one JSON object per line.
    std::vector<std::string> log_lines() const;
    std::string log_text() const;

private:
    std::filesystem::path data_dir_;
    std::filesystem::path log_path_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace boomer::test
