// Child-process control for end-to-end tests.
#include "tests/support/service_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/paths.hpp"

extern char** environ;

namespace boomer::test {
namespace fs = std::filesystem;

fs::path boomer_binary() {
    const char* p = std::getenv("BOOMER_BINARY");
    return p != nullptr ? fs::path(p) : fs::path(BOOMER_DEFAULT_BINARY);
}

temp_dir::temp_dir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("boomer-test-" + std::to_string(rd()) + "-" + std::to_string(getpid()));
    fs::create_directories(path_);
}

temp_dir::~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

namespace {

// child_environment returns ours, with each variable of `env` replacing one of the same name.
std::vector<std::string> child_environment(const env_vars& env) {
    std::vector<std::string> out;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        auto name = entry.substr(0, entry.find('='));
        bool replaced =
            std::any_of(env.begin(), env.end(), [&](const auto& kv) { return kv.first == name; });
        if (!replaced) {
            out.emplace_back(entry);
        }
    }
    for (const auto& [name, value] : env) {
        out.push_back(name + "=" + value);
    }
    return out;
}

}  // namespace

service_process::service_process(fs::path data_dir, std::vector<std::string> args,
                                 const env_vars& env, std::vector<std::string> launcher)
    : data_dir_(std::move(data_dir)) {
    fs::create_directories(data_dir_);
    log_path_ = data_dir_ / ("service-" + std::to_string(std::rand()) + ".log");

    std::vector<std::string> argv_s = std::move(launcher);
    for (const auto& a : {boomer_binary().string(), std::string("serve"), std::string("--listen"),
                          std::string("127.0.0.1:0"), std::string("--data"), data_dir_.string(),
                          std::string("--log-format"), std::string("json")}) {
        argv_s.push_back(a);
    }
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    auto envp_s = child_environment(env);
    std::vector<char*> envp;
    for (auto& e : envp_s) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + argv_s[0]);
    }

    // Wait for {"event":"listening",...,"port":N}.
    static const std::regex listening(R"re("event":"listening".*"port":(\d+))re");
    for (int i = 0; i < 600; ++i) {
        std::smatch m;
        auto text = log_text();
        if (std::regex_search(text, m, listening)) {
            port_ = std::stoi(m[1]);
            return;
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("boomer exited at start:\n" + text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill9();
    throw std::runtime_error("boomer did not start listening within 30 s:\n" + log_text());
}

service_process::~service_process() {
    kill9();
}

void service_process::kill9() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

int service_process::terminate(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -1;
    }
    ::kill(pid_, SIGTERM);
    return wait_exit(timeout);
}

int service_process::wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -1;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
}

std::string service_process::log_text() const {
    std::ifstream in(log_path_);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> service_process::log_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(log_text());
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

}  // namespace boomer::test
