// Batched completions, run against every store engine: each completion in the batch is fenced
// on its own, a lost one does not keep the others from being written, and bad batches are
// refused whole.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

namespace {

constexpr std::int64_t lease = 1'000;

completion done(const claimed_job& job, job_state state, const std::string& result,
                const std::string& code = "") {
    return completion{job.job_id, job.fence, state, result, code, code.empty() ? "" : "why"};
}

}  // namespace

STORE_TEST("complete_many writes every held completion with its own result", "[store][batch]") {
    auto a = add_item(s, "t", priority::normal, t0);
    auto b = add_item(s, "t", priority::normal, t0 + 1);
    auto c = add_item(s, "t", priority::normal, t0 + 2);
    auto jobs = s.claim("w", 3, lease, t0 + 10);
    REQUIRE(jobs.size() == 3);

    std::vector<completion> batch{done(jobs[2], job_state::failed, R"({"c":1})", "bad_photo"),
                                  done(jobs[0], job_state::succeeded, R"({"a":"\"q\" \\"})"),
                                  done(jobs[1], job_state::needs_review, R"({"b":1})", "no_price")};
    CHECK(s.complete_many(batch, t0 + 50) == std::vector<bool>{true, true, true});

    CHECK(s.find_item("t", a.item_id)->result_json == R"({"a":"\"q\" \\"})");
    CHECK(s.find_item("t", b.item_id)->state == job_state::needs_review);
    auto job_c = s.find_job("t", c.job_id);
    CHECK(job_c->state == job_state::failed);
    CHECK(job_c->error_code == "bad_photo");
    CHECK(job_c->finished_ms == t0 + 50);
    CHECK(job_c->lease_owner.empty());
    CHECK(s.find_item("t", c.item_id)->updated_ms == t0 + 50);
    CHECK(s.count_by_state()[job_state::running] == 0);
}

