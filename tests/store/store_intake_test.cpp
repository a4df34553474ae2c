// Intake and reads, run against every store engine: creating items, idempotency keys, tenant
// isolation, listing with cursors and state filters, the counters.
#include <catch2/catch.hpp>
#include <string>

#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

namespace {

image_ref image(int index, const std::string& name) {
    return image_ref{index,        std::string(64, static_cast<char>('a' + index)),
                     name,         "image/jpeg",
                     1000 + index, 640 + index,
                     480 + index};
}

}  // namespace

STORE_TEST("create_item then find_item returns the item, its job and images by index", "[store]") {
    auto item = make_item("tenant-a", priority::urgent, t0);
    item.images = {image(2, "c.jpg"), image(0, "a.jpg"), image(1, "b.jpg")};
    auto created = s.create_item(item);
    CHECK(created.created);
    CHECK(created.item_id == item.item_id);
    CHECK(created.job_id == item.job_id);

    auto found = s.find_item("tenant-a", item.item_id);
    REQUIRE(found);
    CHECK(found->tenant_id == "tenant-a");
    CHECK(found->job_id == item.job_id);
    CHECK(found->title_hint == item.title_hint);
    CHECK(found->sku == item.sku);
    CHECK(found->condition == "used");
    CHECK(found->prio == priority::urgent);
    CHECK(found->source == "api");
    CHECK(found->state == job_state::queued);
    CHECK(found->created_ms == t0);
    CHECK(found->updated_ms == t0);
    CHECK(found->result_json.empty());
    REQUIRE(found->images.size() == 3);
    CHECK(found->images[0].filename == "a.jpg");
    CHECK(found->images[1].filename == "b.jpg");
    CHECK(found->images[2].filename == "c.jpg");
    CHECK(found->images[2].sha256 == std::string(64, 'c'));
    CHECK(found->images[2].bytes == 1002);
    CHECK(found->images[2].width == 642);
    CHECK(found->images[2].height == 482);
    CHECK(found->images[2].media_type == "image/jpeg");

    auto job = s.find_job("tenant-a", item.job_id);
    REQUIRE(job);
    CHECK(job->item_id == item.item_id);
    CHECK(job->state == job_state::queued);
    CHECK(job->prio == priority::urgent);
    CHECK(job->attempts == 0);
    CHECK(job->max_attempts == 5);
    CHECK(job->created_ms == t0);
    CHECK(job->run_after_ms == t0);
    CHECK(job->started_ms == 0);
    CHECK(job->finished_ms == 0);
}

STORE_TEST("a replayed idempotency key returns the original ids and writes nothing", "[store]") {
    auto first = make_item("tenant-a", priority::normal, t0, "key-1");
    auto replay = make_item("tenant-a", priority::normal, t0 + 5, "key-1");
    REQUIRE(s.create_item(first).created);

    auto again = s.create_item(replay);
    CHECK_FALSE(again.created);
    CHECK(again.item_id == first.item_id);
    CHECK(again.job_id == first.job_id);
    CHECK_FALSE(s.find_item("tenant-a", replay.item_id));
    CHECK(s.count_by_state()[job_state::queued] == 1);

    // The same key from another tenant is a different request.
    auto other = make_item("tenant-b", priority::normal, t0 + 6, "key-1");
    CHECK(s.create_item(other).created);

    // No key: never deduplicated.
    CHECK(s.create_item(make_item("tenant-a", priority::normal, t0 + 7)).created);
    CHECK(s.create_item(make_item("tenant-a", priority::normal, t0 + 8)).created);
    CHECK(s.count_by_state()[job_state::queued] == 4);
}

