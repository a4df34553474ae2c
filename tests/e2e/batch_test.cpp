// The whole service with Claude batches on, against the strict fake: bulk items are identified
// through one Message Batch (even with a single worker, which they give back while they wait),
// each at exactly half the synchronous price; urgent items stay on the synchronous path; and a
// kill -9 while the batch is pending loses nothing and pays nothing twice: the restarted service
// finds the recorded batch and waits for it instead of submitting again. While a batch runs its
// bulk items are parked: back in the queue, naming the batch, until its end wakes them. An
// unsure bulk answer is escalated through a second batch, with the photos read again from the
// blob store.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
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

// Batches of three: the window is long, and the third bulk call submits the batch at once (a
// loaded machine cannot split the items over two windows).
scoped_env batch_env(const fakes::fake_anthropic& fake) {
    return scoped_env({{"ANTHROPIC_API_KEY", "test-key"},
                       {"ANTHROPIC_BASE_URL", fake.base_url()},
                       {"BOOMER_CLAUDE_BATCHES", "1"},
                       {"BOOMER_CLAUDE_BATCH_MAX", "3"},
                       {"BOOMER_CLAUDE_BATCH_WINDOW_MS", "60000"},
                       {"BOOMER_CLAUDE_BATCH_POLL_MIN_MS", "200"},
                       {"BOOMER_CLAUDE_BATCH_POLL_MAX_MS", "1000"}});
}

struct photo {
    const char* name;
    const char* type;
};
const photo bulk_photos[] = {{"grayscale-jpeg-concert.jpg", "image/jpeg"},
                             {"orientation-1-landscape.jpg", "image/jpeg"},
                             {"webp-photo-denali.webp", "image/webp"}};
const photo urgent_photo = {"qr-printed-paper-photo-01.jpg", "image/jpeg"};

upload file(const photo& p) {
    return {"photo", p.name, read_file(data_dir() / "images" / p.name), p.type};
}

// The SHA-256 of the normalized JPEG the service sends for `p` (the fake's fixture key).
std::string normalized_sha256(const photo& p) {
    image::normalize_limits limits;
    limits.max_pixels = 50'000'000;  // the service's default --max-megapixels
    auto done = image::process(read_file(data_dir() / "images" / p.name), limits);
    REQUIRE(done);
    return done->image.sha256;
}

json::object record(std::string title) {
    return {{"title", std::move(title)},
            {"brand", "Acme"},
            {"category_path", json::array{"Art", "Photographs"}},
            {"condition_guess", "used"},
            {"search_query", "acme photo print"},
            {"overall_confidence", 0.9}};
}

void add_fixtures(fakes::fake_anthropic& fake) {
    for (const auto& p : bulk_photos) {
        fake.add_fixture(normalized_sha256(p), "claude-haiku-4-5",
                         record(std::string("Bulk ") + p.name));
    }
    fake.add_fixture(normalized_sha256(urgent_photo), "claude-haiku-4-5", record("Urgent"));
}

// Pico-dollars of `u` at `input_usd` / `output_usd` per MTok (cache writes 1.25x and 2x input,
// reads 0.1x input).
std::int64_t pico(const fakes::fake_usage& u, std::int64_t input_usd, std::int64_t output_usd) {
    return u.input_tokens * input_usd * 1'000'000 + u.cache_write_5m * input_usd * 1'250'000 +
           u.cache_write_1h * input_usd * 2'000'000 + u.cache_read * input_usd * 100'000 +
           u.output_tokens * output_usd * 1'000'000;
}

