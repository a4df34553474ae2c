// The real service on Postgres, each case on a throwaway server of its own (scripts/pg):
// - restarted under load: while the database is away /readyz says 503 and intake answers a 503
//   problem; once it is back the service is ready again and every accepted item ends in one
//   final state, none lost;
// - two replicas: an item submitted to one starts on the other within milliseconds (LISTEN /
//   NOTIFY), not at the other's next poll; the same photos given to both at once are paid for
//   once (the answer key claimed in the shared cache table).
// Runs only where the Postgres server programs are installed.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using steady = std::chrono::steady_clock;

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

// pg_tools_present tells whether scripts/pg can start a server here.
bool pg_tools_present() {
    if (const char* bin = std::getenv("BOOMER_PG_BIN")) {
        return fs::exists(fs::path(bin) / "initdb");
    }
    if (!fs::exists("/usr/lib/postgresql")) {
        return false;
    }
    for (const auto& version : fs::directory_iterator("/usr/lib/postgresql")) {
        if (fs::exists(version.path() / "bin/initdb")) {
            return true;
        }
    }
    return false;
}

// run_pg runs `scripts/pg <command> <dir>` and returns its first output line (the DSN for
// start and resume); throws when it fails.
std::string run_pg(const std::string& command, const fs::path& dir) {
    std::string line =
        (source_dir() / "scripts/pg").string() + " " + command + " '" + dir.string() + "' 2>&1";
    FILE* pipe = ::popen(line.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
        out += buffer;
    }
    int status = ::pclose(pipe);
    INFO("scripts/pg " << command << ": " << out);
    REQUIRE(status == 0);
    return out.substr(0, out.find('\n'));
}

// A throwaway server in `dir`, stopped by the destructor whatever the test did.
class pg_server {
public:
    explicit pg_server(fs::path dir) : dir_(std::move(dir)) { dsn_ = run_pg("start", dir_); }
    pg_server(const pg_server&) = delete;
    pg_server& operator=(const pg_server&) = delete;
    ~pg_server() {
        std::string line = (source_dir() / "scripts/pg").string() + " stop '" + dir_.string() +
                           "' >/dev/null 2>&1";
        if (std::system(line.c_str()) != 0) {
            WARN("could not stop the test's Postgres in " << dir_);
        }
    }
    void stop() { run_pg("stop", dir_); }
    void resume() { run_pg("resume", dir_); }
    const std::string& dsn() const { return dsn_; }

private:
    fs::path dir_;
    std::string dsn_;
};

upload jpeg(const std::string& name) {
    return {"photo", name, read_file(data_dir() / "images" / name), "image/jpeg"};
}

// day_ms reads the milliseconds since midnight of an ISO 8601 UTC time written by the service
// ("2026-12-04T16:10:35.123Z").
std::int64_t day_ms(const std::string& iso) {
    REQUIRE(iso.size() >= 23);
    auto field = [&](std::size_t at, std::size_t n) { return std::stoll(iso.substr(at, n)); };
    return ((field(11, 2) * 60 + field(14, 2)) * 60 + field(17, 2)) * 1000 + field(20, 3);
}

int readyz(api_client& api) {
    auto res = api.get("/readyz");
    return res ? res->status : 0;
}