STORE_TEST("item_with_key finds the tenant's item by its idempotency key", "[store]") {
    auto keyed = make_item("tenant-a", priority::normal, t0, "key-9");
    REQUIRE(s.create_item(keyed).created);
    REQUIRE(s.create_item(make_item("tenant-a", priority::normal, t0 + 1)).created);
    CHECK(s.item_with_key("tenant-a", "key-9") == keyed.item_id);
    CHECK_FALSE(s.item_with_key("tenant-b", "key-9"));
    CHECK_FALSE(s.item_with_key("tenant-a", "key-8"));
    CHECK_FALSE(s.item_with_key("tenant-a", ""));  // items without a key are never found
}

STORE_TEST("a duplicate item id is refused as a conflict", "[store]") {
    auto item = make_item("tenant-a", priority::normal, t0);
    s.create_item(item);
    auto clash = make_item("tenant-a", priority::normal, t0 + 1);
    clash.item_id = item.item_id;
    try {
        s.create_item(clash);
        FAIL("a second item with the same id was accepted");
    } catch (const store_error& error) {
        CHECK(error.kind() == error_kind::conflict);
    }
    CHECK_FALSE(s.find_job("tenant-a", clash.job_id));
}

STORE_TEST("another tenant sees nothing and can change nothing", "[store]") {
    auto ids = add_item(s, "tenant-a", priority::normal, t0);

    CHECK_FALSE(s.find_item("tenant-b", ids.item_id));
    CHECK_FALSE(s.find_job("tenant-b", ids.job_id));
    CHECK(s.list_items(list_query{"tenant-b", std::nullopt, "", 50}).empty());
    CHECK(s.cancel("tenant-b", ids.item_id, t0 + 1) == cancel_outcome::not_found);
    CHECK(s.find_item("tenant-a", ids.item_id)->state == job_state::queued);

    CHECK(s.cancel("tenant-a", ids.item_id, t0 + 2) == cancel_outcome::canceled);
    CHECK_FALSE(s.retry("tenant-b", ids.item_id, t0 + 3));
    CHECK(s.find_item("tenant-a", ids.item_id)->state == job_state::canceled);
}

STORE_TEST("list_items pages newest first with a cursor and filters by state", "[store]") {
    std::vector<std::string> ids;  // oldest first
    for (int i = 0; i < 7; ++i) {
        ids.push_back(add_item(s, "tenant-a", priority::normal, t0 + i * 1000).item_id);
    }
    add_item(s, "tenant-b", priority::normal, t0 + 500);

    auto page1 = s.list_items(list_query{"tenant-a", std::nullopt, "", 3});
    REQUIRE(page1.size() == 3);
    CHECK(page1[0].item_id == ids[6]);
    CHECK(page1[1].item_id == ids[5]);
    CHECK(page1[2].item_id == ids[4]);

    auto page2 = s.list_items(list_query{"tenant-a", std::nullopt, page1.back().item_id, 3});
    REQUIRE(page2.size() == 3);
    CHECK(page2[0].item_id == ids[3]);
    CHECK(page2[2].item_id == ids[1]);

    auto page3 = s.list_items(list_query{"tenant-a", std::nullopt, page2.back().item_id, 3});
    REQUIRE(page3.size() == 1);
    CHECK(page3[0].item_id == ids[0]);
    CHECK(s.list_items(list_query{"tenant-a", std::nullopt, ids[0], 3}).empty());
    CHECK(s.list_items(list_query{"tenant-a", std::nullopt, "", 0}).empty());

    // Cancel items 1, 3 and 5; list canceled ones, then page through them.
    for (int i : {1, 3, 5}) {
        REQUIRE(s.cancel("tenant-a", ids[i], t0 + 10'000) == cancel_outcome::canceled);
    }
    auto canceled = s.list_items(list_query{"tenant-a", job_state::canceled, "", 2});
    REQUIRE(canceled.size() == 2);
    CHECK(canceled[0].item_id == ids[5]);
    CHECK(canceled[1].item_id == ids[3]);
    CHECK(canceled[0].state == job_state::canceled);
    auto rest = s.list_items(list_query{"tenant-a", job_state::canceled, ids[3], 2});
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].item_id == ids[1]);
    CHECK(s.list_items(list_query{"tenant-a", job_state::queued, "", 50}).size() == 4);
    CHECK(s.list_items(list_query{"tenant-a", job_state::succeeded, "", 50}).empty());
}

