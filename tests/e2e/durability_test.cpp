// Crashes and restarts: kill -9 mid-run loses no accepted item and finishes none twice; SIGTERM
// drains and exits cleanly; the watched folder ingests each entry once across restarts.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

upload jpeg(const std::string& name) {
    return {"photo", name, read_file(data_dir() / "images" / name), "image/jpeg"};
}

bool is_final(std::string_view state) {
    return state != "queued" && state != "running";
}

// item id -> state, for every item the service knows
std::map<std::string, std::string> states(api_client& api) {
    std::map<std::string, std::string> out;
    std::string cursor;
    for (;;) {
        auto page = parse_object(
            api.get("/v1/items?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor))->body);
        for (const auto& item : page.at("items").as_array()) {
            out[str(item.at("item_id"))] = str(item.at("status"));
        }
        if (page.at("next_cursor").is_null()) {
            return out;
        }
        cursor = str(page.at("next_cursor"));
    }
}

// item ids named by "item_finished" events in a service log
std::vector<std::string> finished_in_log(const service_process& svc) {
    std::vector<std::string> ids;
    for (const auto& line : svc.log_lines()) {
        if (line.find("\"event\":\"item_finished\"") == std::string::npos) {
            continue;
        }
        ids.push_back(str(json::parse(line).at("item_id")));
    }
    return ids;
}

}  // namespace

TEST_CASE("service: kill -9 with 50 items in flight loses none and finishes none twice",
          "[e2e][slow]") {
    temp_dir dir;
    const std::vector<std::string> args = {"--lease-seconds", "2", "--workers", "4"};
    std::set<std::string> accepted;
    std::vector<std::string> first_run;
    {
        service_process svc(dir.path(), args);
        api_client api(svc.port());
        auto photos = {jpeg("orientation-1-landscape.jpg"), jpeg("orientation-5-landscape.jpg"),
                       jpeg("orientation-6-landscape.jpg")};
        for (int i = 0; i < 50; ++i) {
            auto res = api.post_item(photos, {{"title_hint", "print " + std::to_string(i)}});
            REQUIRE(res->status == 202);
            accepted.insert(str(parse_object(res->body).at("item_id")));
        }
        // Let some finish, then kill it while the rest are queued or running.
        for (int i = 0; i < 400 && finished_in_log(svc).size() < 5; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        svc.kill9();
        first_run = finished_in_log(svc);
    }
    INFO("finished before the kill: " << first_run.size());
    REQUIRE(first_run.size() < 50);

    service_process again(dir.path(), args);
    api_client api(again.port());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::map<std::string, std::string> now;
    for (;;) {
        now = states(api);
        bool done =
            std::all_of(now.begin(), now.end(), [](auto& kv) { return is_final(kv.second); });
        if (done || std::chrono::steady_clock::now() > deadline) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }

    // Every accepted item is there, final, and finished by exactly one of the two runs.
    REQUIRE(now.size() == accepted.size());
    for (const auto& id : accepted) {
        REQUIRE(now.contains(id));
        CHECK(now[id] == "needs_review");  // title hints, no comps
    }
    std::map<std::string, int> times;
    for (const auto& id : first_run) {
        ++times[id];
    }
    for (const auto& id : finished_in_log(again)) {
        ++times[id];
    }
    for (const auto& [id, n] : times) {
        INFO(id);
        CHECK(n == 1);
    }
    // The kill can land between an item's commit and its log line: allow that window only.
    CHECK(times.size() >= accepted.size() - 4);
}

TEST_CASE("service: SIGTERM drains running items and exits 0", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path(), {"--drain-seconds", "10"});
    api_client api(svc.port());
    std::vector<std::string> jobs;
    for (int i = 0; i < 6; ++i) {
        auto res = api.post_item({jpeg("orientation-2-landscape.jpg")});
        jobs.push_back(str(parse_object(res->body).at("job_id")));
    }
    CHECK(svc.terminate() == 0);
    auto log = svc.log_text();
    CHECK(log.find("\"event\":\"draining\"") != std::string::npos);
    CHECK(log.find("\"event\":\"stopped\"") != std::string::npos);

    // Nothing is left running: a new process finishes whatever was released or queued.
    service_process next(dir.path());
    api_client api2(next.port());
    for (const auto& job : jobs) {
        auto state = str(api2.wait_final(job, std::chrono::seconds(60)).at("state"));
        CHECK(state == "needs_review");
    }
}

TEST_CASE("service: the watched folder ingests files and sub-folders once, across restarts",
          "[e2e]") {
    temp_dir dir;
    auto inbox = dir.path() / "inbox";
    fs::create_directories(inbox / "Vintage waterfall print");
    fs::copy_file(data_dir() / "images/orientation-1-landscape.jpg",
                  inbox / "Vintage waterfall print/front.jpg");
    fs::create_directories(inbox / "Vintage waterfall print/detail");
    fs::copy_file(data_dir() / "images/orientation-3-landscape.jpg",
                  inbox / "Vintage waterfall print/detail/back.jpg");
    // A link is never followed, wherever it points.
    fs::create_symlink(data_dir() / "images/orientation-8-landscape.jpg", inbox / "link.jpg");
    fs::copy_file(data_dir() / "images/ean8-render-01.png", inbox / "single.png");
    fs::copy_file(data_dir() / "images/ean8-render-01.png", inbox / "notes.txt");
    std::ofstream(inbox / "notes.txt") << "not a photo";

    {
        service_process svc(dir.path() / "data",
                            {"--watch", inbox.string(), "--watch-settle-seconds", "1"});
        api_client api(svc.port());
        std::map<std::string, std::string> items;
        for (int i = 0; i < 200 && items.size() < 2; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            items = states(api);
        }
        REQUIRE(items.size() == 2);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        CHECK(fs::exists(inbox / ".processed/single.png"));
        CHECK(fs::exists(inbox / ".processed/Vintage waterfall print/front.jpg"));
        CHECK(fs::exists(inbox / ".rejected/notes.txt"));
        CHECK(fs::exists(inbox / ".rejected/notes.txt.reason.txt"));
        auto hinted = parse_object(api.get("/v1/items?limit=10")->body);
        bool found_hint = false;
        for (const auto& item : hinted.at("items").as_array()) {
            found_hint |= str(item.at("title_hint")) == "Vintage waterfall print";
        }
        CHECK(found_hint);
        for (const auto& item : hinted.at("items").as_array()) {
            if (str(item.at("title_hint")) == "Vintage waterfall print") {
                CHECK(item.at("images").as_array().size() == 2);  // the nested photo too
            }
        }
        CHECK(fs::is_symlink(inbox / "link.jpg"));  // left alone
        CHECK(svc.terminate() == 0);
    }

    // A crash between intake and the move leaves the entry in place: put it back as it was
    // (same bytes and time) and restart. It must not become a second item.
    fs::rename(inbox / ".processed/single.png", inbox / "single.png");
    service_process again(dir.path() / "data",
                          {"--watch", inbox.string(), "--watch-settle-seconds", "1"});
    api_client api(again.port());
    for (int i = 0; i < 100 && fs::exists(inbox / "single.png"); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK_FALSE(fs::exists(inbox / "single.png"));
    CHECK(states(api).size() == 2);
}
