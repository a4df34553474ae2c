// The load generator (tools/loadgen) as an operator runs it: against a real service and the fake
// Anthropic API, its report counts what the service and the fake saw; bad options are refused
// before any load with exit status 2; a service that is not there ends the run with status 5.
#include <sys/wait.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace json = boost::json;

namespace {

struct run_result {
    int status = -1;  // the exit status, -1 when it did not exit normally
    std::string output;
};

// loadgen runs tools/loadgen with `args` (each quoted for the shell), its output and errors
// together.
run_result loadgen(const std::vector<std::string>& args) {
    std::string cmd = "'" BOOMER_TOOLS_DIR "/loadgen'";
    for (const auto& a : args) {
        cmd += " '" + a + "'";
    }
    cmd += " 2>&1";
    run_result out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) {
        out.output.append(buf, n);
    }
    const int status = pclose(p);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

double number(const json::value& v) {
    return v.is_int64() ? static_cast<double>(v.as_int64()) : v.as_double();
}

}  // namespace

TEST_CASE("loadgen: a burst's report counts every item and the calls the fake was paid for",
          "[e2e]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.default_confidence = 0.95;  // one cheap call identifies each item
    fakes::fake_anthropic fake(fake_options);
    temp_dir dir;
    scoped_env env({{"ANTHROPIC_API_KEY", "test-key"}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
    service_process svc(dir.path() / "data");
    const auto report = dir.path() / "report.json";

    auto run = loadgen({"--target", "http://127.0.0.1:" + std::to_string(svc.port()), "--scenario",
                        "burst", "--burst", "6", "--photos-per-item", "2", "--fake",
                        fake.base_url(), "--service-pid", std::to_string(svc.pid()), "--json",
                        report.string(), "--wait", "120s", "--seed", "7"});
    INFO(run.output);
    REQUIRE(run.status == 0);
    CHECK_THAT(run.output, Catch::Contains("seed 7"));

    const auto doc = json::parse(read_file(report)).as_object();
    CHECK(doc.at("scenario") == "burst");
    CHECK(doc.at("submitted") == 6);
    CHECK(doc.at("accepted") == 6);
    CHECK(doc.at("finished") == 6);
    CHECK(doc.at("still_pending") == 0);
    CHECK(doc.at("distinct_photo_sets") == 6);
    // Each item ends identified (no market source here, so it waits for review), none failed.
    std::int64_t ended = 0;
    for (const auto& [state, count] : doc.at("final_states").as_object()) {
        CHECK(state != "failed");
        ended += count.as_int64();
    }
    CHECK(ended == 6);
    // The fake's own counters: one paid call per item, each delivered, and what the service's
    // metrics say it made.
    const auto& upstream = doc.at("upstream").as_object();
    CHECK(number(upstream.at("calls_paid")) == 6);
    CHECK(number(upstream.at("calls_paid_delivered")) == 6);
    CHECK(number(upstream.at("calls_received")) == static_cast<double>(fake.received()));
    CHECK(number(doc.at("service").at("vision_calls")) == 6);
    CHECK(doc.at("service_measured") == true);
    CHECK(number(doc.at("service_peak_rss_mb")) > 0);
    CHECK(number(doc.at("dollars_per_item")) > 0);
    // With no call lost, what the fake billed is what the items say they cost (both priced from
    // the same tokens at the same prices; rounding per call aside).
    CHECK(upstream.at("unpriced_models").as_array().empty());
    CHECK(number(doc.at("billed_dollars_per_item")) ==
          Approx(number(doc.at("dollars_per_item"))).epsilon(0.001));
    CHECK(number(doc.at("success_rate_of_finished")) == Approx(number(doc.at("success_rate"))));
    const auto& intake = doc.at("intake_ms").as_object();
    CHECK(number(intake.at("p50")) > 0);
    CHECK(number(intake.at("p50")) <= number(intake.at("p99")));
}

TEST_CASE("loadgen: bad options are refused before any load, with exit status 2", "[e2e]") {
    temp_dir dir;
    struct refusal {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<refusal> cases = {
        {{"--scenario", "burst", "--burst", "-3"}, "--burst"},
        {{"--scenario", "stampede"}, "--scenario"},
        {{"--scenario", "chaos"}, "--spawn"},
        {{"--duration", "soon"}, "--duration"},
        {{"--scenario", "burst", "--wait", "10 minutes"}, "--wait"},
        {{"--warmup", "120%"}, "--warmup"},
        {{"--seed", ""}, "--seed"},
        {{"--warmup", "30s", "--duration", "10s"}, "--warmup"},
        {{"--scenario", "chaos", "--spawn", "true", "--kill-at", "30s", "--duration", "10s"},
         "--kill-at"},
        {{"--scenario", "burst", "--burst", ""}, "--burst"},
        {{"--json", (dir.path() / "no" / "such" / "dir" / "r.json").string()}, "--json"},
    };
    for (const auto& c : cases) {
        auto run = loadgen(c.args);
        INFO(run.output);
        CHECK(run.status == 2);
        CHECK_THAT(run.output, Catch::Contains(c.says));
    }
}

TEST_CASE("loadgen: a service that is not there ends the run with exit status 5", "[e2e]") {
    // A port nothing listens on: one a service had, and gave back when it stopped.
    temp_dir dir;
    int port = 0;
    {
        service_process svc(dir.path() / "data");
        port = svc.port();
        svc.terminate();
    }
    auto run = loadgen({"--target", "http://127.0.0.1:" + std::to_string(port), "--scenario",
                        "burst", "--burst", "2", "--give-up", "2s"});
    INFO(run.output);
    CHECK(run.status == 5);
}
