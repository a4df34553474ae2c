// The scheduler on a real SQLite store and real photos, in one process: items reach final
// states, checkpoints make a retry resume where it stopped, permanent failures are not retried,
// completions that arrive during a commit share the next one, a bulk item waiting on a batch
// gives its worker slot back, items waiting on an upstream free their slot within the
// in-flight bound, and near-duplicate copies processed together make one vision call (their
// waiters identify themselves when it fails or its lease is lost).
#include "pipeline/scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "pipeline/intake.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/plain_canvas.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;

namespace {

// Records what the scheduler reports.
struct recorder final : pipeline::pipeline_observer {
    std::map<std::string, int> stages_run;
    std::map<std::string, store::job_state> finished;
    std::map<std::string, std::string> finish_reasons;  // item id -> "code: message"
    std::map<std::string, int> finish_count;            // item id -> final states reported
    std::vector<std::string> errors;

    void stage_finished(std::string_view stage, double, bool) override {
        ++stages_run[std::string(stage)];
    }
    void job_finished(const store::claimed_job& job, store::job_state state, std::string_view code,
                      std::string_view message) override {
        finished[job.item_id] = state;
        ++finish_count[job.item_id];
        finish_reasons[job.item_id] = std::string(code) + ": " + std::string(message);
    }
    void job_retry(const store::claimed_job&, std::string_view code, std::string_view, std::int64_t,
                   bool) override {
        errors.push_back("retry:" + std::string(code));
    }
    void lease_lost(const store::claimed_job&) override { errors.emplace_back("lease_lost"); }
    void rescued(int) override {}
    void internal_error(std::string_view where, std::string_view what) override {
        errors.push_back(std::string(where) + ": " + std::string(what));
    }
};

// Forwards every call to a real store; complete_many also records each batch's size and first
// calls `on_batch`, which may stall the commit or change the store meanwhile.
namespace st = boomer::store;

class batch_recorder final : public st::store {
public:
    explicit batch_recorder(st::store& inner) : inner_(inner) {}

    std::function<void(const std::vector<st::completion>&)> on_batch;
    std::vector<std::size_t> sizes;  // guarded by mutex
    std::mutex mutex;

    std::vector<bool> complete_many(const std::vector<st::completion>& batch,
                                    std::int64_t now_ms) override {
        {
            std::lock_guard lock(mutex);
            sizes.push_back(batch.size());
        }
        if (on_batch) {
            on_batch(batch);
        }
        return inner_.complete_many(batch, now_ms);
    }

    // Everything else as the real store does it.
    st::create_result create_item(const st::new_item& i) override { return inner_.create_item(i); }
    std::vector<st::create_result> create_items(const std::vector<st::new_item>& i) override {
        return inner_.create_items(i);
    }
    std::optional<st::item_record> find_item(std::string_view t, std::string_view i) override {
        return inner_.find_item(t, i);
    }
    std::optional<st::job_record> find_job(std::string_view t, std::string_view j) override {
        return inner_.find_job(t, j);
    }
    std::vector<st::item_record> list_items(const st::list_query& q) override {
        return inner_.list_items(q);
    }
    std::vector<st::claimed_job> claim(std::string_view w, int max, std::int64_t lease,
                                       std::int64_t now) override {
        return inner_.claim(w, max, lease, now);
    }
    bool heartbeat(std::string_view j, std::int64_t f, std::int64_t until) override {
        ++single_heartbeats;
        return inner_.heartbeat(j, f, until);
    }
    std::atomic<int> single_heartbeats{0};
    // skip_heartbeat, when set and true for a lease, leaves that lease as it was (as when the
    // worker's heartbeats stall) while telling the worker it is held.
    std::function<bool(const st::lease_ref&)> skip_heartbeat;
    // before_heartbeat, when set, runs before each heartbeat_many (it may stall the lease thread,
    // as when the process is stopped).
    std::function<void()> before_heartbeat;
    std::vector<bool> heartbeat_many(const std::vector<st::lease_ref>& leases,
                                     std::int64_t until) override {
        {
            std::lock_guard lock(mutex);
            lease_batches.push_back(leases.size());
        }
        if (before_heartbeat) {
            before_heartbeat();
        }
        if (!skip_heartbeat) {
            return inner_.heartbeat_many(leases, until);
        }
        std::vector<st::lease_ref> sent;
        std::vector<std::size_t> where;
        for (std::size_t i = 0; i < leases.size(); ++i) {
            if (!skip_heartbeat(leases[i])) {
                sent.push_back(leases[i]);
                where.push_back(i);
            }
        }
        auto held = inner_.heartbeat_many(sent, until);
        std::vector<bool> out(leases.size(), true);
        for (std::size_t k = 0; k < where.size() && k < held.size(); ++k) {
            out[where[k]] = held[k];
        }
        return out;
    }
    std::vector<std::size_t> lease_batches;  // guarded by mutex
    bool set_stage(std::string_view j, std::int64_t f, std::string_view stage) override {
        return inner_.set_stage(j, f, stage);
    }
    // refuse_checkpoint, when set and true for a checkpoint, makes its save find the fence gone
    // (as when another worker has taken the job) without writing it.
    std::function<bool(const st::checkpoint&)> refuse_checkpoint;
    bool save_checkpoint(std::string_view j, std::int64_t f, const st::checkpoint& c) override {
        if (refuse_checkpoint && refuse_checkpoint(c)) {
            return false;
        }
        return inner_.save_checkpoint(j, f, c);
    }
    std::vector<st::checkpoint> checkpoints(std::string_view j) override {
        return inner_.checkpoints(j);
    }
    bool retry_later(std::string_view j, std::int64_t f, std::string_view code,
                     std::string_view message, std::int64_t after, std::int64_t now) override {
        return inner_.retry_later(j, f, code, message, after, now);
    }
    bool release(std::string_view j, std::int64_t f, std::int64_t now) override {
        return inner_.release(j, f, now);
    }
    // before_defer, when set, runs before each deferral is written (it may stall it).
    std::function<void()> before_defer;
    bool defer(std::string_view j, std::int64_t f, std::string_view code, std::string_view message,
               std::int64_t at) override {
        if (before_defer) {
            before_defer();
        }
        return inner_.defer(j, f, code, message, at);
    }
    bool park(std::string_view j, std::int64_t f, std::string_view w, std::int64_t at) override {
        return inner_.park(j, f, w, at);
    }
    std::optional<std::string> item_with_key(std::string_view t, std::string_view k) override {
        return inner_.item_with_key(t, k);
    }
    int wake_parked(std::string_view w, std::int64_t now) override {
        if (w.empty()) {
            ++wakes_of_all;
        }
        return inner_.wake_parked(w, now);
    }
    std::atomic<int> wakes_of_all{0};  // wake_parked of every parked job (at start)
    int wake_deferred(std::string_view code, std::int64_t now) override {
        return inner_.wake_deferred(code, now);
    }
    std::vector<std::string> parked_on(std::size_t limit) override {
        return inner_.parked_on(limit);
    }
    st::rescue_outcome rescue_expired(std::int64_t now) override {
        return inner_.rescue_expired(now);
    }
    st::cancel_outcome cancel(std::string_view t, std::string_view i, std::int64_t now) override {
        return inner_.cancel(t, i, now);
    }
    bool retry(std::string_view t, std::string_view i, std::int64_t now) override {
        return inner_.retry(t, i, now);
    }
    bool redo(std::string_view t, std::string_view i, std::int64_t now) override {
        return inner_.redo(t, i, now);
    }
    std::map<st::priority, std::int64_t> queue_depth() override { return inner_.queue_depth(); }
    std::map<st::job_state, std::int64_t> count_by_state() override {
        return inner_.count_by_state();
    }
    bool ping() override { return inner_.ping(); }
    std::optional<std::string> cache_get(std::string_view k, std::int64_t now) override {
        return inner_.cache_get(k, now);
    }
    void cache_put(std::string_view k, std::string_view v, std::int64_t until) override {
        inner_.cache_put(k, v, until);
    }
    bool cache_claim(std::string_view k, std::string_view v, std::int64_t until,
                     std::int64_t now) override {
        return inner_.cache_claim(k, v, until, now);
    }
    std::int64_t cache_purge_expired(std::int64_t now) override {
        return inner_.cache_purge_expired(now);
    }
    bool record_photo_hashes(std::string_view j, std::int64_t f,
                             const std::vector<st::photo_hash>& hashes, bool offer) override {
        return inner_.record_photo_hashes(j, f, hashes, offer);
    }
    std::vector<st::similar_photo> similar_photos(const st::similar_photo_query& q) override {
        return inner_.similar_photos(q);
    }

private:
    st::store& inner_;
};

struct fixture {
    test::temp_dir dir;
    std::unique_ptr<store::store> db = store::open_sqlite_store((dir.path() / "db").string());
    store::blob_store blobs{dir.path() / "blobs"};
    boost::asio::io_context io;
    boost::asio::thread_pool cpu{2};
    boost::asio::thread_pool store_pool{2};
    recorder events;
    store::store* scheduler_db = nullptr;  // what the scheduler uses; null: db
    int concurrency = 2;
    int max_in_flight = 1024;
    std::int64_t max_photo_bytes = 256LL << 20;
    std::int64_t lease_ms = 30'000;
    std::int64_t heartbeat_ms = 10'000;
    std::int64_t rescue_every_ms = 5'000;
    std::int64_t watch_parked_ms = 60'000;
    std::int64_t retry_base_ms = 1'000;
    int max_attempts = 5;                              // of the items submitted
    pipeline::near_duplicate_options near_duplicates;  // off unless a test sets it
    metrics::registry* registry = nullptr;             // null: nothing counted
    const boomer::clock* clock = nullptr;              // the scheduler's; null: the system's
    pipeline::scheduler* running = nullptr;            // the scheduler of run_until, while it runs

