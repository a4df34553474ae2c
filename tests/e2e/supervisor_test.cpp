// The service as a container's first process: started as process 1 of a new PID namespace (with
// unshare, as root), it supervises the real service, so that a service killed mid-call is
// started again while its call keeper lives on.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// children_of lists the processes whose parent is `parent`, with their command lines.
std::vector<std::pair<pid_t, std::string>> children_of(pid_t parent) {
    std::vector<std::pair<pid_t, std::string>> out;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto stat = read_text(entry.path() / "stat");
        const auto name_end = stat.rfind(')');
        if (name_end == std::string::npos) {
            continue;
        }
        std::istringstream fields(stat.substr(name_end + 2));
        std::string state;
        pid_t ppid = 0;
        fields >> state >> ppid;
        if (ppid == parent && state != "Z") {
            auto command = read_text(entry.path() / "cmdline");
            std::replace(command.begin(), command.end(), '\0', ' ');
            out.emplace_back(static_cast<pid_t>(std::stoi(name)), command);
        }
    }
    return out;
}

template <class F>
bool wait_until(F done, int tries = 1'500) {
    for (int i = 0; i < tries; ++i) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
    return done();
}

// `boomer serve` as process 1 of a new PID namespace (killed with it at the end).
class container {
public:
    container(const fs::path& data, const env_vars& env)
        : svc_(data, {"--lease-seconds", "2"}, env,
               {"/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc"}) {}

    std::string log() const { return svc_.log_text(); }

    // port waits for the `n`th "listening" line and returns its port (0: none came).
    int port(std::size_t n) const {
        static const std::regex listening(R"re("event":"listening".*"port":(\d+))re");
        int found = 0;
        wait_until([&] {
            const auto text = log();
            std::size_t seen = 0;
            for (auto it = std::sregex_iterator(text.begin(), text.end(), listening);
                 it != std::sregex_iterator(); ++it) {
                if (++seen == n) {
                    found = std::stoi((*it)[1]);
                    return true;
                }
            }
            return false;
        });
        return found;
    }

    // The supervisor (process 1 inside) and the service, by their pids out here.
    pid_t init() const {
        auto kids = children_of(svc_.pid());
        return kids.size() == 1 ? kids[0].first : -1;
    }
    pid_t service() const {
        for (const auto& [pid, command] : children_of(init())) {
            if (command.find(" serve ") != std::string::npos) {
                return pid;
            }
        }
        return -1;
    }
    service_process& process() { return svc_; }

private:
    service_process svc_;  // unshare's process
};

bool can_make_namespaces() {
    // Root is not enough in a container without CAP_SYS_ADMIN: the probe says.
    if (::geteuid() != 0 || !fs::exists("/usr/bin/unshare") ||
        std::system("/usr/bin/unshare --pid --fork --mount-proc true 2>/dev/null") != 0) {
        WARN(
            "not run: no new PID namespace can be made here (needs root with CAP_SYS_ADMIN and "
            "util-linux's unshare)");
        return false;
    }
    return true;
}

}  // namespace

TEST_CASE("supervisor: a service killed mid-call in a container is restarted, its call kept",
          "[e2e][call_keeper]") {
    if (!can_make_namespaces()) {
        return;
    }
    fakes::fake_anthropic fake;
    fake.set_latency(milliseconds(1'500));
    temp_dir dir;
    container box(dir.path() / "data", {{"ANTHROPIC_API_KEY", "test-key"},
                                        {"ANTHROPIC_BASE_URL", fake.base_url()},
                                        {"BOOMER_CLAUDE_STRONG_MODEL", ""}});
    const int first_port = box.port(1);
    INFO(box.log());
    REQUIRE(first_port > 0);
    std::string job;
    {
        api_client api(first_port);
        const std::string photo = "orientation-1-landscape.jpg";
        auto res = api.post_item(
            {{"photo", photo, read_file(data_dir() / "images" / photo), "image/jpeg"}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        job = std::string(parse_object(res->body).at("job_id").as_string());
    }
    REQUIRE(wait_until([&] { return fake.received() >= 1; }));
    const pid_t service = box.service();
    REQUIRE(service > 0);
    REQUIRE(::kill(service, SIGKILL) == 0);

    const int second_port = box.port(2);  // started again by the supervisor
    INFO(box.log());
    REQUIRE(second_port > 0);
    api_client api(second_port);
    auto done = api.wait_final(job);
    CHECK(std::string(done.at("state").as_string()) != "failed");
    CHECK(fake.paid() == 1);  // the keeper outlived the service: its answer was kept
    CHECK_THAT(box.log(), Catch::Contains("\"event\":\"service_died\",\"signal\":9"));
}

TEST_CASE("supervisor: a stop ends the service, then the others, with the service's status",
          "[e2e]") {
    if (!can_make_namespaces()) {
        return;
    }
    temp_dir dir;
    container box(dir.path() / "data", {});
    REQUIRE(box.port(1) > 0);
    const pid_t init = box.init();
    REQUIRE(init > 0);
    REQUIRE(::kill(init, SIGTERM) == 0);
    const int status = box.process().wait_exit(std::chrono::seconds(30));
    INFO(box.log());
    CHECK(status == 0);
    CHECK_THAT(box.log(), Catch::Contains("\"event\":\"supervisor_stopped\",\"status\":0"));
}
