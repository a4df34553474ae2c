// Intake: what it refuses, what it writes, and that a refusal writes nothing.
#include "pipeline/intake.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "pipeline/watch_folder.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
namespace fs = std::filesystem;

namespace {

struct fixture {
    test::temp_dir dir;
    std::unique_ptr<store::store> db = store::open_sqlite_store((dir.path() / "db").string());
    store::blob_store blobs{dir.path() / "blobs"};
    manual_clock time;
    pipeline::intake_limits limits;
    std::string png = test::read_file(test::data_dir() / "images/ean8-render-01.png");

    pipeline::intake_request request(int photos) {
        pipeline::intake_request r;
        r.tenant_id = "t1";
        r.source = "api";
        for (int i = 0; i < photos; ++i) {
            r.files.push_back({"p" + std::to_string(i) + ".png", png});
        }
        return r;
    }

    std::size_t blob_count() {
        std::size_t n = 0;
        if (!fs::exists(dir.path() / "blobs")) {
            return n;
        }
        for (auto& e : fs::recursive_directory_iterator(dir.path() / "blobs")) {
            n += e.is_regular_file() ? 1 : 0;
        }
        return n;
    }
};

}  // namespace

TEST_CASE("intake: an accepted item is stored with its photos and a queued job", "[pipeline]") {
    fixture f;
    auto req = f.request(2);
    req.title_hint = "EAN-8 sample";
    req.prio = store::priority::bulk;
    auto receipt = pipeline::submit(req, f.limits, *f.db, f.blobs, f.time);
    REQUIRE(receipt);
    CHECK(receipt->created);

    auto item = f.db->find_item("t1", receipt->item_id);
    REQUIRE(item);
    CHECK(item->state == store::job_state::queued);
    CHECK(item->prio == store::priority::bulk);
    REQUIRE(item->images.size() == 2);
    CHECK(item->images[0].media_type == "image/png");
    CHECK(item->images[0].width == 156);
    CHECK(item->images[0].height == 119);
    CHECK(f.blobs.get(item->images[1].sha256) == f.png);
    CHECK(f.db->queue_depth()[store::priority::bulk] == 1);
}

TEST_CASE("intake: refusals are specific and write nothing", "[pipeline]") {
    fixture f;
    auto req = f.request(1);
    std::string expected;

    SECTION("no photos") {
        req.files.clear();
        expected = "no_files";
    }
    SECTION("more photos than allowed") {
        req = f.request(13);
        expected = "too_many_files";
    }
    SECTION("an empty file") {
        req.files.push_back({"empty.jpg", ""});
        expected = "empty_file";
    }
    SECTION("a file that is not an image, after a good one") {
        req.files.push_back({"notes.txt", "hello, this is text"});
        expected = "unsupported_media_type";
    }
    SECTION("a photo over the pixel limit") {
        f.limits.max_pixels = 10'000;  // the 156x119 render is 18,564 pixels
        expected = "too_many_pixels";
    }
    SECTION("a photo over the byte limit") {
        f.limits.max_file_bytes = 100;
        expected = "file_too_large";
    }
    SECTION("an overlong field") {
        req.sku = std::string(2000, 'x');
        expected = "field_too_long";
    }
    auto receipt = pipeline::submit(req, f.limits, *f.db, f.blobs, f.time);
    REQUIRE_FALSE(receipt);
    CHECK(receipt.error().code == expected);
    CHECK_FALSE(receipt.error().retryable);
    CHECK_FALSE(receipt.error().message.empty());
    CHECK(f.db->list_items({"t1", std::nullopt, "", 50}).empty());
    CHECK(f.blob_count() == 0);
}

TEST_CASE("intake: the same idempotency key returns the first item", "[pipeline]") {
    fixture f;
    auto req = f.request(1);
    req.idempotency_key = "k1";
    auto first = pipeline::submit(req, f.limits, *f.db, f.blobs, f.time);
    auto second = pipeline::submit(req, f.limits, *f.db, f.blobs, f.time);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->created);
    CHECK_FALSE(second->created);
    CHECK(second->item_id == first->item_id);
    CHECK(second->job_id == first->job_id);

    // Another tenant's identical key is its own item.
    req.tenant_id = "t2";
    auto other = pipeline::submit(req, f.limits, *f.db, f.blobs, f.time);
    REQUIRE(other);
    CHECK(other->created);
    CHECK(other->item_id != first->item_id);
}

namespace {

// The process's peak resident memory so far, in KiB.
long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

}  // namespace

TEST_CASE("watch folder: a file over the size limit is refused without being read", "[pipeline]") {
    fixture f;
    auto inbox = f.dir.path() / "inbox";
    fs::create_directories(inbox);
    // A 1 GiB file that takes no disk (sparse), as a video dropped by mistake would be.
    { std::ofstream(inbox / "holiday-video.jpg") << "\xff\xd8\xff"; }
    fs::resize_file(inbox / "holiday-video.jpg", std::uintmax_t{1} << 30);

    pipeline::watch_folder watch(inbox, "t1", 0);
    const auto before = peak_rss_kib();
    auto first = watch.scan_once(f.limits, *f.db, f.blobs, f.time);
    CHECK(first.empty());  // seen once: not settled yet
    auto events = watch.scan_once(f.limits, *f.db, f.blobs, f.time);
    REQUIRE(events.size() == 1);
    CHECK_FALSE(events[0].accepted);
    CHECK(events[0].error ==
          "photo 1 (holiday-video.jpg) is 1073741824 bytes; the limit is 26214400 bytes");
    CHECK(fs::exists(inbox / ".rejected/holiday-video.jpg"));
    // Reading it would have taken at least its size in memory.
    CHECK(peak_rss_kib() - before < 256 * 1024);
}

TEST_CASE("watch folder: a named pipe is refused with the reason, not left or read", "[pipeline]") {
    fixture f;
    auto inbox = f.dir.path() / "inbox";
    fs::create_directories(inbox);
    REQUIRE(mkfifo((inbox / "camera-pipe").c_str(), 0600) == 0);

    pipeline::watch_folder watch(inbox, "t1", 0);
    auto events = watch.scan_once(f.limits, *f.db, f.blobs, f.time);
    REQUIRE(events.size() == 1);  // at once: a pipe never settles
    CHECK(events[0].entry == "camera-pipe");
    CHECK_FALSE(events[0].accepted);
    CHECK(events[0].error.find("not a file or a folder") != std::string::npos);
    CHECK(fs::is_fifo(inbox / ".rejected/camera-pipe"));
    CHECK_FALSE(fs::exists(inbox / "camera-pipe"));
    CHECK(watch.scan_once(f.limits, *f.db, f.blobs, f.time).empty());
}