    std::string submit(const std::string& photo, const std::string& hint,
                       store::priority prio = store::priority::normal) {
        return submit_bytes(photo, test::read_file(test::data_dir() / "images" / photo), hint,
                            prio);
    }

    std::string submit_bytes(const std::string& name, const std::string& bytes,
                             const std::string& hint,
                             store::priority prio = store::priority::normal,
                             const std::string& condition = "") {
        return submit_files({{name, bytes}}, hint, prio, condition);
    }

    // submit_files submits one item with these photos.
    std::string submit_files(std::vector<pipeline::intake_file> files, const std::string& hint,
                             store::priority prio = store::priority::normal,
                             const std::string& condition = "") {
        pipeline::intake_request r;
        r.tenant_id = "default";
        r.prio = prio;
        r.source = "api";
        r.title_hint = hint;
        r.condition = condition;
        r.files = std::move(files);
        pipeline::intake_limits limits;
        limits.max_attempts = max_attempts;
        auto receipt = pipeline::submit(r, limits, *db, blobs, system_clock::instance());
        REQUIRE(receipt);
        return receipt->item_id;
    }

    // Runs a scheduler until `count` items have finished (or 60 s pass), then shuts it down.
    void run_until_finished(std::size_t count, pipeline::vision_model* vision = nullptr) {
        run_until([this, count] { return events.finished.size() >= count; }, vision);
    }

    // Runs a scheduler until `done()` holds (or 60 s pass), then shuts it down.
    void run_until(const std::function<bool()>& done, pipeline::vision_model* vision) {
        pipeline::scheduler_deps deps;
        deps.db = scheduler_db != nullptr ? scheduler_db : db.get();
        deps.cpu_pool = &cpu;
        deps.store_pool = &store_pool;
        deps.time = clock != nullptr ? clock : &system_clock::instance();
        deps.env.blobs = &blobs;
        deps.env.today = "2026-12-04";
        deps.observer = &events;
        deps.vision = vision;
        deps.near_duplicates = near_duplicates;
        deps.metrics = registry;
        pipeline::scheduler_options options;
        options.worker_id = "test:1:boot";
        options.concurrency = concurrency;
        options.max_in_flight = max_in_flight;
        options.max_photo_bytes = max_photo_bytes;
        options.lease_ms = lease_ms;
        options.heartbeat_ms = heartbeat_ms;
        options.rescue_every_ms = rescue_every_ms;
        options.watch_parked_ms = watch_parked_ms;
        options.retry_base_ms = retry_base_ms;
        options.poll_ms = 20;
        auto s = std::make_shared<pipeline::scheduler>(io.get_executor(), deps, options);
        s->start();
        running = s.get();
        boost::asio::steady_timer check(io);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::function<void()> poll = [&] {
            if (done() || std::chrono::steady_clock::now() > deadline) {
                s->shutdown(std::chrono::seconds(5), [&] { io.stop(); });
                return;
            }
            check.expires_after(std::chrono::milliseconds(20));
            check.async_wait([&](auto) { poll(); });
        };
        poll();
        io.run();
        io.restart();
        running = nullptr;
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

// A slow upstream: every call waits until `meet` calls wait at the same time (or 20 s pass,
// and then fails), then stays a little longer so that anything else the scheduler claims
// meanwhile would be seen waiting too.
class gathering_vision final : public pipeline::vision_model {
public:
    explicit gathering_vision(int meet) : meet_(meet) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        most_waiting = std::max(most_waiting, ++waiting_);
        boost::asio::steady_timer tick(co_await boost::asio::this_coro::executor);
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (most_waiting < meet_ && std::chrono::steady_clock::now() < give_up) {
            tick.expires_after(std::chrono::milliseconds(10));
            co_await tick.async_wait(boost::asio::use_awaitable);
        }
        tick.expires_after(std::chrono::milliseconds(200));
        co_await tick.async_wait(boost::asio::use_awaitable);
        --waiting_;
        if (most_waiting < meet_) {
            co_return fail("never_met", "the calls never waited together");
        }
        pipeline::identification id;
        id.title = "Slow print";
        id.confidence = 0.9;
        id.source = "gathering_vision";
        co_return id;
    }
    bool defers_bulk() const override { return false; }

    int most_waiting = 0;

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
    CHECK(f.db->rescue_expired(now + 10).touched() == 1);

    f.run_until_finished(1);
    CHECK(f.events.stages_run.count("normalize") == 0);
    CHECK(f.events.stages_run.count("analyze") == 0);
    CHECK(f.events.stages_run["identify"] == 1);
    CHECK(f.events.stages_run["draft"] == 1);
    auto job = f.db->find_job("default", job_id);
    CHECK(job->attempts == 2);
    CHECK(job->state == store::job_state::needs_review);
}

TEST_CASE("scheduler: an item whose worker vanished on its last attempt is reported failed",
          "[pipeline]") {
    fixture f;
    f.max_attempts = 1;
    f.rescue_every_ms = 20;
    auto id = f.submit("orientation-3-landscape.jpg", "A print");
    auto now = system_clock::instance().now_ms();
    REQUIRE(f.db->claim("gone:1:boot", 1, 1, now).size() == 1);

    f.run_until_finished(1);
    REQUIRE(f.events.finished.count(id) == 1);
    CHECK(f.events.finished[id] == store::job_state::failed);
    CHECK_THAT(f.events.finish_reasons[id],
               Catch::StartsWith("lease_expired: ") && Catch::Contains("last attempt (1 of 1)"));
    CHECK(f.events.stages_run.empty());
    CHECK(f.db->find_job("default", f.db->find_item("default", id)->job_id)->state ==
          store::job_state::failed);
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

TEST_CASE("scheduler: completions that arrive during a commit share the next one, each fenced",
          "[pipeline]") {
    fixture f;
    batch_recorder batches(*f.db);
    f.scheduler_db = &batches;
    f.concurrency = 8;
    std::vector<std::string> items;
    for (int i = 0; i < 8; ++i) {
        items.push_back(f.submit("orientation-1-landscape.jpg", "print " + std::to_string(i)));
    }

    // The first commit stalls until every other item has finished its stages and waits for the
    // next commit; then one of those is canceled.
    std::string canceled;
    bool first = true;
    batches.on_batch = [&](const std::vector<store::completion>& batch) {
        if (!std::exchange(first, false)) {
            return;
        }
        std::vector<std::string> waiting;  // item ids
        for (const auto& id : items) {
            auto job_id = f.db->find_item("default", id)->job_id;
            if (std::none_of(batch.begin(), batch.end(),
                             [&](const auto& c) { return c.job_id == job_id; })) {
                waiting.push_back(id);
            }
        }
        auto all_done = [&] {
            return std::all_of(waiting.begin(), waiting.end(), [&](const auto& id) {
                return f.db->checkpoints(f.db->find_item("default", id)->job_id).size() == 6;
            });
        };
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!all_done() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // their result documents
        if (!waiting.empty() &&
            f.db->cancel("default", waiting.front(), system_clock::instance().now_ms()) ==
                store::cancel_outcome::canceled) {
            canceled = waiting.front();
        }
    };
    f.run_until_finished(7);

    REQUIRE_FALSE(canceled.empty());
    CHECK(f.events.finished.size() == 7);
    CHECK_FALSE(f.events.finished.contains(canceled));
    CHECK(f.events.errors == std::vector<std::string>{"lease_lost"});  // the canceled one only
    CHECK(f.db->find_item("default", canceled)->state == store::job_state::canceled);
    for (const auto& id : items) {
        if (id != canceled) {
            CHECK(f.db->find_item("default", id)->state == store::job_state::needs_review);
        }
    }
    std::lock_guard lock(batches.mutex);
    std::size_t total = 0;
    for (auto n : batches.sizes) {
        total += n;
    }
    CHECK(total == 8);
    CHECK(batches.sizes.size() < 8);  // grouped
    CHECK(*std::max_element(batches.sizes.begin(), batches.sizes.end()) > 1);
}

// A vision model whose bulk calls park on batches of one id. The first item's batch ends once it
// has parked and another item's call has begun (so that the end comes while that call is under
// way, however slowly the items reached their calls), and the first item's next call answers.
// Every call of the other items parks on the same id again, as a newer batch that reuses an ended
// batch's id would; the first of them waits, inside the call, until the first item has its
// answer.
class reused_batch_vision final : public pipeline::vision_model {
public:
    explicit reused_batch_vision(std::string first) : first_(std::move(first)) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request request) override {
        // Every call runs on the scheduler's strand: no lock needed.
        const int n = ++calls[request.item_id];
        pipeline::identification parked;
        parked.parked_in = "msgbatch_reused";
        auto executor = co_await boost::asio::this_coro::executor;
        if (request.item_id == first_ && n == 1) {
            end_when_another_calls(std::make_shared<boost::asio::steady_timer>(executor),
                                   std::chrono::steady_clock::now() + std::chrono::seconds(20));
            co_return parked;
        }
        if (request.item_id == first_) {
            answered = true;
            pipeline::identification id;
            id.title = "Parked print";
            id.confidence = 0.9;
            id.source = "reused_batch_vision";
            co_return id;
        }
        boost::asio::steady_timer tick(executor);
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!answered && std::chrono::steady_clock::now() < give_up) {
            tick.expires_after(std::chrono::milliseconds(10));
            co_await tick.async_wait(boost::asio::use_awaitable);
        }
        co_return parked;
    }
    bool defers_bulk() const override { return true; }
    void on_batch_ended(std::function<void(const std::string&)> listener) override {
        listener_ = std::move(listener);
    }

