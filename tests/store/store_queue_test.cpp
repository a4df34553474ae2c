// The durable queue, run against every store engine: claim order and aging, leases, fencing,
// rescue, cancel, retry, release, checkpoints and batched heartbeats.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

namespace {

constexpr std::int64_t lease = 10'000;

checkpoint stage(const std::string& name, const std::string& output, std::int64_t at) {
    return checkpoint{name, output, 25, at};
}

}  // namespace

STORE_TEST("claim hands out jobs by priority, then oldest first", "[store]") {
    auto normal_old = add_item(s, "t", priority::normal, t0);
    auto bulk = add_item(s, "t", priority::bulk, t0 + 100);
    auto normal_new = add_item(s, "t", priority::normal, t0 + 200);
    auto urgent = add_item(s, "t", priority::urgent, t0 + 300);
    auto now = t0 + 1000;

    auto first = s.claim("w", 2, lease, now);
    REQUIRE(first.size() == 2);
    CHECK(first[0].job_id == urgent.job_id);
    CHECK(first[1].job_id == normal_old.job_id);
    CHECK(first[0].item_id == urgent.item_id);
    CHECK(first[0].tenant_id == "t");

    CHECK(claim_one(s, "w", lease, now).job_id == normal_new.job_id);
    CHECK(claim_one(s, "w", lease, now).job_id == bulk.job_id);
    CHECK(s.claim("w", 5, lease, now).empty());
}