// Half the synchronous price, rounded half up to micro-dollars once.
std::int64_t half_price(const fakes::fake_usage& u) {
    return (pico(u, 1, 5) + 1'000'000) / 2'000'000;  // Haiku 4.5: $1 / $5 per MTok
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

std::string submit(api_client& api, const photo& p, const std::string& priority) {
    auto res = api.post_item({file(p)}, {{"priority", priority}});
    REQUIRE(res);
    REQUIRE(res->status == 202);
    return str(parse_object(res->body).at("job_id"));
}

json::object item_of(api_client& api, const json::object& job) {
    return parse_object(api.get("/v1/items/" + str(job.at("item_id")))->body);
}

// The billed batch line whose usage the item's only call reported.
const fakes::billed_request* line_of(const json::object& item,
                                     const std::vector<fakes::billed_request>& billed) {
    const auto& usage = item.at("identification").at("calls").at(0).at("usage");
    for (const auto& b : billed) {
        if (usage.at("input_tokens").as_int64() == b.usage.input_tokens &&
            usage.at("output_tokens").as_int64() == b.usage.output_tokens &&
            usage.at("cache_read_input_tokens").as_int64() == b.usage.cache_read) {
            return &b;
        }
    }
    return nullptr;
}

// Checks a bulk item: identified from its batch line at exactly half price.
void check_bulk_item(const json::object& item, const std::vector<fakes::billed_request>& billed) {
    const auto& id = item.at("identification").as_object();
    CHECK(str(id.at("title")).rfind("Bulk ", 0) == 0);
    REQUIRE(id.at("calls").as_array().size() == 1);
    const auto& call = id.at("calls").at(0);
    CHECK(str(call.at("usage").at("service_tier")) == "batch");
    CHECK(str(call.at("request_id")).rfind("msgbatch_", 0) == 0);
    const auto* line = line_of(item, billed);
    REQUIRE(line != nullptr);
    std::int64_t expected = half_price(line->usage);
    CHECK(expected > 0);
    CHECK(call.at("cost_micros").as_int64() == expected);
    CHECK(item.at("cost").at("total_micros").as_int64() == expected);
}

// The fake, its batches ending at the poll after `in_progress_polls` in_progress answers.
fakes::fake_anthropic_options pending_for(int in_progress_polls) {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = in_progress_polls;
    options.batches.retry_after_seconds = 1;
    return options;
}

// submit_bulk posts each of bulk_photos as a bulk item; returns their job ids.
std::vector<std::string> submit_bulk(api_client& api) {
    std::vector<std::string> jobs;
    for (const auto& p : bulk_photos) {
        jobs.push_back(submit(api, p, "bulk"));
    }
    return jobs;
}

}  // namespace