STORE_TEST("complete_many: a lost fence refuses that job only", "[store][batch]") {
    auto a = add_item(s, "t", priority::normal, t0);
    auto b = add_item(s, "t", priority::normal, t0 + 1);
    auto c = add_item(s, "t", priority::normal, t0 + 2);
    auto jobs = s.claim("w", 3, lease, t0 + 10);
    REQUIRE(jobs.size() == 3);

    // b's lease is rescued and taken by another worker; c is canceled.
    auto stale_b = jobs[1];
    REQUIRE(s.heartbeat(jobs[0].job_id, jobs[0].fence, t0 + 5'000));
    REQUIRE(s.heartbeat(jobs[2].job_id, jobs[2].fence, t0 + 5'000));
    REQUIRE(s.rescue_expired(t0 + 2'000).touched() == 1);
    auto new_b = claim_one(s, "other", lease, t0 + 2'001);
    REQUIRE(new_b.job_id == b.job_id);
    REQUIRE(s.cancel("t", c.item_id, t0 + 2'002) == cancel_outcome::canceled);

    std::vector<completion> batch{done(jobs[0], job_state::succeeded, R"({"a":1})"),
                                  done(stale_b, job_state::succeeded, R"({"stale":1})"),
                                  done(jobs[2], job_state::succeeded, R"({"c":1})")};
    CHECK(s.complete_many(batch, t0 + 2'010) == std::vector<bool>{true, false, false});

    CHECK(s.find_item("t", a.item_id)->state == job_state::succeeded);
    auto job_b = s.find_job("t", b.job_id);
    CHECK(job_b->state == job_state::running);
    CHECK(job_b->lease_owner == "other");
    CHECK(s.find_item("t", b.item_id)->result_json.empty());
    CHECK(s.find_item("t", c.item_id)->state == job_state::canceled);
    CHECK(s.find_item("t", c.item_id)->result_json.empty());

    // The new holder still completes b.
    CHECK(s.complete_many({done(new_b, job_state::succeeded, R"({"b":2})")}, t0 + 2'020) ==
          std::vector<bool>{true});
    CHECK(s.find_item("t", b.item_id)->result_json == R"({"b":2})");
}

STORE_TEST("complete_many: an all-lost batch and an empty one write nothing", "[store][batch]") {
    auto a = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0 + 10);
    auto stale = job;
    stale.fence += 100;
    CHECK(s.complete_many({done(stale, job_state::succeeded, "{}")}, t0 + 20) ==
          std::vector<bool>{false});
    CHECK(s.complete_many({}, t0 + 20).empty());
    CHECK(s.find_job("t", a.job_id)->state == job_state::running);
    CHECK(s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", t0 + 30));
}

STORE_TEST("complete_many refuses a bad batch whole", "[store][batch]") {
    add_item(s, "t", priority::normal, t0);
    add_item(s, "t", priority::normal, t0 + 1);
    auto jobs = s.claim("w", 2, lease, t0 + 10);
    REQUIRE(jobs.size() == 2);

    auto twice = std::vector<completion>{done(jobs[0], job_state::succeeded, "{}"),
                                         done(jobs[1], job_state::succeeded, "{}"),
                                         done(jobs[0], job_state::failed, "{}")};
    CHECK_THROWS_AS(s.complete_many(twice, t0 + 20), std::invalid_argument);
    auto not_final = std::vector<completion>{done(jobs[0], job_state::succeeded, "{}"),
                                             done(jobs[1], job_state::canceled, "{}")};
    CHECK_THROWS_AS(s.complete_many(not_final, t0 + 20), std::invalid_argument);
    CHECK(s.count_by_state()[job_state::running] == 2);
}

STORE_TEST("create_items creates a batch in order, images and idempotency keys included",
           "[store][batch]") {
    auto earlier = s.create_item(make_item("t", priority::normal, t0, "key-old"));
    std::vector<new_item> batch;
    for (int i = 0; i < 5; ++i) {
        batch.push_back(make_item("t", i == 4 ? priority::urgent : priority::bulk, t0 + 10 + i));
    }
    batch[1].idempotency_key = "key-old";  // seen before the batch
    batch[2].idempotency_key = "key-new";
    batch[3].idempotency_key = "key-new";  // seen earlier in the same batch
    batch[0].images = {image_ref{0, std::string(64, 'a'), "a \"q\".jpg", "image/jpeg", 10, 1, 2}};

    auto results = s.create_items(batch);
    REQUIRE(results.size() == 5);
    CHECK(results[0].created);
    CHECK(results[0].item_id == batch[0].item_id);
    CHECK_FALSE(results[1].created);
    CHECK(results[1].item_id == earlier.item_id);
    CHECK(results[2].created);
    CHECK_FALSE(results[3].created);
    CHECK(results[3].item_id == batch[2].item_id);
    CHECK(results[3].job_id == batch[2].job_id);
    CHECK(results[4].created);

    auto first = s.find_item("t", batch[0].item_id);
    REQUIRE(first);
    REQUIRE(first->images.size() == 1);
    CHECK(first->images[0].filename == "a \"q\".jpg");
    CHECK_FALSE(s.find_item("t", batch[3].item_id));
    CHECK(s.queue_depth()[priority::bulk] == 2);
    CHECK(s.claim("w", 10, lease, t0 + 100).front().job_id == batch[4].job_id);
    CHECK(s.create_items({}).empty());
}

STORE_TEST("create_items refuses a malformed item and writes nothing", "[store][batch]") {
    std::vector<new_item> batch{make_item("t", priority::normal, t0),
                                make_item("t", priority::normal, t0 + 1)};
    batch[1].job_id.clear();
    CHECK_THROWS_AS(s.create_items(batch), std::invalid_argument);
    CHECK_FALSE(s.find_item("t", batch[0].item_id));
    CHECK(s.count_by_state()[job_state::queued] == 0);
}
