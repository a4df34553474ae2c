// The scheduler on a real SQLite store and real photos, in one process: items reach final
// states, checkpoints make a retry resume where it stopped, permanent failures are not retried,
// and a bulk item waiting on a batch gives its worker slot back.
#include "pipeline/scheduler.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "pipeline/intake.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;

namespace {

// Records what the scheduler reports.
struct recorder final : pipeline::pipeline_observer {
    std::map<std::string, int> stages_run;
    std::map<std::string, store::job_state> finished;
    std::vector<std::string> errors;

    void stage_finished(std::string_view stage, double, bool) override {
        ++stages_run[std::string(stage)];
    }
    void job_finished(const store::claimed_job& job, store::job_state state, std::string_view,
                      std::string_view) override {
        finished[job.item_id] = state;
    }
    void job_retry(const store::claimed_job&, std::string_view code, std::string_view,
                   std::int64_t) override {
        errors.push_back("retry:" + std::string(code));
    }
    void lease_lost(const store::claimed_job&) override { errors.emplace_back("lease_lost"); }
    void rescued(int) override {}
    void internal_error(std::string_view where, std::string_view what) override {
        errors.push_back(std::string(where) + ": " + std::string(what));
    }
};

struct fixture {
    test::temp_dir dir;
    std::unique_ptr<store::store> db = store::open_sqlite_store((dir.path() / "db").string());
    store::blob_store blobs{dir.path() / "blobs"};
    boost::asio::io_context io;
    boost::asio::thread_pool cpu{2};
    boost::asio::thread_pool store_pool{2};
    recorder events;

    std::string submit(const std::string& photo, const std::string& hint,
                       store::priority prio = store::priority::normal) {
        pipeline::intake_request r;
        r.tenant_id = "default";
        r.prio = prio;
        r.source = "api";
        r.title_hint = hint;
        auto bytes = test::read_file(test::data_dir() / "images" / photo);
        r.files.push_back({photo, bytes});
        auto receipt = pipeline::submit(r, {}, *db, blobs, system_clock::instance());
        REQUIRE(receipt);
        return receipt->item_id;
    }

    // Runs a scheduler until `count` items have finished (or 60 s pass), then shuts it down.
    void run_until_finished(std::size_t count, pipeline::vision_model* vision = nullptr,
                            int concurrency = 2) {
        pipeline::scheduler_deps deps;
        deps.db = db.get();
        deps.cpu_pool = &cpu;
        deps.store_pool = &store_pool;
        deps.time = &system_clock::instance();
        deps.env.blobs = &blobs;
        deps.env.today = "2026-12-04";
        deps.observer = &events;
        deps.vision = vision;
        pipeline::scheduler_options options;
        options.worker_id = "test:1:boot";
        options.concurrency = concurrency;
        options.poll_ms = 20;
        auto s = std::make_shared<pipeline::scheduler>(io.get_executor(), deps, options);
        s->start();
        boost::asio::steady_timer check(io);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::function<void()> poll = [&] {
            if (events.finished.size() >= count || std::chrono::steady_clock::now() > deadline) {
                s->shutdown(std::chrono::seconds(5), [&] { io.stop(); });
                return;
            }
            check.expires_after(std::chrono::milliseconds(20));
            check.async_wait([&](auto) { poll(); });
        };
        poll();
        io.run();
        io.restart();
    }
};

// A vision model whose bulk answers come from batches: a bulk call answers only once `meet`
// bulk calls wait at the same time (or fails after 20 s); other calls answer at once.
class batching_vision final : public pipeline::vision_model {
public:
    explicit batching_vision(int meet) : meet_(meet) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request request) override {
        pipeline::identification id;
        id.title = request.bulk ? "Bulk print" : "Normal print";
        id.confidence = 0.9;
        id.source = "batching_vision";
        if (!request.bulk) {
            ++normal;
            co_return id;
        }
        most_waiting = std::max(most_waiting, ++waiting_);
        boost::asio::steady_timer tick(co_await boost::asio::this_coro::executor);
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (most_waiting < meet_ && std::chrono::steady_clock::now() < give_up) {
            tick.expires_after(std::chrono::milliseconds(10));
            co_await tick.async_wait(boost::asio::use_awaitable);
        }
        --waiting_;
        if (most_waiting < meet_) {
            co_return fail("batch_never_met", "the bulk calls never waited together");
        }
        co_return id;
    }
    bool defers_bulk() const override { return true; }