    std::map<std::string, int> calls;
    bool answered = false;

private:
    // Ends the batch 100 ms after another item's call has begun (or at `give_up`); the timer
    // runs on the scheduler's strand, as the calls do.
    void end_when_another_calls(std::shared_ptr<boost::asio::steady_timer> timer,
                                std::chrono::steady_clock::time_point give_up) {
        timer->expires_after(std::chrono::milliseconds(calls.size() > 1 ? 100 : 10));
        timer->async_wait([this, timer, give_up, seen = calls.size() > 1](auto) {
            if (seen || std::chrono::steady_clock::now() > give_up) {
                listener_("msgbatch_reused");
            } else {
                end_when_another_calls(timer, give_up);
            }
        });
    }

    std::string first_;
    std::function<void(const std::string&)> listener_;
};

TEST_CASE("scheduler: a parked bulk item runs again when its batch ends, and only then",
          "[pipeline]") {
    fixture f;
    auto first = f.submit("orientation-1-landscape.jpg", "print", store::priority::bulk);
    auto second = f.submit("orientation-3-landscape.jpg", "print", store::priority::bulk);
    reused_batch_vision vision(first);
    std::optional<std::chrono::steady_clock::time_point> settled;
    f.run_until(
        [&] {
            if (!f.events.finished.contains(first) || vision.calls[second] < 2) {
                return false;
            }
            if (!settled) {
                settled = std::chrono::steady_clock::now();
            }
            return std::chrono::steady_clock::now() - *settled > std::chrono::milliseconds(300);
        },
        &vision);
    CHECK(f.events.errors.empty());
    // The first item parked once, was woken by its batch's end, and collected its answer.
    CHECK(vision.calls[first] == 2);
    CHECK(f.events.finished[first] == store::job_state::needs_review);  // identified, no price
    CHECK(f.db->find_item("default", first)->result_json.find("Parked print") != std::string::npos);
    // The second parked while that batch ended, so it ran again at once (the wake-up had gone
    // by); parked again on the same id, it waits: an end seen before it parked is not its
    // batch's.
    CHECK(vision.calls[second] == 2);
    auto job = f.db->find_job("default", f.db->find_item("default", second)->job_id);
    CHECK(job->state == store::job_state::queued);
    CHECK(job->waits_for == "msgbatch_reused");
    CHECK(job->attempts == 0);
}

// A vision model with one batch that runs in another process: every call parks on it until it
// has ended. Only a watch of the batch sees its end, which it tells a little later.
class elsewhere_batch_vision final : public pipeline::vision_model {
public:
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        ++calls;  // on the scheduler's strand
        pipeline::identification id;
        if (!ended) {
            id.parked_in = "msgbatch_elsewhere";
            co_return id;
        }
        id.title = "Print from elsewhere";
        id.confidence = 0.9;
        id.source = "elsewhere_batch_vision";
        co_return id;
    }
    bool defers_bulk() const override { return true; }
    void on_batch_ended(std::function<void(const std::string&)> listener) override {
        listener_ = std::move(listener);
    }
    void watch_batch(const std::string& batch_id) override {
        std::lock_guard lock(mutex);
        watched.push_back(batch_id);
        if (batch_id == "msgbatch_elsewhere" && !ended.exchange(true)) {
            std::thread([listener = listener_, batch_id] {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                listener(batch_id);
            }).detach();
        }
    }

    std::atomic<int> calls{0};
    std::atomic<bool> ended{false};
    std::mutex mutex;
    std::vector<std::string> watched;  // guarded by mutex

private:
    std::function<void(const std::string&)> listener_;
};

