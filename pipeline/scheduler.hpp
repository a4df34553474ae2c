// The scheduler: claims jobs from the durable queue and runs each through the stage chain,
// holding each job's lease with heartbeats. At most `concurrency` jobs hold a worker slot (CPU
// and store stages); a job waiting on an upstream (vision, market sources) gives its slot back,
// so slow upstreams do not limit how many calls are in flight: up to `max_in_flight` jobs are
// claimed at once, which bounds memory. The leases of all running jobs are extended by one
// batched store call per heartbeat tick, on a thread of its own.
//
// Lifetime and threads: construct, start(), and keep the object alive until shutdown() has
// completed. All of the scheduler's coroutines run on one strand of the I/O executor; blocking
// work goes to the CPU and store pools. wake() may be called from any thread.
//
// Failure handling: a stage's permanent failure ends the item `failed` with the reason; a
// retryable one (or a store error that may pass) requeues it with full-jitter exponential
// backoff until attempts run out. Finished stages are checkpoints: a retry resumes after them.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "pipeline/byte_budget.hpp"
#include "pipeline/market/comp_source.hpp"
#include "pipeline/market/fan_out.hpp"
#include "pipeline/near_duplicate.hpp"
#include "pipeline/near_duplicate_flight.hpp"
#include "pipeline/stages.hpp"
#include "pipeline/vision.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

namespace boomer::pipeline {

namespace asio = boost::asio;

struct scheduler_options {
    std::string worker_id;  // host, pid and a per-boot random id
    int concurrency = 4;    // jobs holding a worker slot (running CPU or store stages)
    // Jobs claimed at once, counting those waiting on upstreams.
    int max_in_flight = 1024;
    // Photo bytes held at once by jobs calling the vision model (<= 0: no bound): a job waits
    // for its photos' share before it loads them, and the share returns when the model drops
    // them: after a synchronous call, or once the batch of a bulk call is made (the model
    // reloads them, with a new share, for an escalation).
    std::int64_t max_photo_bytes = 256LL << 20;
    // A bulk job whose vision call sits in a batch that was made is parked: its coroutines end,
    // its lease goes back with its attempt, and only its row (naming the batch) remains. The
    // batch's end wakes it (vision_model::on_batch_ended), and it runs again to collect its
    // answer. This is when it runs again at the latest, should a wake-up go missing (at start,
    // each process wakes every parked job once, so that the batches they wait for are polled
    // again; while it runs, it watches the batches of jobs other processes parked).
    std::int64_t park_recheck_ms = 600'000;
    // How often the batches parked jobs wait for are read from the store and watched
    // (vision_model::watch_batch), so that jobs parked by a process that stopped wake when their
    // batch ends, not at their recheck.
    std::int64_t watch_parked_ms = 60'000;
    int claim_batch = 8;
    std::int64_t lease_ms = 30'000;
    std::int64_t heartbeat_ms = 10'000;
    std::int64_t poll_ms = 500;
    std::int64_t rescue_every_ms = 5'000;
    std::int64_t retry_base_ms = 1'000;
    std::int64_t retry_max_ms = 60'000;
};

// What the scheduler reports as it works; the service turns these into logs and metrics.
// Called on the scheduler's strand; implementations must not block.
class pipeline_observer {
public:
    virtual ~pipeline_observer() = default;
    virtual void stage_finished(std::string_view stage, double seconds, bool ok) = 0;
    virtual void job_finished(const store::claimed_job& job, store::job_state state,
                              std::string_view error_code, std::string_view message) = 0;
    // A job handed back to run again after `delay_ms`; `attempt_spent` is false when the run
    // gave its attempt back (its call was never sent: a pause, the rate limits).
    virtual void job_retry(const store::claimed_job& job, std::string_view error_code,
                           std::string_view message, std::int64_t delay_ms, bool attempt_spent) = 0;
    virtual void lease_lost(const store::claimed_job& job) = 0;
    virtual void rescued(int count) = 0;
    virtual void internal_error(std::string_view where, std::string_view what) = 0;
    // A job parked until the upstream work `waits_for` ends (scheduler_options::park_recheck_ms).
    virtual void job_parked(const store::claimed_job& job, std::string_view waits_for) {
        (void)job;
        (void)waits_for;
    }
};

struct scheduler_deps {
    store::store* db = nullptr;
    asio::thread_pool* cpu_pool = nullptr;
    asio::thread_pool* store_pool = nullptr;
    const clock* time = nullptr;
    stage_env env;
    pipeline_observer* observer = nullptr;
    vision_model* vision = nullptr;  // null: identify from local findings only
    // Market sources asked in parallel by the comps stage (own sales among them when a sales
    // history is loaded); none: the price falls back to the vision model's estimate.
    std::vector<std::shared_ptr<market::comp_source>> comp_sources;
    market::fan_out_options comps;         // deadlines, timeouts and cache lifetimes
    metrics::registry* metrics = nullptr;  // null: source outcomes are not counted
    // Reuse of an earlier item's vision identification for near-duplicate photos (off by
    // default here; the service sets it). Photos are hashed and indexed either way.
    near_duplicate_options near_duplicates;
    // The request context of a vision request (near_duplicate.hpp, request_context_field): a
    // fingerprint of everything the model would send for it besides the photos' bytes (only
    // their number is read). Set with the vision model, from its settings; empty: the request's
    // own texts (request_texts_context), for models that add nothing of their own.
    std::function<std::string(const identify_request&)> vision_context;
};

class scheduler : public std::enable_shared_from_this<scheduler> {
public:
    scheduler(asio::any_io_executor io, scheduler_deps deps, scheduler_options options);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // start begins claiming and rescuing. Call once.
    void start();

