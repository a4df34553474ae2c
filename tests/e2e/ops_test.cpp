// Operator surface: health, metrics in valid Prometheus text, and the documented routes being
// exactly the served ones.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "api/handlers.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;

namespace {

// (METHOD path) pairs from openapi.yaml: paths at two spaces of indent, methods at four.
std::set<std::string> documented_routes() {
    std::istringstream in(read_file(source_dir() / "openapi.yaml"));
    static const std::regex path_line(R"re(^  (/[^:]*):\s*$)re");
    static const std::regex method_line(R"re(^    (get|post|put|patch|delete):\s*$)re");
    std::set<std::string> out;
    std::string path;
    bool in_paths = false;
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (line == "paths:") {
            in_paths = true;
        } else if (!line.empty() && line[0] != ' ') {
            in_paths = false;
        } else if (in_paths && std::regex_match(line, m, path_line)) {
            path = m[1];
        } else if (in_paths && std::regex_match(line, m, method_line)) {
            std::string method = m[1];
            for (auto& c : method) {
                c = static_cast<char>(std::toupper(c));
            }
            out.insert(method + " " + path);
        }
    }
    return out;
}

int run_promtool(const std::string& text, std::string& output) {
    temp_dir dir;
    auto file = dir.path() / "metrics.txt";
    std::ofstream(file) << text;
    std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) {
        output.append(buf, n);
    }
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("openapi: the documented routes are exactly the served routes", "[e2e]") {
    boomer::api::router r;
    boomer::api::api_deps deps;  // handlers are registered, never called
    boomer::api::add_routes(r, deps);
    std::set<std::string> served;
    for (const auto& route : r.routes()) {
        served.insert(std::string(boost::beast::http::to_string(route.method)) + " " +
                      route.path_template);
    }
    auto documented = documented_routes();
    REQUIRE(documented.size() >= 10);
    CHECK(served == documented);
}

TEST_CASE("service: health, readiness, the API document and valid metrics", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());

    CHECK(api.get("/healthz")->status == 200);
    CHECK(api.get("/readyz")->status == 200);
    auto doc = api.get("/openapi.yaml");
    CHECK(doc->status == 200);
    CHECK(doc->body == read_file(source_dir() / "openapi.yaml"));

    // Some traffic, one finished item, one 404, so the families have children.
    auto res = api.post_item(
        {{"photo", "p.jpg", read_file(data_dir() / "images/orientation-1-landscape.jpg"),
          "image/jpeg"}});
    api.wait_final(std::string(parse_object(res->body).at("job_id").as_string()));
    api.get("/v1/items/itm_missing");

    // The finished counter moves just after the final state is committed (and visible): the
    // scrape waits for it a little.
    const std::string finished = "boomer_items_finished_total{state=\"needs_review\"} 1";
    auto metrics = api.get("/metrics");
    for (int tries = 0; tries < 100 && metrics && metrics->body.find(finished) == std::string::npos;
         ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        metrics = api.get("/metrics");
    }
    REQUIRE(metrics);
    REQUIRE(metrics->status == 200);
    const auto& text = metrics->body;
    std::string output;
    int status = run_promtool(text, output);
    INFO(output);  // INFO takes its text when it is written: after the run
    CHECK(status == 0);
    CHECK(text.find("http_requests_total{method=\"POST\",route=\"/v1/items\",status=\"202\"} 1") !=
          std::string::npos);
    CHECK(text.find("route=\"/v1/items/{item_id}\",status=\"404\"") != std::string::npos);
    CHECK(text.find("boomer_stage_duration_seconds_bucket{stage=\"normalize\"") !=
          std::string::npos);
    CHECK(text.find("boomer_queue_depth{priority=\"bulk\"} 0") != std::string::npos);
    CHECK(text.find(finished) != std::string::npos);
}