TEST_CASE("scheduler: a job parked by a process that stopped wakes when its batch ends",
          "[pipeline]") {
    fixture f;
    auto id = f.submit("orientation-1-landscape.jpg", "print", store::priority::bulk);
    const auto now = system_clock::instance().now_ms();
    auto taken = f.db->claim("gone:1:boot", 1, 30'000, now);
    REQUIRE(taken.size() == 1);
    batch_recorder store(*f.db);
    f.scheduler_db = &store;
    f.rescue_every_ms = 20;
    f.watch_parked_ms = 100;
    elsewhere_batch_vision vision;
    bool parked = false;
    f.run_until(
        [&] {
            // The other process parks its job once this one has woken what was parked at its
            // start, and then stops: the job's recheck is ten minutes away.
            if (!parked && store.wakes_of_all > 0) {
                parked = f.db->park(taken[0].job_id, taken[0].fence, "msgbatch_elsewhere",
                                    now + 600'000);
                REQUIRE(parked);
            }
            return !f.events.finished.empty();
        },
        &vision);
    CHECK(f.events.errors.empty());
    CHECK(f.events.finished[id] == store::job_state::needs_review);  // identified, no price
    CHECK(f.db->find_item("default", id)->result_json.find("Print from elsewhere") !=
          std::string::npos);
    CHECK(vision.calls == 1);  // it ran only once the batch had ended
    std::lock_guard lock(vision.mutex);
    REQUIRE_FALSE(vision.watched.empty());
    CHECK(vision.watched.front() == "msgbatch_elsewhere");
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
    f.concurrency = 1;
    f.run_until_finished(4, &vision);
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

TEST_CASE(
    "scheduler: items waiting on an upstream give their worker slot back, "
    "within max_in_flight",
    "[pipeline]") {
    fixture f;
    gathering_vision vision(3);
    std::vector<std::string> ids;
    for (const auto* photo : {"orientation-1-landscape.jpg", "orientation-3-landscape.jpg",
                              "orientation-6-landscape.jpg", "orientation-8-landscape.jpg",
                              "orientation-1-landscape.jpg", "orientation-3-landscape.jpg"}) {
        ids.push_back(f.submit(photo, "print"));
    }
    // One worker slot: three calls can wait together only if each job frees its slot; never
    // more than three, the in-flight bound.
    batch_recorder store(*f.db);
    f.scheduler_db = &store;
    f.concurrency = 1;
    f.max_in_flight = 3;
    f.heartbeat_ms = 50;
    f.run_until_finished(ids.size(), &vision);
    CHECK(f.events.errors.empty());
    CHECK(vision.most_waiting == 3);
    // The leases of the waiting jobs were extended together, one store call per tick.
    CHECK(store.single_heartbeats == 0);
    REQUIRE_FALSE(store.lease_batches.empty());
    CHECK(*std::max_element(store.lease_batches.begin(), store.lease_batches.end()) >= 2);
    for (const auto& id : ids) {
        CHECK(f.events.finished[id] == store::job_state::needs_review);  // identified, no price
    }
}

TEST_CASE("scheduler: the photo byte budget bounds the items calling the vision model",
          "[pipeline]") {
    // Four items on four workers, each call waiting for `meet` calls at once: the most that
    // waited together.
    auto most_waiting = [](std::int64_t budget, int meet) {
        fixture f;
        std::vector<std::string> ids;
        for (const auto* photo : {"orientation-1-landscape.jpg", "orientation-3-landscape.jpg",
                                  "orientation-6-landscape.jpg", "orientation-8-landscape.jpg"}) {
            ids.push_back(f.submit(photo, "print"));
        }
        gathering_vision vision(meet);
        f.concurrency = 4;
        f.max_photo_bytes = budget;
        f.run_until_finished(ids.size(), &vision);
        CHECK(f.events.errors.empty());
        for (const auto& id : ids) {
            CHECK(f.events.finished[id] == store::job_state::needs_review);
        }
        return vision.most_waiting;
    };
    // A budget smaller than one item's photos lets one item through at a time.
    CHECK(most_waiting(1, 1) == 1);
    // Without a budget the same items call together.
    CHECK(most_waiting(0, 4) == 4);
}

namespace {

// An answer of `model` titled "Thing n", confident, from one paid call of 100 micro-dollars.
pipeline::identification paid_identification(const std::string& model, int n) {
    pipeline::identification id;
    id.title = "Thing " + std::to_string(n);
    id.confidence = 0.9;
    id.source = model;
    pipeline::vision_call call;
    call.model = model;
    call.outcome = "ok";
    call.attempts = 1;
    call.cost_micros = 100;
    id.calls.push_back(call);
    id.cost_micros = 100;
    return id;
}

// A vision model that names each item after its call count, each answer one paid call.
class counting_vision final : public pipeline::vision_model {
public:
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        co_return paid_identification("counting-model", ++calls);
    }

    int calls = 0;
};

boost::json::value result_of(fixture& f, const std::string& item_id) {
    auto item = f.db->find_item("default", item_id);
    REQUIRE(item);
    return boost::json::parse(item->result_json);
}

// The normalized photo of an item: a re-encoded copy of what was uploaded.
std::string normalized_photo(fixture& f, const std::string& item_id) {
    const auto doc = result_of(f, item_id);
    auto bytes = f.blobs.get(doc.at("images").at(0).at("normalized").at("sha256").as_string());
    REQUIRE(bytes);
    return *bytes;
}

}  // namespace

namespace {

// The photo bytes the scheduler's budget holds now, as its gauge shows (-1: not shown).
double photo_bytes_held(const metrics::registry& registry) {
    const std::string name = "\nboomer_pipeline_photo_bytes ";
    auto text = "\n" + registry.render();
    auto at = text.find(name);
    if (at == std::string::npos) {
        return -1;
    }
    return std::stod(text.substr(at + name.size()));
}

// A vision model that defers bulk calls the way batches do: it notes the budget held with the
// photos, drops them (as once a batch is made), notes the budget again, then loads them again
// (as for an escalation) and notes it once more.
class dropping_vision final : public pipeline::vision_model {
public:
    explicit dropping_vision(const metrics::registry& registry) : registry_(registry) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request request) override {
        held_with_photos = photo_bytes_held(registry_);
        photos = request.jpeg_images;
        request.drop_photos();
        held_after_drop = photo_bytes_held(registry_);
        if (request.reload_photos) {
            auto again = co_await request.reload_photos();
            if (again) {
                reloaded = again->jpeg_images;
                held_after_reload = photo_bytes_held(registry_);
            }
        }
        co_return paid_identification("dropping-model", 1);
    }
    bool defers_bulk() const override { return true; }

    double held_with_photos = -1;
    double held_after_drop = -1;
    double held_after_reload = -1;
    std::vector<std::string> photos;
    std::vector<std::string> reloaded;

private:
    const metrics::registry& registry_;
};

}  // namespace

TEST_CASE(
    "scheduler: a bulk item's photos count in the byte budget until the model drops them, "
    "and can be loaded again",
    "[pipeline]") {
    fixture f;
    metrics::registry registry;
    f.registry = &registry;
    auto id = f.submit("orientation-1-landscape.jpg", "print", store::priority::bulk);
    dropping_vision vision(registry);
    f.run_until_finished(1, &vision);
    CHECK(f.events.errors.empty());
    CHECK(f.events.finished[id] == store::job_state::needs_review);

    const auto photo = normalized_photo(f, id);
    REQUIRE(vision.photos.size() == 1);
    CHECK(vision.photos[0] == photo);
    CHECK(vision.held_with_photos == static_cast<double>(photo.size()));
    CHECK(vision.held_after_drop == 0);
    REQUIRE(vision.reloaded.size() == 1);
    CHECK(vision.reloaded[0] == photo);
    CHECK(vision.held_after_reload == static_cast<double>(photo.size()));
}

namespace {

// identified_photo turns near-duplicate reuse on (distance 4) and has `vision` identify a photo
// whose copies may then reuse its answer; returns its item id.
std::string identified_photo(fixture& f, counting_vision& vision) {
    f.near_duplicates.max_distance = 4;
    auto first = f.submit("orientation-1-landscape.jpg", "");
    f.run_until_finished(1, &vision);
    REQUIRE(vision.calls == 1);
    return first;
}

}  // namespace

TEST_CASE("scheduler: a copy of an identified photo reuses its identification, free",
          "[pipeline]") {
    fixture f;
    counting_vision vision;
    const auto first = identified_photo(f, vision);
    CHECK(f.db->find_item("default", first)->images.at(0).phash.size() == 16);

    auto copy = f.submit_bytes("copy.jpg", normalized_photo(f, first), "");
    auto other = f.submit("webp-photo-denali.webp", "");
    f.run_until_finished(3, &vision);
    CHECK(f.events.errors.empty());
    CHECK(vision.calls == 2);

    const auto reused = result_of(f, copy).at("identification");
    CHECK(reused.at("title") == "Thing 1");
    CHECK(reused.at("reused_from").at("item_id").as_string() == first);
    CHECK(reused.at("reused_from").at("distance").as_int64() <= 1);
    CHECK(result_of(f, copy).at("cost").at("vision_answers_reused") == 1);
    CHECK(result_of(f, copy).at("cost").at("total_micros") == 0);
    CHECK(result_of(f, other).at("identification").at("title") == "Thing 2");
}

TEST_CASE("scheduler: a copy with a condition note the first item lacked asks the model",
          "[pipeline]") {
    // The note is part of the question: the earlier answer (its condition_guess among others)
    // was not given for it.
    fixture f;
    counting_vision vision;
    const auto first = identified_photo(f, vision);
    auto noted = f.submit_bytes("copy.jpg", normalized_photo(f, first), "", store::priority::normal,
                                "for parts, cracked lid");
    f.run_until_finished(2, &vision);
    CHECK(vision.calls == 2);
    const auto id = result_of(f, noted).at("identification");
    CHECK(id.at("title") == "Thing 2");
    CHECK_FALSE(id.as_object().contains("reused_from"));
}

TEST_CASE("scheduler: photos of one side of an identified two-photo item ask the model",
          "[pipeline]") {
    // The answer for [camera, print] is not the answer for the camera shown twice, though each
    // photo of the new item matches one of the earlier item's.
    fixture f;
    f.near_duplicates.max_distance = 4;
    counting_vision vision;
    const auto read = [](const std::string& name) {
        return test::read_file(test::data_dir() / "images" / name);
    };
    auto lot = f.submit_files({{"camera.jpg", read("orientation-1-landscape.jpg")},
                               {"print.webp", read("webp-photo-denali.webp")}},
                              "");
    f.run_until_finished(1, &vision);
    REQUIRE(vision.calls == 1);

    const auto shot = normalized_photo(f, lot);
    auto camera = f.submit_files({{"camera-1.jpg", shot}, {"camera-2.jpg", shot}}, "");
    f.run_until_finished(2, &vision);
    CHECK(vision.calls == 2);
    const auto id = result_of(f, camera).at("identification");
    CHECK(id.at("title") == "Thing 2");
    CHECK_FALSE(id.as_object().contains("reused_from"));
}

namespace {

// A vision model whose strong model never answers: each item gets the cheap model's answer,
// marked as a fallback.
class fallback_vision final : public pipeline::vision_model {
public:
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        auto id = paid_identification("cheap-model", ++calls);
        id.escalated = true;
        id.escalation_outcome = "fallback";
        id.escalation_reason = "vision_timeout";
        co_return id;
    }

    int calls = 0;
};

}  // namespace

