// The deploy/ folder: Prometheus accepts its config and alert rules, the rules' unit tests pass
// (each alert fires, and stays quiet, when it should), the Grafana dashboard is valid JSON, and
// every metric the dashboard and the rules name is served by a live replica or is one of the few
// names that Prometheus, the blackbox exporter or work in progress provide.
#include <sys/wait.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/fakes/fake_anthropic.hpp"
#include "tests/fakes/fake_ebay.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Names the service does not serve itself: `up` is made by Prometheus for every target, and
// `probe_success` by the blackbox exporter that probes /readyz.
const std::set<std::string> scrape_made = {"up", "probe_success"};

fs::path deploy_dir() {
    return source_dir() / "deploy";
}

// promtool_found tells whether promtool is on PATH; when not, the test fails saying so.
bool promtool_found() {
    if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
        return true;
    }
    FAIL_CHECK(
        "promtool is not on PATH: install the Debian package `prometheus` "
        "(scripts/deps does)");
    return false;
}

// run returns the exit status of `command` (run by the shell in `dir`) and its output.
int run(const std::string& command, const fs::path& dir, std::string& output) {
    std::string line = "cd '" + dir.string() + "' && " + command + " 2>&1";
    FILE* p = popen(line.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (auto n = fread(buf, 1, sizeof buf, p)) {
        output.append(buf, n);
    }
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool ident_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}

bool ident_char(char c) {
    return ident_start(c) || std::isdigit(static_cast<unsigned char>(c));
}

// skip_quoted returns the index just past the string literal that starts at `i`.
std::size_t skip_quoted(std::string_view e, std::size_t i) {
    char quote = e[i];
    for (++i; i < e.size() && e[i] != quote; ++i) {
        if (e[i] == '\\' && quote != '`') {
            ++i;
        }
    }
    return i + 1;
}

// skip_group returns the index just past the bracket group (…), {…} or […] that opens at `i`.
std::size_t skip_group(std::string_view e, std::size_t i) {
    char open = e[i];
    char close = open == '(' ? ')' : open == '{' ? '}' : ']';
    int depth = 0;
    for (; i < e.size(); ++i) {
        if (e[i] == '"' || e[i] == '\'' || e[i] == '`') {
            i = skip_quoted(e, i) - 1;
        } else if (e[i] == open) {
            ++depth;
        } else if (e[i] == close && --depth == 0) {
            return i + 1;
        }
    }
    return i;
}

std::size_t skip_spaces(std::string_view e, std::size_t i) {
    while (i < e.size() && std::isspace(static_cast<unsigned char>(e[i]))) {
        ++i;
    }
    return i;
}

// metric_names returns the metric names a PromQL expression selects: identifiers that are not
// functions, keywords, label names (in matchers or in by/without/on/ignoring lists), numbers,
// durations or Grafana variables.
std::set<std::string> metric_names(std::string_view e) {
    static const std::set<std::string, std::less<>> label_lists = {
        "by", "without", "on", "ignoring", "group_left", "group_right"};
    static const std::set<std::string, std::less<>> keywords = {"and", "or", "unless", "bool",
                                                                "offset"};
    std::set<std::string> out;
    std::size_t i = 0;
    while (i < e.size()) {
        char c = e[i];
        if (c == '"' || c == '\'' || c == '`') {
            i = skip_quoted(e, i);
        } else if (c == '{' || c == '[') {
            i = skip_group(e, i);
        } else if (c == '$' || std::isdigit(static_cast<unsigned char>(c))) {
            // A Grafana variable, a number or a duration.
            for (++i; i < e.size() && (ident_char(e[i]) || e[i] == '.'); ++i) {
            }
        } else if (ident_start(c)) {
            auto start = i;
            while (i < e.size() && ident_char(e[i])) {
                ++i;
            }
            auto word = e.substr(start, i - start);
            auto next = skip_spaces(e, i);
            bool call = next < e.size() && e[next] == '(';
            // An aggregation with its grouping first: `max by (l) (…)`.
            auto after = next;
            while (after < e.size() && ident_char(e[after])) {
                ++after;
            }
            auto next_word = e.substr(next, after - next);
            call = call || next_word == "by" || next_word == "without";
            if (label_lists.contains(word)) {
                i = call ? skip_group(e, next) : next;
            } else if (!call && !keywords.contains(word)) {
                out.insert(std::string(word));
            }
        } else {
            ++i;
        }
    }
    return out;
}

// served_names returns the sample names in Prometheus text, with a histogram's or summary's
// series names for families declared without samples yet.
std::set<std::string> served_names(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    static const std::regex type_line(R"re(^# TYPE (\S+) (\S+)$)re");
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, type_line)) {
            std::string name = m[1];
            out.insert(name);
            if (m[2] == "histogram") {
                out.insert({name + "_bucket", name + "_sum", name + "_count"});
            } else if (m[2] == "summary") {
                out.insert({name + "_sum", name + "_count"});
            }
        } else if (!line.empty() && line[0] != '#') {
            out.insert(line.substr(0, line.find_first_of("{ ")));
        }
    }
    return out;
}