STORE_TEST("aging lets an old bulk job outrank a new urgent one", "[store]") {
    // Default offsets: urgent 0, bulk 5 minutes.
    auto bulk = add_item(s, "t", priority::bulk, t0);
    auto urgent_later = add_item(s, "t", priority::urgent, t0 + 300'001);
    auto urgent_sooner = add_item(s, "t", priority::urgent, t0 + 299'999);
    auto now = t0 + 400'000;

    CHECK(claim_one(s, "w", lease, now).job_id == urgent_sooner.job_id);
    CHECK(claim_one(s, "w", lease, now).job_id == bulk.job_id);
    CHECK(claim_one(s, "w", lease, now).job_id == urgent_later.job_id);
}

STORE_TEST("claim skips jobs whose run_after has not come", "[store]") {
    auto ids = add_item(s, "t", priority::urgent, t0);
    auto later = add_item(s, "t", priority::bulk, t0 + 1);
    auto job = claim_one(s, "w", lease, t0 + 10);
    REQUIRE(job.job_id == ids.job_id);
    REQUIRE(s.retry_later(job.job_id, job.fence, "upstream_busy", "busy", t0 + 5'000, t0 + 20));

    // The delayed urgent job waits; the bulk one behind it runs.
    CHECK(claim_one(s, "w", lease, t0 + 4'999).job_id == later.job_id);
    CHECK(s.claim("w", 5, lease, t0 + 4'999).empty());
    auto again = claim_one(s, "w", lease, t0 + 5'000);
    CHECK(again.job_id == ids.job_id);
    CHECK(again.attempts == 2);
}

STORE_TEST("attempts are counted at claim and the lease is recorded", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "worker-1", lease, t0 + 100);
    CHECK(job.attempts == 1);
    CHECK(job.max_attempts == 5);

    auto record = s.find_job("t", ids.job_id);
    REQUIRE(record);
    CHECK(record->state == job_state::running);
    CHECK(record->attempts == 1);
    CHECK(record->lease_owner == "worker-1");
    CHECK(record->locked_until_ms == t0 + 100 + lease);
    CHECK(record->started_ms == t0 + 100);
    CHECK(record->fence == job.fence);

    REQUIRE(s.retry_later(job.job_id, job.fence, "timeout", "slow upstream", t0 + 200, t0 + 150));
    auto second = claim_one(s, "worker-2", lease, t0 + 300);
    CHECK(second.attempts == 2);
    CHECK(second.fence > job.fence);
    auto again = s.find_job("t", ids.job_id);
    CHECK(again->started_ms == t0 + 100);   // the first claim
    CHECK(again->error_code == "timeout");  // kept for display while queued
}

STORE_TEST("after a rescue the old fence is refused and the new one works", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto old_claim = claim_one(s, "old", 1'000, t0);
    REQUIRE(s.set_stage(old_claim.job_id, old_claim.fence, "identify"));
    REQUIRE(s.rescue_expired(t0 + 1'001).touched() == 1);
    auto new_claim = claim_one(s, "new", 1'000, t0 + 1'002);
    REQUIRE(new_claim.job_id == old_claim.job_id);
    CHECK(new_claim.fence != old_claim.fence);

    const auto& id = old_claim.job_id;
    CHECK_FALSE(s.heartbeat(id, old_claim.fence, t0 + 9'000));
    CHECK_FALSE(s.set_stage(id, old_claim.fence, "price"));
    CHECK_FALSE(s.save_checkpoint(id, old_claim.fence, stage("identify", "{\"old\":1}", t0)));
    CHECK_FALSE(
        s.complete(id, old_claim.fence, job_state::succeeded, "{\"old\":1}", "", "", t0 + 1'003));
    CHECK_FALSE(s.retry_later(id, old_claim.fence, "x", "x", t0, t0 + 1'003));
    CHECK_FALSE(s.release(id, old_claim.fence, t0 + 1'003));
    CHECK(s.find_job("t", id)->lease_owner == "new");

    CHECK(s.heartbeat(id, new_claim.fence, t0 + 5'000));
    CHECK(s.find_job("t", id)->locked_until_ms == t0 + 5'000);
    CHECK(s.set_stage(id, new_claim.fence, "price"));
    CHECK(s.save_checkpoint(id, new_claim.fence, stage("identify", "{\"new\":1}", t0 + 5)));
    CHECK(s.complete(id, new_claim.fence, job_state::succeeded, "{\"new\":1}", "", "", t0 + 2'000));

    auto item = s.find_item("t", ids.item_id);
    CHECK(item->state == job_state::succeeded);
    CHECK(item->result_json == "{\"new\":1}");
    auto saved = s.checkpoints(id);
    REQUIRE(saved.size() == 1);
    CHECK(saved[0].output_json == "{\"new\":1}");
    CHECK(s.find_job("t", id)->stage == "price");
    // A finished job takes no more writes, even with the fence that finished it.
    CHECK_FALSE(s.heartbeat(id, new_claim.fence, t0 + 9'000));
}

STORE_TEST("a lease is valid up to and including locked_until", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", 1'000, t0);
    const auto expiry = t0 + 1'000;

    SECTION("rescue at the expiry instant, then complete") {
        CHECK(s.rescue_expired(expiry).touched() == 0);
        CHECK(s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", expiry));
    }
    SECTION("complete at the expiry instant, then rescue") {
        CHECK(s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", expiry));
        CHECK(s.rescue_expired(expiry).touched() == 0);
        CHECK(s.rescue_expired(expiry + 1).touched() == 0);
    }
    auto counts = s.count_by_state();
    CHECK(counts[job_state::succeeded] == 1);
    CHECK(counts[job_state::running] == 0);
    CHECK(counts[job_state::queued] == 0);
    CHECK(s.find_job("t", ids.job_id)->finished_ms == expiry);
}

STORE_TEST("one millisecond past locked_until the lease is rescued", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", 1'000, t0);
    CHECK(s.rescue_expired(t0 + 1'001).touched() == 1);
    CHECK_FALSE(s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", t0 + 1'001));
    auto record = s.find_job("t", ids.job_id);
    CHECK(record->state == job_state::queued);
    CHECK(record->run_after_ms == t0 + 1'001);
    CHECK(record->error_code == "lease_expired");
    CHECK(record->lease_owner.empty());
    CHECK(s.find_item("t", ids.item_id)->result_json.empty());
}

STORE_TEST("rescue fails a job with lease_expired once its attempts are used up", "[store]") {
    auto item = make_item("t", priority::normal, t0);
    item.max_attempts = 2;
    s.create_item(item);
    auto healthy = add_item(s, "t", priority::bulk, t0);

    claim_one(s, "w", 1'000, t0);
    auto other = claim_one(s, "w", 60'000, t0);
    REQUIRE(other.job_id == healthy.job_id);
    auto first = s.rescue_expired(t0 + 2'000);
    CHECK(first.requeued == 1);
    CHECK(first.failed.empty());
    CHECK(s.find_job("t", item.job_id)->state == job_state::queued);

    auto second = claim_one(s, "w", 1'000, t0 + 3'000);
    CHECK(second.attempts == 2);
    auto last = s.rescue_expired(t0 + 5'000);
    CHECK(last.requeued == 0);
    REQUIRE(last.failed.size() == 1);
    // Named for the report no worker makes.
    const auto& given_up = last.failed[0];
    CHECK(given_up.job.tenant_id == "t");
    CHECK(given_up.job.job_id == item.job_id);
    CHECK(given_up.job.item_id == item.item_id);
    CHECK(given_up.job.fence == second.fence + 1);
    CHECK(given_up.job.attempts == 2);
    CHECK(given_up.job.max_attempts == 2);
    auto record = s.find_job("t", item.job_id);
    CHECK(given_up.error_message == record->error_message);
    CHECK(record->state == job_state::failed);
    CHECK(record->error_code == "lease_expired");
    CHECK_THAT(record->error_message, Catch::Contains("last attempt (2 of 2)"));
    CHECK(record->finished_ms == t0 + 5'000);
    CHECK(s.find_item("t", item.item_id)->updated_ms == t0 + 5'000);
    CHECK(s.rescue_expired(t0 + 6'000).touched() == 0);
    CHECK(s.find_job("t", healthy.job_id)->state == job_state::running);
}

STORE_TEST("retry_later fails the job when its attempts are used up", "[store]") {
    auto item = make_item("t", priority::normal, t0);
    item.max_attempts = 1;
    s.create_item(item);
    auto job = claim_one(s, "w", lease, t0);
    CHECK(s.retry_later(job.job_id, job.fence, "upstream_down", "The market source is down.",
                        t0 + 60'000, t0 + 10));
    auto record = s.find_job("t", item.job_id);
    CHECK(record->state == job_state::failed);
    CHECK(record->error_code == "upstream_down");
    CHECK(record->error_message == "The market source is down.");
    CHECK(record->finished_ms == t0 + 10);
    CHECK(s.claim("w", 1, lease, t0 + 120'000).empty());
}

STORE_TEST("complete stores the outcome on the job and the result on the item", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    CHECK_THROWS_AS(s.complete(job.job_id, job.fence, job_state::running, "", "", "", t0),
                    std::invalid_argument);
    CHECK(s.complete(job.job_id, job.fence, job_state::needs_review, "{\"price\":12}",
                     "low_confidence", "Check the brand.", t0 + 500));

    auto record = s.find_job("t", ids.job_id);
    CHECK(record->state == job_state::needs_review);
    CHECK(record->finished_ms == t0 + 500);
    CHECK(record->error_code == "low_confidence");
    CHECK(record->error_message == "Check the brand.");
    auto item = s.find_item("t", ids.item_id);
    CHECK(item->result_json == "{\"price\":12}");
    CHECK(item->updated_ms == t0 + 500);
    CHECK(item->state == job_state::needs_review);
}

STORE_TEST("cancel ends queued and running jobs and leaves final ones", "[store]") {
    auto queued = add_item(s, "t", priority::normal, t0);
    auto running = add_item(s, "t", priority::urgent, t0);
    auto job = claim_one(s, "w", lease, t0 + 1);
    REQUIRE(job.job_id == running.job_id);

    CHECK(s.cancel("t", queued.item_id, t0 + 2) == cancel_outcome::canceled);
    CHECK(s.cancel("t", running.item_id, t0 + 3) == cancel_outcome::canceled);
    CHECK(s.cancel("t", running.item_id, t0 + 4) == cancel_outcome::already_final);
    CHECK(s.cancel("t", "itm_missing", t0 + 4) == cancel_outcome::not_found);

    // The worker still running the canceled job is refused from now on.
    CHECK_FALSE(s.heartbeat(job.job_id, job.fence, t0 + 9'000));
    CHECK_FALSE(s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", t0 + 5));
    auto record = s.find_job("t", running.job_id);
    CHECK(record->state == job_state::canceled);
    CHECK(record->finished_ms == t0 + 3);
    CHECK(s.claim("w", 5, lease, t0 + 10).empty());
    CHECK(s.rescue_expired(t0 + 100'000).touched() == 0);

    auto done = add_item(s, "t", priority::normal, t0 + 20);
    auto done_job = claim_one(s, "w", lease, t0 + 21);
    REQUIRE(
        s.complete(done_job.job_id, done_job.fence, job_state::succeeded, "{}", "", "", t0 + 22));
    CHECK(s.cancel("t", done.item_id, t0 + 23) == cancel_outcome::already_final);
    CHECK(s.find_job("t", done.job_id)->state == job_state::succeeded);
}

STORE_TEST("cancel drops the reason a job was waiting for", "[store]") {
    auto item = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    REQUIRE(s.defer(job.job_id, job.fence, "vision_unavailable", "Calls are paused for 30 s.",
                    t0 + 30'000));
    REQUIRE(s.find_job("t", item.job_id)->error_code == "vision_unavailable");

    CHECK(s.cancel("t", item.item_id, t0 + 5) == cancel_outcome::canceled);
    auto record = s.find_job("t", item.job_id);
    CHECK(record->state == job_state::canceled);
    CHECK(record->error_code.empty());
    CHECK(record->error_message.empty());
}

STORE_TEST("retry requeues failed and canceled items and keeps their checkpoints", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    REQUIRE(s.save_checkpoint(job.job_id, job.fence, stage("identify", "{\"id\":1}", t0)));
    CHECK_FALSE(s.retry("t", ids.item_id, t0 + 1));  // running: not final
    REQUIRE(s.complete(job.job_id, job.fence, job_state::failed, "", "vision_down",
                       "The vision model did not answer.", t0 + 2));

    CHECK(s.retry("t", ids.item_id, t0 + 3));
    auto record = s.find_job("t", ids.job_id);
    CHECK(record->state == job_state::queued);
    CHECK(record->attempts == 0);
    CHECK(record->error_code.empty());
    CHECK(record->finished_ms == 0);
    CHECK(s.find_item("t", ids.item_id)->result_json.empty());
    auto kept = s.checkpoints(ids.job_id);
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].output_json == "{\"id\":1}");
    CHECK_FALSE(s.retry("t", ids.item_id, t0 + 4));  // queued: not final

    auto again = claim_one(s, "w", lease, t0 + 5);
    CHECK(again.attempts == 1);
    REQUIRE(s.complete(again.job_id, again.fence, job_state::succeeded, "{}", "", "", t0 + 6));
    CHECK_FALSE(s.retry("t", ids.item_id, t0 + 7));  // succeeded: nothing to retry

    auto canceled = add_item(s, "t", priority::normal, t0 + 8);
    REQUIRE(s.cancel("t", canceled.item_id, t0 + 9) == cancel_outcome::canceled);
    CHECK(s.retry("t", canceled.item_id, t0 + 10));
    CHECK(claim_one(s, "w", lease, t0 + 11).job_id == canceled.job_id);
}

STORE_TEST("redo requeues a final item in any state and keeps its checkpoints", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    REQUIRE(s.save_checkpoint(job.job_id, job.fence, stage("identify", "{\"id\":1}", t0)));
    CHECK_FALSE(s.redo("t", ids.item_id, t0 + 1));  // running: not final
    REQUIRE(s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", t0 + 2));
    CHECK_FALSE(s.retry("t", ids.item_id, t0 + 3));  // retry takes no succeeded item

    CHECK(s.redo("t", ids.item_id, t0 + 4));
    auto record = s.find_job("t", ids.job_id);
    CHECK(record->state == job_state::queued);
    CHECK(record->attempts == 0);
    CHECK(record->finished_ms == 0);
    CHECK(s.find_item("t", ids.item_id)->result_json.empty());
    REQUIRE(s.checkpoints(ids.job_id).size() == 1);
    CHECK_FALSE(s.redo("t", ids.item_id, t0 + 5));      // queued: not final
    CHECK_FALSE(s.redo("other", ids.item_id, t0 + 5));  // another tenant's item is not found

    auto again = claim_one(s, "w", lease, t0 + 6);
    CHECK(again.job_id == ids.job_id);
    REQUIRE(s.complete(again.job_id, again.fence, job_state::needs_review, "{}", "no_price",
                       "no comps", t0 + 7));
    CHECK(s.redo("t", ids.item_id, t0 + 8));
    CHECK(s.find_job("t", ids.job_id)->state == job_state::queued);
}

STORE_TEST("release gives the attempt back and queues the job at once", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    CHECK(s.release(job.job_id, job.fence, t0 + 50));

    auto record = s.find_job("t", ids.job_id);
    CHECK(record->state == job_state::queued);
    CHECK(record->attempts == 0);
    CHECK(record->lease_owner.empty());
    CHECK(record->run_after_ms == t0 + 50);
    CHECK_FALSE(s.release(job.job_id, job.fence, t0 + 51));
    CHECK_FALSE(s.heartbeat(job.job_id, job.fence, t0 + 9'000));

    auto again = claim_one(s, "w", lease, t0 + 50);
    CHECK(again.attempts == 1);
    CHECK(again.fence > job.fence);
}

STORE_TEST("a deferred job gets its attempt back and shows why it waits until it ends", "[store]") {
    auto ids = add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    CHECK(s.defer(job.job_id, job.fence, "vision_unavailable", "Calls are paused for 30 s.",
                  t0 + 30'000));
    CHECK_FALSE(s.defer(job.job_id, job.fence, "x", "y", t0 + 1));  // fenced

    auto record = s.find_job("t", ids.job_id);
    CHECK(record->state == job_state::queued);
    CHECK(record->attempts == 0);
    CHECK(record->run_after_ms == t0 + 30'000);
    CHECK(record->error_code == "vision_unavailable");
    CHECK(record->error_message == "Calls are paused for 30 s.");
    CHECK(record->waits_for.empty());
    CHECK(s.queue_depth()[priority::normal] == 1);  // it waits for its time, then a worker
    CHECK(s.claim("w", 1, lease, t0 + 29'999).empty());

    // Once the pause is over, it runs at once; other deferred or retried jobs stay as they are.
    auto other = add_item(s, "t", priority::normal, t0 + 1);
    auto other_job = claim_one(s, "w", lease, t0 + 2);
    REQUIRE(other_job.job_id == other.job_id);
    CHECK(s.retry_later(other_job.job_id, other_job.fence, "vision_overloaded", "529", t0 + 40'000,
                        t0 + 2));
    CHECK(s.wake_deferred("vision_unavailable", t0 + 10) == 1);
    CHECK(s.wake_deferred("vision_unavailable", t0 + 11) == 0);
    CHECK(s.find_job("t", ids.job_id)->run_after_ms == t0 + 10);
    CHECK(s.find_job("t", other.job_id)->run_after_ms == t0 + 40'000);
    CHECK(s.find_job("t", ids.job_id)->error_code == "vision_unavailable");  // still shown

    auto again = claim_one(s, "w", lease, t0 + 20);
    CHECK(again.job_id == ids.job_id);
    CHECK(again.attempts == 1);
    REQUIRE(s.complete(again.job_id, again.fence, job_state::succeeded, "{}", "", "", t0 + 30'001));
    CHECK(s.find_job("t", ids.job_id)->error_code.empty());
}

STORE_TEST("a parked job waits for its batch, wakes when it ends, and forgets it at claim",
           "[store]") {
    auto a = add_item(s, "t", priority::bulk, t0);
    auto b = add_item(s, "t", priority::bulk, t0 + 1);
    auto c = add_item(s, "t", priority::bulk, t0 + 2);
    auto ja = claim_one(s, "w", lease, t0 + 10);
    auto jb = claim_one(s, "w", lease, t0 + 10);
    auto jc = claim_one(s, "w", lease, t0 + 10);
    const auto recheck = t0 + 600'000;
    CHECK(s.park(ja.job_id, ja.fence, "msgbatch_one", recheck));
    CHECK(s.park(jb.job_id, jb.fence, "msgbatch_one", recheck));
    CHECK(s.park(jc.job_id, jc.fence, "msgbatch_two", recheck));
    CHECK_FALSE(s.park(ja.job_id, ja.fence, "msgbatch_one", recheck));  // fenced like release

    auto parked = s.find_job("t", a.job_id);
    CHECK(parked->state == job_state::queued);
    CHECK(parked->attempts == 0);  // parking spends no attempt
    CHECK(parked->waits_for == "msgbatch_one");
    CHECK(parked->run_after_ms == recheck);
    CHECK(s.claim("w", 5, lease, t0 + 20).empty());
    // Parked jobs wait for their batch, not for a worker.
    CHECK(s.queue_depth()[priority::bulk] == 0);
    CHECK(s.count_by_state()[job_state::queued] == 3);
    // What they wait for, each batch once, whoever parked them.
    auto on = s.parked_on(10);
    std::sort(on.begin(), on.end());
    CHECK(on == std::vector<std::string>{"msgbatch_one", "msgbatch_two"});
    CHECK(s.parked_on(1).size() == 1);

    CHECK(s.wake_parked("msgbatch_one", t0 + 30) == 2);
    CHECK(s.wake_parked("msgbatch_one", t0 + 31) == 0);
    CHECK(s.find_job("t", a.job_id)->waits_for.empty());
    CHECK(s.find_job("t", c.job_id)->waits_for == "msgbatch_two");
    CHECK(s.parked_on(10) == std::vector<std::string>{"msgbatch_two"});
    auto woken = s.claim("w", 5, lease, t0 + 40);
    REQUIRE(woken.size() == 2);
    CHECK(woken[0].job_id == a.job_id);
    CHECK(woken[1].job_id == b.job_id);
    CHECK(woken[0].attempts == 1);

    // Waking every parked job (at start) leaves the others alone.
    auto d = add_item(s, "t", priority::bulk, t0 + 3);
    auto jd = claim_one(s, "w", lease, t0 + 50);
    CHECK(jd.job_id == d.job_id);
    CHECK(s.retry_later(jd.job_id, jd.fence, "x", "backing off", t0 + 900'000, t0 + 50));
    CHECK(s.wake_parked("", t0 + 60) == 1);
    CHECK(s.parked_on(10).empty());  // the job backing off waits for no upstream work
    auto last = s.claim("w", 5, lease, t0 + 70);
    REQUIRE(last.size() == 1);
    CHECK(last[0].job_id == c.job_id);
    CHECK(s.find_job("t", d.job_id)->run_after_ms == t0 + 900'000);

    // A claim forgets the batch: a later wake-up of it does not touch the job.
    CHECK(s.park(last[0].job_id, last[0].fence, "msgbatch_three", recheck));
    auto again = s.claim("w", 5, lease, recheck);
    REQUIRE(again.size() == 1);
    CHECK(s.find_job("t", c.job_id)->waits_for.empty());
    CHECK(s.retry_later(again[0].job_id, again[0].fence, "x", "y", recheck + 5'000, recheck));
    CHECK(s.wake_parked("msgbatch_three", recheck + 1) == 0);
    CHECK(s.find_job("t", c.job_id)->run_after_ms == recheck + 5'000);
}

STORE_TEST("checkpoints keep finish order and a stage saved again replaces the old one",
           "[store]") {
    add_item(s, "t", priority::normal, t0);
    auto job = claim_one(s, "w", lease, t0);
    CHECK(s.checkpoints(job.job_id).empty());
    REQUIRE(s.save_checkpoint(job.job_id, job.fence, stage("normalize", "{\"n\":1}", t0 + 1)));
    REQUIRE(s.save_checkpoint(job.job_id, job.fence, stage("identify", "{\"i\":1}", t0 + 2)));
    REQUIRE(s.save_checkpoint(job.job_id, job.fence, stage("price", "{\"p\":1}", t0 + 3)));
    REQUIRE(s.save_checkpoint(job.job_id, job.fence, stage("identify", "{\"i\":2}", t0 + 4)));

    auto saved = s.checkpoints(job.job_id);
    REQUIRE(saved.size() == 3);
    CHECK(saved[0].stage == "normalize");
    CHECK(saved[1].stage == "price");
    CHECK(saved[2].stage == "identify");
    CHECK(saved[2].output_json == "{\"i\":2}");
    CHECK(saved[2].finished_ms == t0 + 4);
    CHECK(saved[2].duration_ms == 25);
    CHECK(s.checkpoints("job_unknown").empty());
}

STORE_TEST("heartbeat_many extends the held leases and names the lost ones", "[store]") {
    auto a = add_item(s, "t", priority::normal, t0);
    auto b = add_item(s, "t", priority::normal, t0 + 1);
    auto c = add_item(s, "t", priority::normal, t0 + 2);
    auto claimed = s.claim("w", 3, 1'000, t0 + 10);
    REQUIRE(claimed.size() == 3);
    std::map<std::string, claimed_job> by_id;
    for (const auto& j : claimed) {
        by_id[j.job_id] = j;
    }
    // b is finished, c is canceled (its fence moves); a is still held.
    const auto& jb = by_id.at(b.job_id);
    REQUIRE(s.complete(jb.job_id, jb.fence, job_state::succeeded, "{}", "", "", t0 + 20));
    REQUIRE(s.cancel("t", c.item_id, t0 + 20) == cancel_outcome::canceled);

    const auto& ja = by_id.at(a.job_id);
    const auto& jc = by_id.at(c.job_id);
    std::vector<lease_ref> leases = {
        {jc.job_id, jc.fence}, {ja.job_id, ja.fence}, {jb.job_id, jb.fence}, {"job_none", 1}};
    auto held = s.heartbeat_many(leases, t0 + 50'000);
    CHECK(held == std::vector<bool>{false, true, false, false});
    CHECK(s.find_job("t", a.job_id)->locked_until_ms == t0 + 50'000);
    CHECK(s.find_job("t", b.job_id)->locked_until_ms == 0);
    // The extended lease survives a rescue that its first lease would not have.
    CHECK(s.rescue_expired(t0 + 2'000).touched() == 0);
    CHECK(s.find_job("t", a.job_id)->state == job_state::running);
    CHECK(s.heartbeat_many({}, t0 + 60'000).empty());
}