TEST_CASE("scheduler: a copy of a photo whose strong model failed asks the model", "[pipeline]") {
    fixture f;
    f.near_duplicates.max_distance = 4;
    fallback_vision vision;
    auto first = f.submit("orientation-1-landscape.jpg", "");
    f.run_until_finished(1, &vision);
    REQUIRE(result_of(f, first).at("identification").at("escalation").at("outcome") == "fallback");

    auto copy = f.submit_bytes("copy.jpg", normalized_photo(f, first), "");
    f.run_until_finished(2, &vision);
    CHECK(vision.calls == 2);
    CHECK_FALSE(result_of(f, copy).at("identification").as_object().contains("reused_from"));
}

TEST_CASE("scheduler: an identification older than the answers are kept is not lent",
          "[pipeline]") {
    fixture f;
    // A minute ahead: the items submitted (on the system clock) are due at once.
    manual_clock clock(system_clock::instance().now_ms() + 60'000);
    f.clock = &clock;
    f.near_duplicates.max_distance = 4;
    f.near_duplicates.max_age_ms = 30LL * 24 * 3'600'000;
    counting_vision vision;
    auto first = f.submit("orientation-1-landscape.jpg", "");
    f.run_until_finished(1, &vision);

    clock.advance_ms(29LL * 24 * 3'600'000);
    auto fresh = f.submit_bytes("copy.jpg", normalized_photo(f, first), "");
    f.run_until_finished(2, &vision);
    CHECK(result_of(f, fresh).at("identification").at("reused_from").at("item_id").as_string() ==
          first);
    CHECK(vision.calls == 1);

    clock.advance_ms(2LL * 24 * 3'600'000);
    auto late = f.submit_bytes("copy-2.jpg", normalized_photo(f, first), "");
    f.run_until_finished(3, &vision);
    CHECK_FALSE(result_of(f, late).at("identification").as_object().contains("reused_from"));
    CHECK(vision.calls == 2);
}

TEST_CASE("scheduler: with near-duplicate reuse off, a copy is identified again", "[pipeline]") {
    fixture f;
    counting_vision vision;
    auto first = f.submit("orientation-1-landscape.jpg", "");
    f.run_until_finished(1, &vision);
    auto copy = f.submit_bytes("copy.jpg", normalized_photo(f, first), "");
    f.run_until_finished(2, &vision);
    CHECK(vision.calls == 2);
    CHECK(result_of(f, copy).at("identification").at("title") == "Thing 2");
}

TEST_CASE("scheduler: a copy of a photo the model did not identify asks the model", "[pipeline]") {
    fixture f;
    f.near_duplicates.max_distance = 4;
    auto first = f.submit("orientation-1-landscape.jpg", "Canon camera");
    f.run_until_finished(1);  // no vision model: identified from the hint only
    counting_vision vision;
    auto copy = f.submit_bytes("copy.jpg", normalized_photo(f, first), "");
    f.run_until_finished(2, &vision);
    CHECK(vision.calls == 1);
    CHECK_FALSE(result_of(f, copy).at("identification").as_object().contains("reused_from"));
}

namespace {

// A data photo as a seller might upload it again: scaled by `scale` and saved as JPEG at
// `quality`.
std::string reencoded(const std::string& photo, double scale, int quality) {
    const std::string original = test::read_file(test::data_dir() / "images" / photo);
    const cv::Mat decoded = cv::imdecode(
        cv::Mat(1, static_cast<int>(original.size()), CV_8UC1, const_cast<char*>(original.data())),
        cv::IMREAD_COLOR);
    REQUIRE(!decoded.empty());
    cv::Mat scaled;
    cv::resize(decoded, scaled, cv::Size(), scale, scale, cv::INTER_AREA);
    std::vector<uchar> out;
    REQUIRE(cv::imencode(".jpg", scaled, out, {cv::IMWRITE_JPEG_QUALITY, quality}));
    return std::string(out.begin(), out.end());
}

// Copies of one photo submitted together: the original and three re-encoded copies.
std::vector<std::string> submit_copies(fixture& f) {
    const char* const photo = "orientation-1-landscape.jpg";
    std::vector<std::string> ids{f.submit(photo, "")};
    ids.push_back(f.submit_bytes("copy-80.jpg", reencoded(photo, 0.8, 60), ""));
    ids.push_back(f.submit_bytes("copy-50.jpg", reencoded(photo, 0.5, 90), ""));
    ids.push_back(f.submit_bytes("copy-120.jpg", reencoded(photo, 1.2, 75), ""));
    return ids;
}

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// A vision model that holds its first call until `waiters` items wait for it (as the registry
// shows; 20 s at most), then answers it as `first` says: "ok", "permanent" (a failure the item
// falls back from) or "retryable". Later calls answer once each waiter has made one (20 s at
// most), so that no waiter can find another's answer already offered, however the waiters are
// delayed. Each answer is one paid call, named after the call count.
class held_vision final : public pipeline::vision_model {
public:
    held_vision(const metrics::registry& registry, int waiters, std::string first)
        : registry_(registry), waiters_(waiters), first_(std::move(first)) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        const int n = ++calls;  // on the scheduler's strand
        boost::asio::steady_timer tick(co_await boost::asio::this_coro::executor);
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        if (n == 1) {
            const auto line = "boomer_near_duplicate_waiting " + std::to_string(waiters_);
            while (!has_line(registry_.render(), line) &&
                   std::chrono::steady_clock::now() < give_up) {
                tick.expires_after(std::chrono::milliseconds(10));
                co_await tick.async_wait(boost::asio::use_awaitable);
            }
            if (first_ != "ok") {
                co_return make_unexpected(
                    failure{"vision_failed", "the first call failed", first_ == "retryable"});
            }
        }
        while (n > 1 && calls < 1 + waiters_ && std::chrono::steady_clock::now() < give_up) {
            tick.expires_after(std::chrono::milliseconds(10));
            co_await tick.async_wait(boost::asio::use_awaitable);
        }
        co_return paid_identification("held-model", n);
    }
    bool defers_bulk() const override { return false; }

    int calls = 0;

private:
    const metrics::registry& registry_;
    int waiters_;
    std::string first_;
};
}  // namespace