// dashboard_exprs returns every target expression of every panel, rows' panels included.
void collect_exprs(const json::array& panels, std::vector<std::string>& out) {
    for (const auto& p : panels) {
        const auto& panel = p.as_object();
        if (const auto* targets = panel.if_contains("targets")) {
            for (const auto& t : targets->as_array()) {
                out.emplace_back(t.as_object().at("expr").as_string());
            }
        }
        if (const auto* nested = panel.if_contains("panels")) {
            collect_exprs(nested->as_array(), out);
        }
    }
}

json::object dashboard() {
    return json::parse(read_file(deploy_dir() / "grafana/dashboards/boomer.json")).as_object();
}

// rule_lines returns the values of `key:` lines in alerts.yml (each expression is one line).
std::vector<std::string> rule_lines(const std::string& key) {
    std::istringstream in(read_file(deploy_dir() / "prometheus/alerts.yml"));
    std::regex line_re("^\\s*-?\\s*" + key + ":\\s*(.+)$");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, line_re)) {
            out.push_back(m[1]);
        }
    }
    return out;
}

// live_metrics runs the real service with vision and batches on (against the fake), finishes
// one item so that the labelled families have children, and returns its /metrics text.
std::string live_metrics() {
    boomer::fakes::fake_anthropic fake;
    boomer::fakes::fake_ebay ebay;
    temp_dir dir;
    service_process svc(dir.path(), {"--workers", "1"},
                        {{"ANTHROPIC_API_KEY", "test-key"},
                         {"ANTHROPIC_BASE_URL", fake.base_url()},
                         {"BOOMER_CLAUDE_STRONG_MODEL", ""},
                         {"BOOMER_CLAUDE_BATCHES", "1"},  // its gauges; the item is not bulk
                         {"EBAY_CLIENT_ID", "test-app-id"},
                         {"EBAY_CLIENT_SECRET", "test-cert-id"},
                         {"EBAY_BASE_URL", ebay.base_url()}});
    api_client api(svc.port());
    auto res = api.post_item(
        {{"photo", "p.jpg", read_file(data_dir() / "images/orientation-1-landscape.jpg"),
          "image/jpeg"}});
    REQUIRE(res);
    REQUIRE(res->status == 202);
    api.wait_final(std::string(parse_object(res->body).at("job_id").as_string()));
    REQUIRE(fake.paid() == 1);
    auto metrics = api.get("/metrics");
    REQUIRE(metrics);
    REQUIRE(metrics->status == 200);
    return metrics->body;
}

}  // namespace