    // wake tells an idle scheduler that new work may be queued. Thread-safe.
    void wake();

    // canceled says the item's job was canceled in the store (its fence bumped): a run of it
    // here writes nothing more and sends no vision call it has not sent yet, at once rather
    // than at its next heartbeat. Thread-safe.
    void canceled(std::string item_id);

    // shutdown stops claiming, lets running stages finish for up to `drain`, then releases the
    // leases of jobs still running so another worker can take them at once. Calls `done` (on the
    // scheduler's strand) when nothing of the scheduler runs any more. Thread-safe; call once.
    void shutdown(std::chrono::milliseconds drain, std::function<void()> done);

    // running counts the jobs in CPU and store stages now (a job waiting on an upstream gives
    // its slot back); in_flight counts every job taken from the queue and not yet handed back.
    int running() const { return running_.load(); }
    int in_flight() const { return in_flight_.load(); }

private:
    struct job_context;
    struct pending_completion;

    asio::awaitable<void> dispatch_loop();
    asio::awaitable<void> rescue_loop();
    // run_job runs a job claimed with a lease until `lease_until_ms` (epoch ms).
    asio::awaitable<void> run_job(store::claimed_job job, std::int64_t lease_until_ms);
    asio::awaitable<void> lease_loop();
    // The coroutines below are only ever awaited directly by their caller, whose frame keeps the
    // referenced arguments alive; references also keep temporaries out of the co_await
    // expressions (see core/async.hpp on GCC 12).
    asio::awaitable<void> execute(const std::shared_ptr<job_context>& ctx);
    asio::awaitable<void> finish(const std::shared_ptr<job_context>& ctx, store::job_state state,
                                 std::string_view code, std::string_view message);
    asio::awaitable<void> retry_later(const std::shared_ptr<job_context>& ctx, const failure& why);
    asio::awaitable<void> release(const std::shared_ptr<job_context>& ctx);
    // park hands the job back until the batch `waits_for` has ended; the item's near-duplicate
    // flight, if it leads one, is kept for its next run meanwhile. `since`: when the stage that
    // parks it began (a batch that ended before then is another one with the same id).
    asio::awaitable<void> park(const std::shared_ptr<job_context>& ctx,
                               const std::string& waits_for, near_duplicate_flights::ticket& flight,
                               std::chrono::steady_clock::time_point since);
    // batch_ended wakes the jobs parked on `batch_id`. On the strand.
    asio::awaitable<void> batch_ended(std::string batch_id);
    asio::awaitable<void> wake_parked(const std::string& waits_for);
    // watch_parked has the vision model watch every batch jobs are parked on, whoever parked
    // them (scheduler_options::watch_parked_ms). On the strand.
    asio::awaitable<void> watch_parked();
    // wake_deferred runs the jobs deferred by a pause of the vision model's calls now that it
    // is over (vision_model::on_resumed). On the strand.
    asio::awaitable<void> wake_deferred();
    // commit queues a completion for the next group commit and returns whether its fence held.
    // Completions that arrive while a commit is in flight share the next one.
    asio::awaitable<bool> commit(const std::shared_ptr<pending_completion>& entry);
    asio::awaitable<void> commit_loop();
    // `flight` receives the item's near-duplicate flight when it leads one (identify); the caller
    // releases it once the identification is recorded and offered. `parked_in` receives the
    // batch the vision call waits in when the job is to park (the stage then fails, retryably).
    // `last_attempt`: the job has no attempt left after this one. `wanted`: whether the job
    // still wants the answer (identify_request::wanted).
    asio::awaitable<result<json::value>> run_stage_async(
        std::string_view stage, const store::item_record& item,
        const std::map<std::string, json::value, std::less<>>& done,
        near_duplicate_flights::ticket& flight, std::string& parked_in, bool last_attempt,
        std::function<bool()> wanted);
    asio::awaitable<result<json::value>> identify_with_vision(
        const store::item_record& item, const std::map<std::string, json::value, std::less<>>& done,
        near_duplicate_flights::ticket& flight, std::string& parked_in, bool last_attempt,
        std::function<bool()> wanted);
    // reuse_near_duplicate returns the identification an earlier item lends this one (see
    // near_duplicate.hpp), or null when the model must be asked. A copy being identified at the
    // same time is waited for first (near_duplicate_flight.hpp); when the model must be asked,
    // `flight` leads the flight that later copies wait for.
    // `context` is the request context of the call the item would make (request_context_field).
    asio::awaitable<json::value> reuse_near_duplicate(
        const store::item_record& item, const std::map<std::string, json::value, std::less<>>& done,
        const json::value& local, const std::string& context,
        near_duplicate_flights::ticket& flight);
    // join_near_duplicate_flight waits, once, for a copy of `item` being identified now (giving
    // the worker slot back meanwhile), then makes `flight` lead a flight of its own; `subject`
    // is the item as reuse_subject_of made it (nothing is joined without). Returns whether it
    // waited.
    asio::awaitable<bool> join_near_duplicate_flight(const store::item_record& item,
                                                     const std::optional<reuse_subject>& subject,
                                                     const json::value& local,
                                                     near_duplicate_flights::ticket& flight);
    // index_photos records the photos' hashes after normalize, and offers them for reuse after
    // a model identification. A store failure is reported and skipped (it costs a later call).
    asio::awaitable<void> index_photos(const std::shared_ptr<job_context>& ctx,
                                       std::string_view stage,
                                       const std::map<std::string, json::value, std::less<>>& done);
    asio::awaitable<result<json::value>> find_comps(
        const store::item_record& item,
        const std::map<std::string, json::value, std::less<>>& done);
    asio::awaitable<void> drain(std::chrono::milliseconds drain, std::function<void()> done);
    std::int64_t backoff_ms(int attempts);
    static std::int64_t spread_ms(std::int64_t most);  // uniform in [0, most]
    void spawn(asio::awaitable<void> work, std::string_view what);