// wait_for polls `ok` every 50 ms until it holds or `limit` passes.
template <class Fn>
bool wait_for(Fn&& ok, std::chrono::milliseconds limit) {
    auto until = steady::now() + limit;
    while (!ok()) {
        if (steady::now() > until) {
            return false;
        }
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

}  // namespace

TEST_CASE("service on postgres: a database restart under load loses no accepted item",
          "[e2e][pg][slow]") {
    if (!pg_tools_present()) {
        WARN("no Postgres server programs (initdb): database restart not tested");
        return;
    }
    temp_dir dir;
    pg_server pg(dir.path() / "pg");
    service_process svc(dir.path() / "data", {"--db", pg.dsn(), "--workers", "2", "--lease-seconds",
                                              "2", "--store-threads", "4"});
    api_client api(svc.port());
    REQUIRE(readyz(api) == 200);

    // Load: items queued and running when the database goes away.
    std::map<std::string, std::string> accepted;  // item id -> job id
    auto photos = {jpeg("orientation-1-landscape.jpg"), jpeg("orientation-6-landscape.jpg")};
    for (int i = 0; i < 24; ++i) {
        auto res = api.post_item(photos, {{"title_hint", "print " + std::to_string(i)}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        auto body = parse_object(res->body);
        accepted[str(body.at("item_id"))] = str(body.at("job_id"));
    }
    pg.stop();

    // Away: not ready, and intake refuses with a problem the client can retry; no crash, no hang.
    CHECK(wait_for([&] { return readyz(api) == 503; }, 10s));
    auto refused = api.post_item(photos, {{"title_hint", "while down"}});
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(refused->get_header_value("Content-Type") == "application/problem+json");
    CHECK(str(parse_object(refused->body).at("type")) ==
          "https://boomer.dev/problems/database-unavailable");
    CHECK(refused->get_header_value("Retry-After") == "2");
    std::this_thread::sleep_for(1s);  // workers, heartbeats and rescue meet the outage too
    CHECK(readyz(api) == 503);
    // Metrics are still served, saying the database is away.
    auto metrics = api.get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK(metrics->body.find("\nboomer_database_up 0\n") != std::string::npos);

    pg.resume();
    CHECK(wait_for([&] { return readyz(api) == 200; }, 30s));
    CHECK(api.get("/metrics")->body.find("\nboomer_database_up 1\n") != std::string::npos);
    auto after = api.post_item(photos, {{"title_hint", "after the restart"}});
    REQUIRE(after);
    REQUIRE(after->status == 202);
    auto after_body = parse_object(after->body);
    accepted[str(after_body.at("item_id"))] = str(after_body.at("job_id"));

    // Every accepted item reaches a final state, and the service knows no other item.
    for (const auto& [item, job] : accepted) {
        INFO("item " << item);
        auto final_job = api.wait_final(job, 120s);
        INFO(json::serialize(final_job));
        CHECK(str(final_job.at("state")) == "needs_review");  // title hints, no comps: as usual
    }
    auto listed = parse_object(api.get("/v1/items?limit=200")->body);
    std::set<std::string> known;
    for (const auto& item : listed.at("items").as_array()) {
        known.insert(str(item.at("item_id")));
    }
    CHECK(known.size() == accepted.size());
    for (const auto& [item, job] : accepted) {
        CHECK(known.contains(item));
    }
    CHECK(svc.terminate() == 0);
}

TEST_CASE("service on postgres: an item queued on one replica starts at once on another",
          "[e2e][pg]") {
    if (!pg_tools_present()) {
        WARN("no Postgres server programs (initdb): replica wake-ups not tested");
        return;
    }
    temp_dir dir;
    pg_server pg(dir.path() / "pg");
    // Both share the data folder (the blob store); only the second runs workers. Its poll is
    // 500 ms: without a notification a start would wait 250 ms on average.
    service_process intake(dir.path() / "data", {"--db", pg.dsn(), "--workers", "0"});
    service_process worker(dir.path() / "data", {"--db", pg.dsn(), "--workers", "2"});
    api_client submit(intake.port());
    api_client watch(worker.port());
    std::this_thread::sleep_for(300ms);  // the worker's listener connects

    std::vector<std::int64_t> waits;
    auto photo = {jpeg("orientation-1-landscape.jpg")};
    for (int i = 0; i < 8; ++i) {
        auto res = submit.post_item(photo, {{"title_hint", "print " + std::to_string(i)}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        auto job = watch.wait_final(str(parse_object(res->body).at("job_id")), 60s);
        auto waited = day_ms(str(job.at("started_at"))) - day_ms(str(job.at("created_at")));
        waits.push_back((waited + 86'400'000) % 86'400'000);  // across midnight too
        // An idle pause of varying length, so that a poll cannot line up with the submissions.
        std::this_thread::sleep_for(std::chrono::milliseconds(37 * i % 150));
    }
    std::sort(waits.begin(), waits.end());
    std::string listed;
    for (auto w : waits) {
        listed += std::to_string(w) + " ";
    }
    INFO("enqueue-to-start waits (ms), sorted: " << listed);
    CHECK(waits[waits.size() / 2] < 50);
    CHECK(waits.back() < 250);
    CHECK(intake.terminate() == 0);
    CHECK(worker.terminate() == 0);
}

TEST_CASE("service on postgres: the same photos given to two replicas at once are paid once",
          "[e2e][pg]") {
    if (!pg_tools_present()) {
        WARN("no Postgres server programs (initdb): cross-replica answers not tested");
        return;
    }
    temp_dir dir;
    pg_server pg(dir.path() / "pg");
    // Confident answers that take 3 s: both replicas reach their call while the first is out.
    boomer::fakes::fake_anthropic_options fake_options;
    fake_options.default_confidence = 0.95;
    boomer::fakes::fake_anthropic fake(fake_options);
    fake.set_latency(std::chrono::milliseconds(3000));
    std::optional<service_process> first;
    std::optional<service_process> second;
    {
        scoped_env claude(
            {{"ANTHROPIC_API_KEY", "test-key"}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
        // One item in flight each, so that the two items go to different replicas at once
        // (within one replica its own single flight would be what is tested).
        const std::vector<std::string> args{
            "--db", pg.dsn(), "--workers", "1", "--max-in-flight", "1", "--near-duplicate-distance",
            "0"};
        first.emplace(dir.path() / "data", args);
        second.emplace(dir.path() / "data", args);
    }

    // The submitters assert nothing themselves (Catch is not thread-safe): they keep the final
    // jobs, or what went wrong.
    std::vector<std::optional<json::object>> jobs(2);
    std::vector<std::string> errors(2);
    std::vector<std::thread> submitters;
    for (int i = 0; i < 2; ++i) {
        submitters.emplace_back([&, i] {
            try {
                api_client api(i == 0 ? first->port() : second->port());
                auto res = api.post_item({jpeg("orientation-1-landscape.jpg")},
                                         {{"title_hint", "framed landscape print"}});
                if (!res || res->status != 202) {
                    throw std::runtime_error("the item was refused");
                }
                jobs[i] = api.wait_final(str(parse_object(res->body).at("job_id")), 60s);
            } catch (const std::exception& x) {
                errors[i] = x.what();
            }
        });
    }
    for (auto& t : submitters) {
        t.join();
    }
    CHECK(errors == std::vector<std::string>{"", ""});
    for (const auto& job : jobs) {
        REQUIRE(job);
        CHECK(str(job->at("state")) != "failed");
    }
    CHECK(fake.received() == 1);
    CHECK(fake.paid() == 1);
    // The replica that did not pay shares the answer.
    std::multiset<std::string> outcomes;
    for (int i = 0; i < 2; ++i) {
        api_client api(i == 0 ? first->port() : second->port());
        auto item = parse_object(api.get("/v1/items/" + str(jobs[i]->at("item_id")))->body);
        outcomes.insert(str(item.at("identification").at("calls").at(0).at("outcome")));
    }
    CHECK(outcomes == std::multiset<std::string>{"cached", "ok"});
    CHECK(first->terminate() == 0);
    CHECK(second->terminate() == 0);
}