TEST_CASE("scheduler: a small object on a plain backdrop neither reuses nor lends", "[pipeline]") {
    fixture f;
    f.near_duplicates.max_distance = 4;
    metrics::registry registry;
    f.registry = &registry;
    counting_vision vision;
    auto first = f.submit_bytes(
        "small.jpg",
        test::on_plain_canvas(
            test::read_file(test::data_dir() / "images" / "orientation-1-landscape.jpg"), 250),
        "");
    f.run_until_finished(1, &vision);
    const auto doc = result_of(f, first);
    CHECK(doc.at("images").at(0).at("normalized").at("phash_unsure") == true);

    auto copy = f.submit_bytes("small-again.jpg", normalized_photo(f, first), "");
    f.run_until_finished(2, &vision);
    CHECK(vision.calls == 2);
    CHECK_FALSE(result_of(f, copy).at("identification").as_object().contains("reused_from"));
    CHECK(has_line(registry.render(),
                   R"(boomer_near_duplicate_lookups_total{outcome="unsure_photo"} 2)"));
}

TEST_CASE("scheduler: copies identified at the same time make one vision call", "[pipeline]") {
    fixture f;
    f.near_duplicates.max_distance = pipeline::near_duplicate_default_distance;
    f.concurrency = 4;
    metrics::registry registry;
    f.registry = &registry;
    const auto ids = submit_copies(f);
    held_vision vision(registry, static_cast<int>(ids.size()) - 1, "ok");
    f.run_until_finished(ids.size(), &vision);
    CHECK(f.events.errors.empty());
    CHECK(vision.calls == 1);

    // One item asked the model; every other reused its answer, free.
    std::string leader;
    for (const auto& id : ids) {
        CHECK(f.events.finished[id] == store::job_state::needs_review);  // identified, no price
        const auto doc = result_of(f, id);
        CHECK(doc.at("identification").at("title") == "Thing 1");
        if (!doc.at("identification").as_object().contains("reused_from")) {
            CHECK(leader.empty());
            leader = id;
        }
    }
    REQUIRE_FALSE(leader.empty());
    for (const auto& id : ids) {
        if (id == leader) {
            continue;
        }
        const auto doc = result_of(f, id);
        const auto& from = doc.at("identification").at("reused_from");
        CHECK(from.at("item_id").as_string() == leader);
        CHECK(from.at("distance").as_int64() <= pipeline::near_duplicate_default_distance);
        CHECK(doc.at("identification").at("calls").at(0).at("outcome") == "near_duplicate");
        CHECK(doc.at("cost").at("vision_answers_reused") == 1);
        CHECK(doc.at("cost").at("total_micros") == 0);
    }
    const auto text = registry.render();
    CHECK(has_line(text, R"(boomer_near_duplicate_lookups_total{outcome="reused"} 3)"));
    CHECK(has_line(text, R"(boomer_near_duplicate_lookups_total{outcome="no_match"} 1)"));
    CHECK(has_line(text, R"(boomer_near_duplicate_waits_total{outcome="joined"} 3)"));
    CHECK(has_line(text, "boomer_near_duplicate_waiting 0"));
}

TEST_CASE("scheduler: copies waiting on a failed identification identify themselves",
          "[pipeline]") {
    fixture f;
    f.near_duplicates.max_distance = pipeline::near_duplicate_default_distance;
    f.concurrency = 4;
    metrics::registry registry;
    f.registry = &registry;
    const auto ids = submit_copies(f);
    const int n = static_cast<int>(ids.size());
    std::string first;
    SECTION("permanently") {
        first = "permanent";
    }
    SECTION("for a retry") {
        first = "retryable";
    }
    held_vision vision(registry, n - 1, first);
    f.run_until_finished(ids.size(), &vision);

    // The waiters woke when the first call failed and each asked the model itself: none reused
    // another's answer, and none waited again.
    CHECK(
        has_line(registry.render(), R"(boomer_near_duplicate_waits_total{outcome="fell_back"} 3)"));
    std::multiset<std::string> answers;  // the items' own model answers
    for (const auto& id : ids) {
        REQUIRE(f.events.finished.contains(id));
        const auto identification = result_of(f, id).at("identification").as_object();
        if (!identification.contains("vision_error") && !identification.contains("reused_from")) {
            answers.insert(std::string(identification.at("title").as_string()));
        }
    }
    for (const auto* title : {"Thing 2", "Thing 3", "Thing 4"}) {
        CHECK(answers.count(title) == 1);  // the waiters' own calls, one each
    }
    CHECK(answers.count("Thing 1") == 0);  // the failed first call
    CHECK(vision.calls >= n);
}

TEST_CASE("scheduler: copies waiting on an item that lost its lease identify themselves",
          "[pipeline]") {
    fixture f;
    f.near_duplicates.max_distance = pipeline::near_duplicate_default_distance;
    f.concurrency = 4;
    metrics::registry registry;
    f.registry = &registry;
    const auto ids = submit_copies(f);
    const int n = static_cast<int>(ids.size());
    // The first identification saved finds its lease gone: that item stops, unfinished.
    batch_recorder store(*f.db);
    std::atomic<int> identify_saves{0};
    store.refuse_checkpoint = [&identify_saves](const st::checkpoint& c) {
        return c.stage == "identify" && identify_saves++ == 0;
    };
    f.scheduler_db = &store;
    held_vision vision(registry, n - 1, "ok");
    f.run_until_finished(ids.size() - 1, &vision);

    CHECK(f.events.finished.size() == ids.size() - 1);
    CHECK(vision.calls == n);  // the lost item's call, and one per waiter
    CHECK(
        has_line(registry.render(), R"(boomer_near_duplicate_waits_total{outcome="fell_back"} 3)"));
    std::multiset<std::string> answers;
    for (const auto& [id, state] : f.events.finished) {
        CHECK(state == store::job_state::needs_review);  // identified, no price
        const auto identification = result_of(f, id).at("identification").as_object();
        CHECK_FALSE(identification.contains("reused_from"));
        answers.insert(std::string(identification.at("title").as_string()));
    }
    for (const auto* title : {"Thing 2", "Thing 3", "Thing 4"}) {
        CHECK(answers.count(title) == 1);
    }
}

namespace {

// A vision model whose upstream is rate limited: every call fails, retryable, after asking for
// `wait_ms` of quiet (0: no retry-after).
class limited_vision final : public pipeline::vision_model {
public:
    explicit limited_vision(std::int64_t wait_ms) : wait_ms_(wait_ms) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        failure why{"vision_rate_limited", "Claude answered 429.", true};
        why.retry_after_ms = wait_ms_;
        co_return make_unexpected(why);
    }
    bool defers_bulk() const override { return false; }

private:
    std::int64_t wait_ms_;
};

// A vision model whose circuit breaker is open: every call is refused before it is sent, and
// asks for the rest of the pause.
class paused_vision final : public pipeline::vision_model {
public:
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        failure why{"vision_unavailable", "Calls are paused for 30 s.", true, 30'000};
        why.counts_as_attempt = false;
        co_return make_unexpected(why);
    }
    bool defers_bulk() const override { return false; }
};

// A vision model that fails every call retryably, noting whether each came on the item's last
// attempt.
class failing_vision final : public pipeline::vision_model {
public:
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request request) override {
        last_attempts.push_back(request.last_attempt);  // on the scheduler's strand
        co_return fail("vision_upstream_error", "Claude answered 500.", true);
    }
    bool defers_bulk() const override { return true; }

    std::vector<bool> last_attempts;
};