    int most_waiting = 0;
    int normal = 0;

private:
    int meet_;
    int waiting_ = 0;
};

}  // namespace

TEST_CASE("scheduler: items run through every stage to a final state", "[pipeline]") {
    fixture f;
    auto hinted = f.submit("orientation-1-landscape.jpg", "Waterfall print");
    auto bare = f.submit("orientation-6-landscape.jpg", "");
    f.run_until_finished(2);

    CHECK(f.events.errors.empty());
    CHECK(f.events.finished[hinted] == store::job_state::needs_review);  // no comps: no price
    CHECK(f.events.finished[bare] == store::job_state::needs_review);    // nothing identifies it
    auto item = f.db->find_item("default", hinted);
    REQUIRE(item);
    CHECK(item->state == store::job_state::needs_review);
    CHECK(item->result_json.find("\"listing\"") != std::string::npos);
    CHECK(f.db->checkpoints(item->job_id).size() == 6);
    // The unidentified item stopped after identify.
    CHECK(f.db->checkpoints(f.db->find_item("default", bare)->job_id).size() == 3);
}

TEST_CASE("scheduler: a retried item resumes after its last checkpoint", "[pipeline]") {
    fixture f;
    auto id = f.submit("orientation-3-landscape.jpg", "A print");
    auto job_id = f.db->find_item("default", id)->job_id;

    // A first worker finished normalize and analyze, then vanished with its lease.
    auto now = system_clock::instance().now_ms();
    auto claimed = f.db->claim("gone:1:boot", 1, 1, now);
    REQUIRE(claimed.size() == 1);
    REQUIRE(
        f.db->save_checkpoint(job_id, claimed[0].fence, {"normalize", R"({"images":[]})", 5, now}));
    REQUIRE(f.db->save_checkpoint(
        job_id, claimed[0].fence,
        {"analyze", R"({"barcodes":[],"warnings":[],"duplicate_photos":[]})", 5, now}));
    CHECK(f.db->rescue_expired(now + 10) == 1);

    f.run_until_finished(1);
    CHECK(f.events.stages_run.count("normalize") == 0);
    CHECK(f.events.stages_run.count("analyze") == 0);
    CHECK(f.events.stages_run["identify"] == 1);
    CHECK(f.events.stages_run["draft"] == 1);
    auto job = f.db->find_job("default", job_id);
    CHECK(job->attempts == 2);
    CHECK(job->state == store::job_state::needs_review);
}

TEST_CASE("scheduler: an undecodable photo fails its item once, without retries", "[pipeline]") {
    fixture f;
    auto whole = test::read_file(test::data_dir() / "images/orientation-1-landscape.jpg");
    pipeline::intake_request r;
    r.tenant_id = "default";
    r.files.push_back({"cut.jpg", std::string_view(whole).substr(0, whole.size() / 3)});
    auto receipt = pipeline::submit(r, {}, *f.db, f.blobs, system_clock::instance());
    REQUIRE(receipt);
    auto good = f.submit("orientation-8-landscape.jpg", "fine");

    f.run_until_finished(2);
    auto job = f.db->find_job("default", receipt->job_id);
    CHECK(job->state == store::job_state::failed);
    CHECK(job->error_code == "corrupt_image");
    CHECK(job->error_message.find("cut.jpg") != std::string::npos);
    CHECK(job->attempts == 1);
    CHECK(f.events.finished[good] == store::job_state::needs_review);
}

TEST_CASE("scheduler: bulk items waiting on a batch give their worker slot back", "[pipeline]") {
    fixture f;
    batching_vision vision(3);
    std::vector<std::string> bulk;
    for (const auto* photo : {"orientation-1-landscape.jpg", "orientation-3-landscape.jpg",
                              "orientation-6-landscape.jpg"}) {
        bulk.push_back(f.submit(photo, "print", store::priority::bulk));
    }
    auto normal = f.submit("orientation-8-landscape.jpg", "print");

    // One worker: three bulk calls can wait together only if each frees the slot meanwhile.
    f.run_until_finished(4, &vision, 1);
    CHECK(f.events.errors.empty());
    CHECK(vision.most_waiting == 3);
    CHECK(vision.normal == 1);
    for (const auto& id : bulk) {
        CHECK(f.events.finished[id] == store::job_state::needs_review);  // identified, no price
        auto item = f.db->find_item("default", id);
        CHECK(item->result_json.find("Bulk print") != std::string::npos);
    }
    CHECK(f.events.finished[normal] == store::job_state::needs_review);
}