TEST_CASE("promql names: metric names are told from functions, labels and numbers", "[e2e]") {
    using names = std::set<std::string>;
    CHECK(metric_names(R"(up{job="boomer"} == 0)") == names{"up"});
    CHECK(metric_names("histogram_quantile(0.95, sum by (le, stage) "
                       "(rate(boomer_stage_duration_seconds_bucket[$__rate_interval])))") ==
          names{"boomer_stage_duration_seconds_bucket"});
    CHECK(metric_names("sum(max by (priority) (q)) > 100 and deriv(sum(q)[15m:1m]) > 0") ==
          names{"q"});
    CHECK(metric_names(R"(sum(rate(a{s="x{y}"}[5m])) / on (i) group_left (m) b offset 5m)") ==
          names{"a", "b"});
    CHECK(metric_names("sum(x) without (instance) / ignoring(job) y > bool 1e3") ==
          names{"x", "y"});
}

TEST_CASE("deploy: Prometheus accepts the config and the alert rules", "[e2e]") {
    if (!promtool_found()) {
        return;
    }
    auto dir = deploy_dir() / "prometheus";
    std::string config;
    int config_status = run("promtool check config prometheus.yml", dir, config);
    std::string rules;
    int rules_status = run("promtool check rules alerts.yml", dir, rules);
    INFO(config << rules);
    CHECK(config_status == 0);
    CHECK(config.find("Checking alerts.yml") != std::string::npos);  // the rules are loaded
    CHECK(rules_status == 0);
    CHECK(rules.find("SUCCESS: 9 rules found") != std::string::npos);
}

TEST_CASE("deploy: each alert fires and stays quiet when it should (promtool test rules)",
          "[e2e]") {
    if (!promtool_found()) {
        return;
    }
    std::string output;
    int status = run("promtool test rules alerts_test.yml", deploy_dir() / "prometheus", output);
    INFO(output);
    CHECK(status == 0);

    // Every alert the rules define has a unit test, and the operators' list is complete.
    auto tests = read_file(deploy_dir() / "prometheus/alerts_test.yml");
    std::set<std::string> alerts;
    for (const auto& name : rule_lines("alert")) {
        alerts.insert(name);
        INFO(name);
        CHECK(tests.find("alertname: " + name) != std::string::npos);
    }
    CHECK(alerts == std::set<std::string>{"BoomerDown", "BoomerNotReady", "BoomerQueueGrowing",
                                          "BoomerHighFailureRate", "BoomerLeaseRescues",
                                          "BoomerVisionErrorRate", "BoomerCostPerItemOverBudget",
                                          "BoomerRateLimitHeadroomLow", "BoomerBreakerOpen"});
}

TEST_CASE("deploy: the compose file's services, mounts and scrape targets agree", "[e2e]") {
    // Docker cannot run here: check what the compose file says against the files it names.
    auto compose = read_file(deploy_dir() / "compose.yaml");
    std::set<std::string> services;
    {
        std::istringstream in(compose);
        static const std::regex service_line(R"re(^  ([a-z0-9-]+):\s*$)re");
        bool in_services = false;
        for (std::string line; std::getline(in, line);) {
            std::smatch m;
            if (!line.empty() && line[0] != ' ' && line[0] != '#') {
                in_services = line == "services:";
            } else if (in_services && std::regex_match(line, m, service_line)) {
                services.insert(m[1]);
            }
        }
    }
    CHECK(services == std::set<std::string>{"postgres", "boomer-1", "boomer-2", "prometheus",
                                            "blackbox", "grafana"});
    CHECK(compose.find("dockerfile: Dockerfile") != std::string::npos);
    CHECK(fs::exists(source_dir() / "Dockerfile"));

    // Every bind mount's source exists in deploy/.
    static const std::regex bind(R"re(- \./([^:]+):)re");
    int mounts = 0;
    for (auto it = std::sregex_iterator(compose.begin(), compose.end(), bind);
         it != std::sregex_iterator(); ++it, ++mounts) {
        INFO((*it)[1]);
        CHECK(fs::exists(deploy_dir() / (*it)[1].str()));
    }
    CHECK(mounts == 4);

    // Prometheus scrapes and probes both replicas and reaches the blackbox exporter by their
    // service names; Grafana reaches Prometheus by its own.
    auto prometheus = read_file(deploy_dir() / "prometheus/prometheus.yml");
    for (const auto* target :
         {"\"boomer-1:8080\"", "\"boomer-2:8080\"", "\"http://boomer-1:8080/readyz\"",
          "\"http://boomer-2:8080/readyz\"", "blackbox:9115"}) {
        INFO(target);
        CHECK(prometheus.find(target) != std::string::npos);
    }
    auto datasource = read_file(deploy_dir() / "grafana/provisioning/datasources/prometheus.yml");
    CHECK(datasource.find("url: http://prometheus:9090") != std::string::npos);
    auto provider = read_file(deploy_dir() / "grafana/provisioning/dashboards/boomer.yml");
    CHECK(provider.find("path: /etc/grafana/dashboards") != std::string::npos);
    CHECK(compose.find("./grafana/dashboards:/etc/grafana/dashboards:ro") != std::string::npos);
}