STORE_TEST("list_items returns each item's images", "[store]") {
    auto item = make_item("tenant-a", priority::normal, t0);
    item.images = {image(1, "back.jpg"), image(0, "front.jpg")};
    s.create_item(item);
    add_item(s, "tenant-a", priority::normal, t0 + 1000);

    auto listed = s.list_items(list_query{"tenant-a", std::nullopt, "", 10});
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].images.empty());
    REQUIRE(listed[1].images.size() == 2);
    CHECK(listed[1].images[0].filename == "front.jpg");
    CHECK(listed[1].images[1].filename == "back.jpg");
}

STORE_TEST("queue_depth and count_by_state name every value", "[store]") {
    auto empty_depth = s.queue_depth();
    CHECK(empty_depth.size() == 3);
    CHECK(empty_depth[priority::bulk] == 0);
    auto empty_counts = s.count_by_state();
    CHECK(empty_counts.size() == 6);

    add_item(s, "tenant-a", priority::urgent, t0);
    add_item(s, "tenant-a", priority::bulk, t0 + 1);
    add_item(s, "tenant-a", priority::bulk, t0 + 2);
    auto canceled = add_item(s, "tenant-a", priority::normal, t0 + 3);
    s.cancel("tenant-a", canceled.item_id, t0 + 4);

    auto depth = s.queue_depth();
    CHECK(depth.size() == 3);
    CHECK(depth[priority::urgent] == 1);
    CHECK(depth[priority::normal] == 0);
    CHECK(depth[priority::bulk] == 2);
    auto counts = s.count_by_state();
    CHECK(counts.size() == 6);
    CHECK(counts[job_state::queued] == 3);
    CHECK(counts[job_state::canceled] == 1);
    CHECK(counts[job_state::running] == 0);
    CHECK(s.ping());
}

TEST_CASE("store: enum names round trip and unknown words are refused", "[store]") {
    for (auto p : {priority::urgent, priority::normal, priority::bulk}) {
        CHECK(parse_priority(to_string(p)) == p);
    }
    for (auto st : {job_state::queued, job_state::running, job_state::succeeded,
                    job_state::needs_review, job_state::failed, job_state::canceled}) {
        CHECK(parse_job_state(to_string(st)) == st);
    }
    CHECK(to_string(job_state::needs_review) == "needs_review");
    CHECK(to_string(priority::bulk) == "bulk");
    CHECK_FALSE(parse_priority("Urgent"));
    CHECK_FALSE(parse_job_state(""));
    CHECK_FALSE(is_final(job_state::queued));
    CHECK_FALSE(is_final(job_state::running));
    CHECK(is_final(job_state::succeeded));
    CHECK(is_final(job_state::needs_review));
    CHECK(is_final(job_state::failed));
    CHECK(is_final(job_state::canceled));
}

STORE_TEST("the category hint is kept, alone and in a batch, and listed", "[store]") {
    auto one = make_item("tenant-a", priority::normal, t0);
    one.category_hint = "15230";
    s.create_item(one);
    auto plain = make_item("tenant-a", priority::normal, t0 + 1);
    auto batched = make_item("tenant-a", priority::bulk, t0 + 2);
    batched.category_hint = "3323";
    s.create_items({plain, batched});

    CHECK(s.find_item("tenant-a", one.item_id)->category_hint == "15230");
    CHECK(s.find_item("tenant-a", plain.item_id)->category_hint.empty());
    CHECK(s.find_item("tenant-a", batched.item_id)->category_hint == "3323");
    list_query q;
    q.tenant_id = "tenant-a";
    auto listed = s.list_items(q);
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].category_hint == "3323");  // newest first
    CHECK(listed[2].category_hint == "15230");
}