    asio::strand<asio::any_io_executor> strand_;
    scheduler_deps deps_;
    scheduler_options options_;
    asio::steady_timer wake_timer_;
    asio::steady_timer rescue_timer_;
    asio::steady_timer idle_timer_;    // signalled when the last running job ends
    asio::steady_timer lease_timer_;   // the next heartbeat tick
    asio::thread_pool lease_pool_{1};  // heartbeats' blocking store calls, apart from the rest
    std::atomic<int> running_{0};      // jobs holding a worker slot
    std::atomic<int> in_flight_{0};    // jobs counted against max_in_flight
    // Photos held by jobs calling the vision model; shared with the holds handed to the model.
    std::shared_ptr<byte_budget> photo_bytes_;
    // Gauges reading photo_bytes_ at each scrape; null without a registry.
    metrics::callback_gauge* photo_bytes_held_ = nullptr;
    metrics::callback_gauge* photo_bytes_waiters_ = nullptr;
    bool leasing_ = false;          // a lease_loop runs
    bool leases_released_ = false;  // drained: no more heartbeats
    std::atomic<bool> stopping_{false};
    bool started_ = false;
    bool pending_wake_ = false;
    bool dispatch_done_ = false;
    bool rescue_done_ = false;
    std::vector<std::shared_ptr<job_context>> active_;
    std::shared_ptr<market::fan_out> comps_;  // shared by every job: its cache outlives them
    near_duplicate_metrics near_duplicate_metrics_;
    near_duplicate_flights near_duplicate_flights_;  // copies being identified now
    // The near-duplicate flights of parked leaders, by item id, with when they parked: copies
    // keep waiting for the leader's answer, which its next run takes back. On the strand.
    std::map<std::string, std::pair<near_duplicate_flights::ticket, std::int64_t>> parked_flights_;
    // When the vision model last said its paused calls may go again (on_resumed).
    std::chrono::steady_clock::time_point resumed_at_{};
    // Batches that ended lately and when, for a job that parks on one after its wake-up went
    // by; on the strand, oldest first.
    std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> ended_batches_;
    std::vector<std::shared_ptr<pending_completion>> completions_;  // waiting for a commit
    bool committing_ = false;                                       // a commit_loop runs
};

}  // namespace boomer::pipeline
