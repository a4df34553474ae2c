// Near-duplicate reuse of an identification, through the real binary against the strict fake
// Anthropic API: a re-encoded copy of an identified photo makes no paid call and carries the
// first item's identification; copies submitted at once make one paid call between them; an
// unrelated photo still asks the model; with the feature off (flag or environment) the copy
// asks the model too.
#include "pipeline/near_duplicate.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <thread>

#include "pipeline/image/analyze.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace json = boost::json;

namespace {

const char* const camera_photo = "orientation-1-landscape.jpg";
const char* const other_photo = "webp-photo-denali.webp";

std::string data_photo(const std::string& name) {
    return read_file(data_dir() / "images" / name);
}

// The camera photo as a seller might upload it again: scaled by `scale` and saved as JPEG at
// `quality` (by default 80% at quality 60).
std::string reencoded_camera(double scale = 0.8, int quality = 60) {
    const std::string original = data_photo(camera_photo);
    const cv::Mat decoded = cv::imdecode(
        cv::Mat(1, static_cast<int>(original.size()), CV_8UC1, const_cast<char*>(original.data())),
        cv::IMREAD_COLOR);
    REQUIRE(!decoded.empty());
    cv::Mat smaller;
    cv::resize(decoded, smaller, cv::Size(), scale, scale, cv::INTER_AREA);
    std::vector<uchar> out;
    REQUIRE(cv::imencode(".jpg", smaller, out, {cv::IMWRITE_JPEG_QUALITY, quality}));
    return std::string(out.begin(), out.end());
}

// The SHA-256 of the normalized JPEG the service sends for `bytes` (the fake's fixture key).
std::string normalized_sha256(const std::string& bytes) {
    image::normalize_limits limits;
    limits.max_pixels = 50'000'000;  // the service's default --max-megapixels
    auto done = image::process(bytes, limits);
    REQUIRE(done);
    return done->image.sha256;
}

json::object record(std::string title) {
    return {{"title", std::move(title)},
            {"brand", "Canon"},
            {"model", "AE-1 Program"},
            {"category_path", json::array{"Cameras & Photo", "Film Cameras"}},
            {"condition_guess", "used"},
            {"search_query", "canon ae-1 program"},
            {"overall_confidence", 0.93}};
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

struct done_item {
    std::string id;
    json::object job;
    json::object item;
};

// post_and_wait submits one photo and waits for its job to end. It asserts nothing, so that
// threads other than the test's may call it (Catch's assertions are not thread-safe): a refused
// submission throws std::runtime_error.
done_item post_and_wait(api_client& api, const std::string& name, const std::string& bytes,
                        const std::vector<std::pair<std::string, std::string>>& fields = {}) {
    auto res = api.post_item({{"photo", name, bytes, "image/jpeg"}}, fields);
    if (!res || res->status != 202) {
        throw std::runtime_error(
            name + " was refused: " + (res ? res->body : httplib::to_string(res.error())));
    }
    auto receipt = parse_object(res->body);
    done_item out;
    out.id = str(receipt.at("item_id"));
    out.job = api.wait_final(str(receipt.at("job_id")));
    out.item = parse_object(api.get("/v1/items/" + out.id)->body);
    return out;
}

done_item submit(api_client& api, const std::string& name, const std::string& bytes,
                 const std::vector<std::pair<std::string, std::string>>& fields = {}) {
    done_item out;
    REQUIRE_NOTHROW(out = post_and_wait(api, name, bytes, fields));
    return out;
}

// Paid calls as the fake reports them over HTTP (what another process would see).
std::int64_t paid_at_fake(const fakes::fake_anthropic& fake) {
    httplib::Client client("127.0.0.1", fake.port());
    auto res = client.Get("/_fake/stats");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return parse_object(res->body).at("paid").to_number<std::int64_t>();
}

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// The fake with confident answers for the camera photo, the unrelated photo and the copy.
struct near_duplicate_service {
    fakes::fake_anthropic fake;
    temp_dir dir;
    std::string copy = reencoded_camera();
    std::optional<service_process> svc;
    std::optional<api_client> api;

    near_duplicate_service() {
        fake.add_fixture(normalized_sha256(data_photo(camera_photo)), "",
                         record("Canon AE-1 Program 35mm SLR Film Camera"));
        fake.add_fixture(normalized_sha256(copy), "", record("Copy answered by the model"));
        fake.add_fixture(normalized_sha256(data_photo(other_photo)), "",
                         record("Denali National Park framed print"));
    }

    void start(const std::vector<std::string>& args = {}, const env_vars& env = {}) {
        scoped_env claude(
            {{"ANTHROPIC_API_KEY", "test-key"}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
        svc.emplace(dir.path(), args, env);
        api.emplace(svc->port());
    }
};

}  // namespace

TEST_CASE("service near duplicates: a re-encoded copy reuses the first item's identification",
          "[e2e]") {
    near_duplicate_service t;
    t.start();

    auto first = submit(*t.api, "camera.jpg", data_photo(camera_photo));
    CHECK(str(first.item.at("identification").at("title")) ==
          "Canon AE-1 Program 35mm SLR Film Camera");
    REQUIRE(t.fake.paid() == 1);
    const auto phash = str(first.item.at("images").at(0).at("phash"));
    CHECK(phash.size() == 16);

    auto copy = submit(*t.api, "camera-again.jpg", t.copy);
    CHECK(t.fake.paid() == 1);
    CHECK(t.fake.received() == 1);
    CHECK(paid_at_fake(t.fake) == 1);
    const auto& id = copy.item.at("identification").as_object();
    CHECK(str(id.at("title")) == "Canon AE-1 Program 35mm SLR Film Camera");
    CHECK(str(id.at("reused_from").at("item_id")) == first.id);
    const auto distance = id.at("reused_from").at("distance").as_int64();
    CHECK(distance <= pipeline::near_duplicate_default_distance);
    CHECK(id.at("calls").at(0).at("outcome") == "near_duplicate");
    CHECK(copy.item.at("cost").at("total_micros") == 0);
    CHECK(copy.item.at("cost").at("vision_calls_paid") == 0);
    CHECK(copy.item.at("cost").at("vision_answers_reused") == 1);
    CHECK(image::phash_distance(phash, str(copy.item.at("images").at(0).at("phash"))) ==
          static_cast<unsigned>(distance));

    auto other = submit(*t.api, "print.webp", data_photo(other_photo));
    CHECK(str(other.item.at("identification").at("title")) == "Denali National Park framed print");
    CHECK_FALSE(other.item.at("identification").as_object().contains("reused_from"));
    CHECK(t.fake.paid() == 2);
    CHECK(paid_at_fake(t.fake) == 2);

    const auto metrics = t.api->get("/metrics")->body;
    CHECK(has_line(metrics, R"(boomer_near_duplicate_lookups_total{outcome="reused"} 1)"));
    CHECK(has_line(metrics, R"(boomer_near_duplicate_lookups_total{outcome="no_match"} 2)"));
    CHECK(has_line(metrics,
                   R"(boomer_cache_lookups_total{cache="vision_near_duplicate",outcome="hit"} 1)"));
}

TEST_CASE("service near duplicates: turned off by flag or environment, the copy is paid for",
          "[e2e]") {
    near_duplicate_service t;
    SECTION("by flag") {
        t.start({"--near-duplicate-distance=0"});
    }
    SECTION("by environment, with a negative distance") {
        t.start({}, {{"BOOMER_NEAR_DUPLICATE_DISTANCE", "-1"}});
    }
    SECTION("by keeping no paid answers") {
        t.start({"--vision-answer-days=0"});
    }

    auto first = submit(*t.api, "camera.jpg", data_photo(camera_photo));
    auto copy = submit(*t.api, "camera-again.jpg", t.copy);
    CHECK(str(copy.item.at("identification").at("title")) == "Copy answered by the model");
    CHECK_FALSE(copy.item.at("identification").as_object().contains("reused_from"));
    CHECK(copy.item.at("cost").at("vision_calls_paid") == 1);
    CHECK(t.fake.paid() == 2);
    CHECK(paid_at_fake(t.fake) == 2);
    CHECK(t.api->get("/metrics")->body.find("boomer_near_duplicate_lookups_total{") ==
          std::string::npos);
}

TEST_CASE("service near duplicates: a copy asking something else is paid for", "[e2e]") {
    // Everything the vision request carries besides the photos must be the same: the condition
    // note, and the model (changed across a restart on the same database).
    near_duplicate_service t;
    t.start();
    auto first = submit(*t.api, "camera.jpg", data_photo(camera_photo));
    REQUIRE(t.fake.paid() == 1);

    std::string note;
    SECTION("another condition note") {
        note = "for parts, cracked lid";
    }
    SECTION("another model") {
        t.api.reset();
        t.svc.reset();
        t.start({}, {{"BOOMER_CLAUDE_MODEL", "claude-sonnet-4-5"}});
    }
    std::vector<std::pair<std::string, std::string>> fields;
    if (!note.empty()) {
        fields.emplace_back("condition", note);
    }
    auto copy = submit(*t.api, "camera-again.jpg", t.copy, fields);
    const auto& id = copy.item.at("identification").as_object();
    CHECK(str(id.at("title")) == "Copy answered by the model");
    CHECK_FALSE(id.contains("reused_from"));
    CHECK(copy.item.at("cost").at("vision_calls_paid") == 1);
    CHECK(t.fake.paid() == 2);
    CHECK(str(id.at("request_context")) !=
          str(first.item.at("identification").at("request_context")));
    CHECK(has_line(t.api->get("/metrics")->body,
                   R"(boomer_near_duplicate_lookups_total{outcome="context_differs"} 1)"));
}

TEST_CASE("service near duplicates: copies submitted at once make one paid call", "[e2e]") {
    // Each copy has an answer of its own at the fake, so the item that asked is known; the model
    // takes 3 s to answer, so that every copy reaches its identify stage while the first call is
    // in flight (without the single flight, each would pay).
    near_duplicate_service t;
    std::vector<std::pair<std::string, std::string>> copies{
        {"camera.jpg", data_photo(camera_photo)},
        {"camera-80.jpg", t.copy},
        {"camera-50.jpg", reencoded_camera(0.5, 90)},
        {"camera-120.jpg", reencoded_camera(1.2, 75)}};
    for (std::size_t i = 0; i < copies.size(); ++i) {
        t.fake.add_fixture(normalized_sha256(copies[i].second), "",
                           record("Canon AE-1 Program, answered for copy " + std::to_string(i)));
    }
    t.fake.set_latency(std::chrono::milliseconds(3000));
    t.start();

    // The submitters assert nothing themselves: they hand results and errors to this thread.
    std::mutex mutex;
    std::vector<done_item> items;
    std::vector<std::string> errors;
    std::vector<std::thread> submitters;
    for (const auto& [name, bytes] : copies) {
        submitters.emplace_back([&t, &mutex, &items, &errors, name = name, bytes = bytes] {
            api_client api(t.svc->port());
            try {
                auto done = post_and_wait(api, name, bytes);
                std::lock_guard lock(mutex);
                items.push_back(std::move(done));
            } catch (const std::exception& x) {
                std::lock_guard lock(mutex);
                errors.emplace_back(x.what());
            }
        });
    }
    for (auto& s : submitters) {
        s.join();
    }
    CHECK(errors == std::vector<std::string>{});
    REQUIRE(items.size() == copies.size());
    // Whichever copy asks first, every other is within the distance of it.
    for (const auto& a : items) {
        for (const auto& b : items) {
            CHECK(image::phash_distance(str(a.item.at("images").at(0).at("phash")),
                                        str(b.item.at("images").at(0).at("phash"))) <=
                  static_cast<unsigned>(pipeline::near_duplicate_default_distance));
        }
    }

    CHECK(t.fake.received() == 1);
    CHECK(t.fake.paid() == 1);
    CHECK(paid_at_fake(t.fake) == 1);
    std::vector<const done_item*> asked;
    for (const auto& item : items) {
        CHECK(str(item.job.at("state")) == "needs_review");  // identified; no comps, no price
        if (!item.item.at("identification").as_object().contains("reused_from")) {
            asked.push_back(&item);
        }
    }
    REQUIRE(asked.size() == 1);
    const auto& leader = *asked.front();
    CHECK(leader.item.at("cost").at("vision_calls_paid") == 1);
    const auto title = str(leader.item.at("identification").at("title"));
    for (const auto& item : items) {
        if (&item == &leader) {
            continue;
        }
        const auto& id = item.item.at("identification").as_object();
        CHECK(str(id.at("title")) == title);
        CHECK(str(id.at("reused_from").at("item_id")) == leader.id);
        CHECK(id.at("calls").at(0).at("outcome") == "near_duplicate");
        CHECK(item.item.at("cost").at("vision_calls_paid") == 0);
        CHECK(item.item.at("cost").at("vision_answers_reused") == 1);
    }

    const auto metrics = t.api->get("/metrics")->body;
    CHECK(has_line(metrics, R"(boomer_near_duplicate_lookups_total{outcome="reused"} 3)"));
    CHECK(has_line(metrics, R"(boomer_near_duplicate_lookups_total{outcome="no_match"} 1)"));
}