// A vision model whose calls are paused for ten minutes: it refuses the first `refusals` calls,
// then answers. resume() ends the pause and tells the scheduler; with tell_on_refusal, the pause
// ends while the last refusal is on its way (another item's trial call closed the breaker).
class resuming_vision final : public pipeline::vision_model {
public:
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        ++calls;  // on the scheduler's strand
        if (refusals > 0) {
            if (--refusals == 0 && tell_on_refusal) {
                listener_();
            }
            failure why{std::string(pipeline::paused_call_code), "Calls are paused for 600 s.",
                        true, 600'000};
            why.counts_as_attempt = false;
            co_return make_unexpected(why);
        }
        pipeline::identification id;
        id.title = "Resumed print";
        id.confidence = 0.9;
        id.source = "resuming_vision";
        co_return id;
    }
    bool defers_bulk() const override { return false; }
    void on_resumed(std::function<void()> listener) override { listener_ = std::move(listener); }
    void resume() {
        refusals = 0;
        listener_();
    }

    std::atomic<int> calls{0};
    std::atomic<int> refusals{1'000'000};
    bool tell_on_refusal = false;

private:
    std::function<void()> listener_;
};

// When the item's job may run again, after its first retry.
std::int64_t retried_after(std::int64_t wait_ms) {
    fixture f;
    auto id = f.submit("orientation-1-landscape.jpg", "print");
    limited_vision vision(wait_ms);
    auto before = system_clock::instance().now_ms();
    f.run_until([&f] { return !f.events.errors.empty(); }, &vision);
    REQUIRE(f.events.errors.front() == "retry:vision_rate_limited");
    auto item = f.db->find_item("default", id);
    REQUIRE(item);
    auto job = f.db->find_job("default", item->job_id);
    REQUIRE(job);
    CHECK(job->state == store::job_state::queued);
    return job->run_after_ms - before;
}

}  // namespace