TEST_CASE(
    "service with Claude batches: bulk items share one batch at half price, urgent ones "
    "stay synchronous",
    "[e2e]") {
    fakes::fake_anthropic fake(pending_for(2));
    add_fixtures(fake);
    temp_dir dir;
    auto env = batch_env(fake);
    // One worker: the bulk items can only meet in one batch if each gives its slot back while
    // it waits, and the urgent item can only run meanwhile for the same reason.
    service_process svc(dir.path(), {"--workers", "1"});
    api_client api(svc.port());

    auto jobs = submit_bulk(api);
    auto urgent_job = api.wait_final(submit(api, urgent_photo, "urgent"));
    CHECK(fake.batch_billed().empty());  // the urgent item did not wait for the batch

    std::vector<json::object> items;
    for (const auto& job_id : jobs) {
        auto job = api.wait_final(job_id);
        CHECK(job.at("attempts") == 1);
        items.push_back(item_of(api, job));
    }
    CHECK(fake.batches_created() == 1);
    auto billed = fake.batch_billed();
    REQUIRE(billed.size() == 3);
    for (const auto& item : items) {
        check_bulk_item(item, billed);
    }

    // The urgent item went through /v1/messages at the full price.
    REQUIRE(fake.paid() == 1);
    auto urgent = item_of(api, urgent_job);
    const auto& call = urgent.at("identification").at("calls").at(0);
    CHECK(str(urgent.at("identification").at("title")) == "Urgent");
    CHECK(str(call.at("usage").at("service_tier")) == "standard");
    auto sync = fake.calls().at(0).usage;
    CHECK(call.at("cost_micros").as_int64() == (pico(sync, 1, 5) + 500'000) / 1'000'000);
}

TEST_CASE(
    "service with Claude batches: bulk items park while their batch runs, spending no "
    "attempt, and finish as soon as it has ended",
    "[e2e]") {
    auto options = pending_for(1'000'000);  // pending until the test says otherwise
    fakes::fake_anthropic fake(options);
    add_fixtures(fake);
    temp_dir dir;
    auto env = batch_env(fake);
    service_process svc(dir.path(), {"--workers", "1"});
    api_client api(svc.port());

    auto jobs = submit_bulk(api);
    // Each job is back in the queue, naming the batch it waits for; nothing holds its lease.
    std::string batch_id;
    for (const auto& job_id : jobs) {
        json::object job;
        for (int i = 0; i < 3000; ++i) {
            job = parse_object(api.get("/v1/jobs/" + job_id)->body);
            if (!job.at("waiting_for").is_null()) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        REQUIRE(job.at("waiting_for").is_object());
        CHECK(str(job.at("state")) == "queued");
        CHECK(job.at("attempts") == 0);
        CHECK(str(job.at("waiting_for").at("kind")) == "message_batch");
        batch_id = str(job.at("waiting_for").at("id"));
        CHECK(batch_id.rfind("msgbatch_", 0) == 0);
    }
    CHECK(fake.batches_created() == 1);
    auto metrics = api.get("/metrics")->body;
    CHECK(metrics.find("boomer_jobs_parked_total 3") != std::string::npos);
    CHECK(metrics.find("boomer_queue_depth{priority=\"bulk\"} 0") != std::string::npos);
    CHECK(metrics.find("boomer_stage_failures_total{stage=\"identify\"}") == std::string::npos);

    // The batch ends: its end wakes the three at once (their own recheck is minutes away).
    auto ending = options.batches;
    ending.in_progress_polls = 0;
    fake.set_batch_options(ending);
    std::vector<json::object> items;
    for (const auto& job_id : jobs) {
        auto job = api.wait_final(job_id, std::chrono::seconds(60));
        CHECK(str(job.at("state")) != "failed");  // needs_review: no market comps here
        CHECK(job.at("attempts") == 1);
        CHECK(job.at("waiting_for").is_null());
        items.push_back(item_of(api, job));
    }
    CHECK(fake.batches_created() == 1);
    CHECK(fake.paid() == 0);
    auto billed = fake.batch_billed();
    REQUIRE(billed.size() == 3);
    for (const auto& item : items) {
        check_bulk_item(item, billed);
        CHECK(str(item.at("identification").at("calls").at(0).at("request_id")) == batch_id);
    }
}

TEST_CASE(
    "service with Claude batches: kill -9 while the batch is pending, then the restarted "
    "service finishes the items from the same batch, each paid once",
    "[e2e][slow]") {
    auto options = pending_for(1'000'000);  // pending until the test says otherwise
    fakes::fake_anthropic fake(options);
    add_fixtures(fake);
    temp_dir dir;
    auto env = batch_env(fake);
    const std::vector<std::string> args = {"--workers", "2", "--lease-seconds", "2"};

    std::vector<std::string> jobs;
    {
        service_process svc(dir.path(), args);
        api_client api(svc.port());
        jobs = submit_bulk(api);
        // Polled once: created and recorded, and not ending.
        for (int i = 0; i < 3000 && fake.batch_polls() < 1; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        REQUIRE(fake.batch_polls() >= 1);
        REQUIRE(fake.batches_created() == 1);
        svc.kill9();
    }

    auto ending = options.batches;
    ending.in_progress_polls = 0;
    fake.set_batch_options(ending);
    service_process again(dir.path(), args);
    api_client api(again.port());
    std::vector<json::object> items;
    for (const auto& job_id : jobs) {
        auto job = api.wait_final(job_id, std::chrono::seconds(90));
        CHECK(str(job.at("state")) != "failed");
        items.push_back(item_of(api, job));
    }
    CHECK(fake.batches_created() == 1);
    CHECK(fake.paid() == 0);
    auto billed = fake.batch_billed();
    REQUIRE(billed.size() == 3);
    std::set<std::string> ids;
    for (const auto& b : billed) {
        ids.insert(b.custom_id);
    }
    CHECK(ids.size() == 3);  // each request billed once
    for (const auto& item : items) {
        check_bulk_item(item, billed);
    }
}

TEST_CASE(
    "service with Claude batches: an unsure bulk item is escalated through a second batch, "
    "its photos read again",
    "[e2e]") {
    fakes::fake_anthropic fake(pending_for(1));
    const auto& p = bulk_photos[1];
    auto unsure = record("Print");
    unsure["overall_confidence"] = 0.3;
    fake.add_fixture(normalized_sha256(p), "claude-haiku-4-5", unsure);
    fake.add_fixture(normalized_sha256(p), "claude-sonnet-4-5", record("Acme X1 print"));
    temp_dir dir;
    auto env = batch_env(fake);
    scoped_env one_per_batch(
        {{"BOOMER_CLAUDE_BATCH_MAX", "1"}, {"BOOMER_CLAUDE_BATCH_WINDOW_MS", "0"}});
    service_process svc(dir.path(), {"--workers", "1"});
    api_client api(svc.port());

    auto job = api.wait_final(submit(api, p, "bulk"));
    CHECK(job.at("attempts") == 1);
    auto item = item_of(api, job);
    const auto& id = item.at("identification").as_object();
    CHECK(str(id.at("title")) == "Acme X1 print");  // the strong call had the photo
    CHECK(id.at("escalated").as_bool());
    REQUIRE(id.at("calls").as_array().size() == 2);
    for (const auto& call : id.at("calls").as_array()) {
        CHECK(str(call.at("usage").at("service_tier")) == "batch");
    }
    CHECK(fake.batches_created() == 2);
    CHECK(fake.received() == 0);  // nothing went to /v1/messages
    auto billed = fake.batch_billed();
    REQUIRE(billed.size() == 2);
    CHECK(billed[1].model == "claude-sonnet-4-5");
}

TEST_CASE(
    "service with Claude batches: a bulk item canceled while its batch collects is not "
    "sent in it",
    "[e2e]") {
    fakes::fake_anthropic fake(pending_for(1));
    add_fixtures(fake);
    temp_dir dir;
    auto env = batch_env(fake);
    service_process svc(dir.path());
    api_client api(svc.port());

    // The first item's call waits in the open window (a batch of three, a minute's window)...
    const auto canceled_job = submit(api, bulk_photos[0], "bulk");
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string stage;
    while (stage != "identify" && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        stage = str(parse_object(api.get("/v1/jobs/" + canceled_job)->body).at("stage"));
    }
    REQUIRE(stage == "identify");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto item_id = str(parse_object(api.get("/v1/jobs/" + canceled_job)->body).at("item_id"));
    REQUIRE(api.post("/v1/items/" + item_id + "/cancel")->status == 200);

    // ...and is left out when two more calls fill the batch and it is made.
    std::vector<std::string> jobs{submit(api, bulk_photos[1], "bulk"),
                                  submit(api, bulk_photos[2], "bulk")};
    for (const auto& job_id : jobs) {
        auto job = api.wait_final(job_id);
        CHECK(str(job.at("state")) == "needs_review");  // identified; no comps, no price
    }
    CHECK(fake.batches_created() == 1);
    CHECK(fake.batch_billed().size() == 2);
    CHECK(str(parse_object(api.get("/v1/jobs/" + canceled_job)->body).at("state")) == "canceled");
}