TEST_CASE("deploy: the dashboard covers the operators' questions with the provisioned source",
          "[e2e]") {
    auto board = dashboard();
    CHECK(board.at("uid").as_string() == "boomer-overview");
    std::vector<std::string> exprs;
    collect_exprs(board.at("panels").as_array(), exprs);
    REQUIRE(exprs.size() >= 10);

    std::set<std::string> used;
    for (const auto& e : exprs) {
        INFO(e);
        auto names = metric_names(e);
        CHECK_FALSE(names.empty());
        used.insert(names.begin(), names.end());
    }
    // Throughput, latency, queue depth, cost, cache hits, breakers, rate-limit headroom.
    for (const auto* name :
         {"boomer_items_finished_total", "boomer_stage_duration_seconds_bucket",
          "http_request_duration_seconds_bucket", "boomer_queue_depth",
          "boomer_vision_cost_dollars_total", "boomer_cache_lookups_total", "boomer_breaker_state",
          "boomer_anthropic_ratelimit_remaining", "boomer_anthropic_ratelimit_limit"}) {
        INFO(name);
        CHECK(used.contains(name));
    }

    // Every panel reads the datasource that Grafana is provisioned with, under an id of its own.
    auto datasource = read_file(deploy_dir() / "grafana/provisioning/datasources/prometheus.yml");
    CHECK(datasource.find("uid: prometheus") != std::string::npos);
    std::set<std::int64_t> ids;
    for (const auto& p : board.at("panels").as_array()) {
        INFO(json::serialize(p.as_object().at("title")));
        CHECK(p.as_object().at("datasource").as_object().at("uid") == "prometheus");
        CHECK(ids.insert(p.as_object().at("id").as_int64()).second);
    }
}

TEST_CASE("deploy: every metric the dashboard and the rules name exists on a live replica",
          "[e2e]") {
    auto text = live_metrics();
    auto served = served_names(text);
    REQUIRE(served.contains("boomer_vision_calls_total"));

    std::vector<std::string> exprs;
    collect_exprs(dashboard().at("panels").as_array(), exprs);
    auto rules = rule_lines("expr");
    REQUIRE(rules.size() == 9);
    exprs.insert(exprs.end(), rules.begin(), rules.end());

    for (const auto& e : exprs) {
        for (const auto& name : metric_names(e)) {
            INFO("metric " << name << " in: " << e);
            CHECK((served.contains(name) || scrape_made.contains(name)));
        }
    }

    // The vision-enabled output is valid exposition text too (ops_test checks the plain one).
    if (promtool_found()) {
        temp_dir dir;
        std::ofstream(dir.path() / "metrics.txt") << text;
        std::string output;
        int status = run("promtool check metrics < metrics.txt", dir.path(), output);
        INFO(output);
        CHECK(status == 0);
    }
}