TEST_CASE("scheduler: a job retried after a 429 waits at least the upstream's retry-after",
          "[pipeline]") {
    // The job's own backoff on its first attempt is at most retry_base_ms (1 s); the upstream
    // asked for 10 minutes, and that wins. Without a retry-after the backoff alone decides.
    CHECK(retried_after(600'000) >= 600'000);
    CHECK(retried_after(0) < 60'000);
}

TEST_CASE("scheduler: jobs turned away by one retry-after do not all come back at once",
          "[pipeline]") {
    // Each waits what it was asked and up to 5 s (a tenth of 10 minutes, capped) more, drawn on
    // its own. Twelve draws within one second of each other: about one chance in four million.
    std::vector<std::int64_t> waits;
    for (int i = 0; i < 12; ++i) {
        waits.push_back(retried_after(600'000));
    }
    const auto [least, most] = std::minmax_element(waits.begin(), waits.end());
    CHECK(*least >= 600'000);
    CHECK(*most <= 605'000 + 2'000);  // the spread, and the time the run itself took
    CHECK(*most - *least > 1'000);
}

TEST_CASE("scheduler: jobs deferred by a pause run again as soon as calls resume", "[pipeline]") {
    fixture f;
    auto id = f.submit("orientation-1-landscape.jpg", "print");
    resuming_vision vision;
    f.run_until(
        [&] {
            if (vision.calls > 0 && vision.refusals > 0) {
                vision.resume();  // the deferred job's retry is ten minutes away
            }
            return !f.events.finished.empty();
        },
        &vision);
    CHECK(f.events.finished[id] == store::job_state::needs_review);  // identified, no price
    CHECK(vision.calls == 2);
    CHECK(f.db->find_job("default", f.db->find_item("default", id)->job_id)->attempts == 1);
}

TEST_CASE("scheduler: a job deferred just after calls resumed runs again at once", "[pipeline]") {
    fixture f;
    auto id = f.submit("orientation-1-landscape.jpg", "print");
    batch_recorder store(*f.db);
    f.scheduler_db = &store;
    // The wake-up after the resume finds nothing deferred yet: the deferral is written after.
    store.before_defer = [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); };
    resuming_vision vision;
    vision.refusals = 1;
    vision.tell_on_refusal = true;
    f.run_until([&] { return !f.events.finished.empty(); }, &vision);
    CHECK(f.events.finished[id] == store::job_state::needs_review);  // identified, no price
    CHECK(vision.calls == 2);
}

TEST_CASE("scheduler: the vision call of a job's last attempt is told so", "[pipeline]") {
    fixture f;
    auto id = f.submit("orientation-1-landscape.jpg", "print", store::priority::bulk);
    f.retry_base_ms = 5;
    failing_vision vision;
    f.run_until_finished(1, &vision);
    CHECK(f.events.finished[id] == store::job_state::failed);
    const auto job = f.db->find_job("default", f.db->find_item("default", id)->job_id);
    REQUIRE(job->max_attempts >= 2);
    std::vector<bool> expected(static_cast<std::size_t>(job->max_attempts), false);
    expected.back() = true;
    CHECK(vision.last_attempts == expected);

    // An item allowed one attempt has no failed batch lines to make up for: not told.
    f.max_attempts = 1;
    auto single = f.submit("orientation-3-landscape.jpg", "print", store::priority::bulk);
    f.events.finished.clear();
    vision.last_attempts.clear();
    f.run_until_finished(1, &vision);
    CHECK(f.events.finished[single] == store::job_state::failed);
    CHECK(vision.last_attempts == std::vector<bool>{false});
}

TEST_CASE("scheduler: a call the open breaker refused gives the job's attempt back", "[pipeline]") {
    fixture f;
    auto id = f.submit("orientation-1-landscape.jpg", "print");
    paused_vision vision;
    auto before = system_clock::instance().now_ms();
    f.run_until([&f] { return !f.events.errors.empty(); }, &vision);
    REQUIRE(f.events.errors.front() == "retry:vision_unavailable");
    auto item = f.db->find_item("default", id);
    REQUIRE(item);
    auto job = f.db->find_job("default", item->job_id);
    REQUIRE(job);
    CHECK(job->state == store::job_state::queued);
    // Nothing reached Claude: however long the outage, the pauses use up none of its attempts.
    CHECK(job->attempts == 0);
    CHECK(job->run_after_ms - before >= 30'000);
    // Why it waits is shown with it.
    CHECK(job->error_code == "vision_unavailable");
    CHECK(job->error_message == "Calls are paused for 30 s.");
}

namespace {

// A vision model whose first call takes `first_call`, or ends sooner once its request is given
// up (identify_request::wanted) when `until_abandoned`; later calls answer at once. Each
// answer names its call ("Call 2 print"). Calls run on the fixture's one I/O thread.
class slow_first_vision final : public pipeline::vision_model {
public:
    slow_first_vision(std::chrono::milliseconds first_call, bool until_abandoned)
        : first_call_(first_call), until_abandoned_(until_abandoned) {}

    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request request) override {
        const int n = ++calls;
        if (n == 1) {
            if (on_first) {
                on_first();
            }
            const auto began = std::chrono::steady_clock::now();
            boost::asio::steady_timer tick(co_await boost::asio::this_coro::executor);
            while (std::chrono::steady_clock::now() - began < first_call_) {
                if (until_abandoned_ && request.wanted && !request.wanted()) {
                    break;
                }
                tick.expires_after(std::chrono::milliseconds(10));
                co_await tick.async_wait(boost::asio::use_awaitable);
            }
            first_took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - began);
            first_abandoned = request.wanted && !request.wanted();
            first_done = true;
        }
        pipeline::identification id;
        id.title = "Call " + std::to_string(n) + " print";
        id.confidence = 0.9;
        id.source = "slow_first_vision";
        co_return id;
    }

    std::function<void()> on_first;  // runs as the first call begins
    int calls = 0;
    bool first_done = false;
    bool first_abandoned = false;  // the first call's request was given up by its end
    std::chrono::milliseconds first_took{0};

private:
    std::chrono::milliseconds first_call_;
    bool until_abandoned_;
};

std::string identify_title(fixture& f, const std::string& item_id) {
    const auto job_id = f.db->find_item("default", item_id)->job_id;
    for (const auto& c : f.db->checkpoints(job_id)) {
        if (c.stage == "identify") {
            return std::string(boost::json::parse(c.output_json).at("title").as_string());
        }
    }
    return "";
}

}  // namespace

TEST_CASE("scheduler: a job three times longer than its lease keeps it by heartbeats, runs once",
          "[pipeline]") {
    fixture f;
    f.lease_ms = 1'000;
    f.heartbeat_ms = 200;
    f.rescue_every_ms = 50;  // an expired lease would be rescued at once
    const auto id = f.submit("orientation-3-landscape.jpg", "A print");
    slow_first_vision vision(std::chrono::milliseconds(3'000), false);
    f.run_until_finished(1, &vision);

    CHECK(f.events.errors.empty());
    CHECK(vision.calls == 1);
    CHECK(vision.first_took >= std::chrono::milliseconds(3'000));
    CHECK_FALSE(vision.first_abandoned);
    CHECK(f.events.finish_count[id] == 1);
    CHECK(f.db->find_job("default", f.db->find_item("default", id)->job_id)->attempts == 1);
    CHECK(identify_title(f, id) == "Call 1 print");
}

TEST_CASE("scheduler: without heartbeats a long job is rescued once and its late result refused",
          "[pipeline]") {
    fixture f;
    f.lease_ms = 1'000;
    f.heartbeat_ms = 200;
    f.rescue_every_ms = 50;
    const auto id = f.submit("orientation-3-landscape.jpg", "A print");
    const auto job_id = f.db->find_item("default", id)->job_id;
    // The first run's heartbeats stall: its lease runs out while its call goes on.
    batch_recorder store(*f.db);
    std::atomic<std::int64_t> first_fence{-1};
    store.skip_heartbeat = [&first_fence](const st::lease_ref& l) {
        return l.fence == first_fence.load();
    };
    f.scheduler_db = &store;
    slow_first_vision vision(std::chrono::milliseconds(3'000), false);
    vision.on_first = [&] { first_fence = f.db->find_job("default", job_id)->fence; };
    f.run_until([&] { return f.events.finished.size() == 1 && vision.first_done; }, &vision);

    // The rescued job ran again, once, and finished; the first run's answer came after that
    // and was not written.
    CHECK(vision.calls == 2);
    CHECK(f.events.finish_count[id] == 1);
    const auto job = f.db->find_job("default", job_id);
    CHECK(job->attempts == 2);
    CHECK(store::is_final(job->state));
    CHECK(identify_title(f, id) == "Call 2 print");
    CHECK(result_of(f, id).at("identification").at("title") == "Call 2 print");
}

TEST_CASE("scheduler: a rescued job's first worker gives up its unsent call and writes nothing",
          "[pipeline]") {
    fixture f;
    f.lease_ms = 1'000;
    f.heartbeat_ms = 100;
    f.rescue_every_ms = 50;
    const auto id = f.submit("orientation-3-landscape.jpg", "A print");
    const auto job_id = f.db->find_item("default", id)->job_id;
    // The first run's call waits (as for the rate limits) and its heartbeats stall until its
    // lease is rescued; the heartbeat after that tells the worker, and the call it has not sent
    // is given up.
    batch_recorder store(*f.db);
    std::atomic<std::int64_t> first_fence{-1};
    store.skip_heartbeat = [&](const st::lease_ref& l) {
        return l.fence == first_fence.load() && f.db->find_job("default", job_id)->fence == l.fence;
    };
    f.scheduler_db = &store;
    slow_first_vision vision(std::chrono::milliseconds(5'000), true);
    vision.on_first = [&] { first_fence = f.db->find_job("default", job_id)->fence; };
    f.run_until([&] { return f.events.finished.size() == 1 && vision.first_done; }, &vision);

    CHECK(vision.first_abandoned);
    CHECK(vision.first_took < std::chrono::milliseconds(4'000));
    CHECK(f.events.errors == std::vector<std::string>{"lease_lost"});
    CHECK(vision.calls == 2);
    CHECK(f.events.finish_count[id] == 1);
    CHECK(identify_title(f, id) == "Call 2 print");
}

TEST_CASE("scheduler: a run whose lease ran out unrenewed gives up its unsent call", "[pipeline]") {
    fixture f;
    f.lease_ms = 1'000;
    f.heartbeat_ms = 100;
    f.rescue_every_ms = 60'000;  // nobody takes the job: only its own clock tells the run
    const auto id = f.submit("orientation-3-landscape.jpg", "A print");
    // Once the call waits, the heartbeats stall for 3 s, as in a process stopped that long: the
    // lease runs out before any heartbeat could say whether another worker took the job.
    batch_recorder store(*f.db);
    std::atomic<bool> stall{false};
    store.before_heartbeat = [&stall] {
        if (stall.exchange(false)) {
            std::this_thread::sleep_for(std::chrono::seconds(3));
        }
    };
    f.scheduler_db = &store;
    slow_first_vision vision(std::chrono::milliseconds(5'000), true);
    vision.on_first = [&stall] { stall = true; };
    f.run_until([&] { return !f.events.finished.empty() && vision.first_done; }, &vision);

    CHECK(vision.first_abandoned);
    CHECK(vision.first_took >= std::chrono::milliseconds(700));   // the lease's end, not sooner
    CHECK(vision.first_took < std::chrono::milliseconds(2'900));  // before the heartbeat came back
    CHECK(f.events.finish_count[id] == 1);
}

TEST_CASE("scheduler: a canceled item's run gives up its unsent call at once", "[pipeline]") {
    fixture f;
    f.heartbeat_ms = 60'000;  // no heartbeat comes while the call waits
    const auto id = f.submit("orientation-3-landscape.jpg", "A print");
    slow_first_vision vision(std::chrono::milliseconds(5'000), true);
    vision.on_first = [&] {
        CHECK(f.db->cancel("default", id, system_clock::instance().now_ms()) ==
              store::cancel_outcome::canceled);
        f.running->canceled(id);  // as the API does after the store's cancel
    };
    f.run_until([&] { return vision.first_done; }, &vision);

    CHECK(vision.first_abandoned);
    CHECK(vision.first_took < std::chrono::milliseconds(4'000));
    CHECK(vision.calls == 1);
    CHECK(f.events.finish_count.empty());  // the cancel ended it, not the worker
    CHECK(f.db->find_item("default", id)->state == store::job_state::canceled);
    CHECK(identify_title(f, id).empty());
}

TEST_CASE("scheduler: photos missing from the photo store fail the item, not pass for none",
          "[pipeline]") {
    fixture f;
    f.max_attempts = 2;  // the vanished worker's and this one's
    const auto id = f.submit("orientation-3-landscape.jpg", "A print");
    const auto job_id = f.db->find_item("default", id)->job_id;
    // Another worker, with another photo store, normalized the photo, then vanished: this
    // worker's store lacks the normalized photo.
    auto now = system_clock::instance().now_ms();
    auto claimed = f.db->claim("elsewhere:1:boot", 1, 1, now);
    REQUIRE(claimed.size() == 1);
    const std::string absent(64, 'a');
    REQUIRE(f.db->save_checkpoint(
        job_id, claimed[0].fence,
        {"normalize", R"({"images":[{"sha256":")" + absent + R"(","bytes":1000}]})", 5, now}));
    REQUIRE(f.db->save_checkpoint(
        job_id, claimed[0].fence,
        {"analyze", R"({"barcodes":[],"warnings":[],"duplicate_photos":[]})", 5, now}));
    REQUIRE(f.db->rescue_expired(now + 10).requeued == 1);

    counting_vision vision;
    f.run_until_finished(1, &vision);
    CHECK(vision.calls == 0);
    CHECK(f.events.finished[id] == store::job_state::failed);
    CHECK_THAT(f.events.finish_reasons[id],
               Catch::StartsWith("photo_missing: ") && Catch::Contains(absent));
}
