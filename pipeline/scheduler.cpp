// The scheduler's loops: dispatch (claim and start jobs), rescue (expired leases), and per job
// the stage chain with its heartbeat.
#include "pipeline/scheduler.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <random>

#include "core/async.hpp"
#include "pipeline/item_document.hpp"
#include "pipeline/store_comp_cache.hpp"

namespace boomer::pipeline {
namespace {

using namespace std::chrono_literals;
constexpr auto wait = asio::as_tuple(asio::use_awaitable);

result<json::value> run_stage(std::string_view stage, const store::item_record& item,
                              const std::map<std::string, json::value, std::less<>>& done,
                              const stage_env& env) {
    if (stage == "normalize") {
        return run_normalize(item, env);
    }
    if (stage == "analyze") {
        return run_analyze(done.at("normalize"), env);
    }
    if (stage == "identify") {
        return run_identify_local(item, done.at("analyze"), env);
    }
    if (stage == "price") {
        return run_price(done.at("comps"), done.at("identify"), item, env);
    }
    return run_draft(item, done.at("analyze"), done.at("identify"), done.at("price"));
}

bool identified(const json::value& identification) {
    const auto* flag = identification.as_object().if_contains("identified");
    return flag != nullptr && flag->is_bool() && flag->as_bool();
}

bool priced(const json::value& price) {
    const auto* p = price.as_object().if_contains("price");
    return p != nullptr && p->is_object();
}

// While a job waits on an upstream (vision, market sources) it gives its worker slot back, so
// that the number of items in flight does not limit upstream use; it still counts against
// max_in_flight. A job waiting on a batch (hours) leaves max_in_flight as well, so bulk work
// cannot block everything else. The slot is taken back after (running may then exceed the
// worker count for a moment; the CPU pool still bounds the CPU work).
class parked_slot {
public:
    enum class kind { none, upstream, batch };

    parked_slot(std::atomic<int>& running, std::atomic<int>& in_flight, kind k)
        : running_(running), in_flight_(in_flight), kind_(k) {
        if (kind_ != kind::none) {
            --running_;
        }
        if (kind_ == kind::batch) {
            --in_flight_;
        }
    }
    ~parked_slot() { take_back(); }
    void take_back() {
        if (kind_ != kind::none) {
            ++running_;
        }
        if (kind_ == kind::batch) {
            ++in_flight_;
        }
        kind_ = kind::none;
    }
    parked_slot(const parked_slot&) = delete;
    parked_slot& operator=(const parked_slot&) = delete;

private:
    std::atomic<int>& running_;
    std::atomic<int>& in_flight_;
    kind kind_;
};

// The photos of an item as load_photos needs them: their blob names and the bytes the normalize
// stage recorded. Kept by a bulk job for hours (to load the photos again for an escalation), so
// it holds only these, not the stage's JSON.
struct photo_refs {
    std::vector<std::string> sha256;
    std::int64_t bytes = 0;
};

photo_refs photo_refs_of(const json::array& images) {
    photo_refs out;
    out.sha256.reserve(images.size());
    for (const auto& img : images) {
        out.sha256.emplace_back(img.at("sha256").as_string());
        if (const auto* size = img.as_object().if_contains("bytes")) {
            out.bytes += size->to_number<std::int64_t>();
        }
    }
    return out;
}

// as_photo_hold turns a share of `budget` into the vision request's hold, which keeps the
// budget alive as well: a model may drop it after the scheduler is gone (a batch made later).
photo_hold as_photo_hold(std::shared_ptr<byte_budget> budget, byte_budget::hold share) {
    struct held {
        std::shared_ptr<byte_budget> budget;  // destroyed after the share returns to it
        byte_budget::hold share;
    };
    return std::make_shared<held>(held{std::move(budget), std::move(share)});
}

// load_photos waits for the photos' share of `budget`, then reads them from the blob store on
// `pool`. Errors: store_unavailable (retryable) or internal_error when the store cannot be read;
// photo_missing (retryable, so that the item fails once its attempts are spent) when a photo is
// not in it: the job was rescued by a worker that does not share the photo store of the one that
// took the item in, a misconfiguration that must not pass for an item without photos.
asio::awaitable<result<loaded_photos>> load_photos(std::shared_ptr<byte_budget> budget,
                                                   const store::blob_store* blobs,
                                                   asio::thread_pool* pool, photo_refs images) {
    auto share = co_await budget->acquire(images.bytes);
    loaded_photos out;
    std::optional<failure> problem;
    auto load = [&images, blobs, &out, &problem] {
        try {
            for (const auto& sha256 : images.sha256) {
                auto bytes = blobs->get(sha256);
                if (!bytes) {
                    problem = failure{"photo_missing",
                                      "the normalized photo " + sha256 +
                                          " is not in this worker's photo store; every replica "
                                          "must share the data folder's blobs (deploy/README.md)",
                                      true};
                    break;
                }
                out.jpeg_images.push_back(std::move(*bytes));
            }
        } catch (const store::store_error& e) {
            const bool retryable = e.kind() == store::error_kind::retryable;
            problem = failure{retryable ? "store_unavailable" : "internal_error",
                              std::string("the photos could not be read: ") + e.what(), retryable};
        }
        return out.jpeg_images.size();
    };
    co_await run_on(*pool, load);
    if (problem) {
        co_return make_unexpected(std::move(*problem));
    }
    out.hold = as_photo_hold(std::move(budget), std::move(share));
    co_return out;
}

}  // namespace

struct scheduler::job_context {
    explicit job_context(store::claimed_job j) : job(std::move(j)) {}

    store::claimed_job job;
    // When this run began: a pause of the vision model's calls that ended since may have
    // refused it just before (scheduler::retry_later).
    std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
    bool lost = false;      // the lease is gone: write nothing more
    bool finished = false;  // execute() returned
    bool ending = false;    // its final write (finish, retry, release) has started
    // What the job's vision calls read from other threads (identify_request::wanted): `lost`,
    // and when the lease runs out unless renewed (claim or last heartbeat, epoch ms).
    struct shared_state {
        std::atomic<bool> lost{false};
        std::atomic<std::int64_t> lease_until_ms{0};
    };
    std::shared_ptr<shared_state> shared = std::make_shared<shared_state>();

    void lose() {
        lost = true;
        shared->lost.store(true);
    }

    // wanted is identify_request::wanted for this run, on `time` (the scheduler's clock).
    std::function<bool()> wanted(const boomer::clock& time) const {
        return [state = shared, &time] {
            return !state->lost.load() && time.now_ms() < state->lease_until_ms.load();
        };
    }
};

// A completion waiting for its group commit; `signal` is cancelled when `done` is set.
struct scheduler::pending_completion {
    pending_completion(store::completion c, asio::strand<asio::any_io_executor> strand)
        : work(std::move(c)), signal(strand) {}

    store::completion work;
    bool done = false;
    bool held = false;
    std::exception_ptr error;  // the commit failed: nothing of the batch was written
    asio::steady_timer signal;
};

scheduler::scheduler(asio::any_io_executor io, scheduler_deps deps, scheduler_options options)
    : strand_(asio::make_strand(io)),
      deps_(std::move(deps)),
      options_(std::move(options)),
      wake_timer_(strand_),
      rescue_timer_(strand_),
      idle_timer_(strand_),
      lease_timer_(strand_),
      photo_bytes_(std::make_shared<byte_budget>(options_.max_photo_bytes)),
      near_duplicate_metrics_(deps_.metrics) {
    std::shared_ptr<market::comp_cache_backend> second_level;
    if (deps_.db != nullptr && deps_.store_pool != nullptr) {
        second_level = std::make_shared<store_comp_cache>(*deps_.db, *deps_.store_pool);
    }
    comps_ = std::make_shared<market::fan_out>(deps_.comp_sources, deps_.comps, *deps_.time,
                                               std::move(second_level), deps_.metrics);
    if (deps_.metrics != nullptr) {
        photo_bytes_held_ =
            &deps_.metrics
                 ->callback_gauge_family("boomer_pipeline_photo_bytes",
                                         "Photo bytes held by items calling the vision model, "
                                         "against --max-in-flight-mb.",
                                         {})
                 .with({});
        photo_bytes_waiters_ =
            &deps_.metrics
                 ->callback_gauge_family("boomer_pipeline_photo_bytes_waiting",
                                         "Items waiting for their photos' share of "
                                         "--max-in-flight-mb.",
                                         {})
                 .with({});
        photo_bytes_held_->set_callback(
            [budget = photo_bytes_] { return static_cast<double>(budget->held()); });
        photo_bytes_waiters_->set_callback(
            [budget = photo_bytes_] { return static_cast<double>(budget->waiting()); });
    }
}

scheduler::~scheduler() {
    if (photo_bytes_held_ != nullptr) {
        photo_bytes_held_->clear_callback();
        photo_bytes_waiters_->clear_callback();
    }
}

void scheduler::spawn(asio::awaitable<void> work, std::string_view what) {
    asio::co_spawn(strand_, std::move(work),
                   [self = shared_from_this(), what = std::string(what)](std::exception_ptr e) {
                       if (!e) {
                           return;
                       }
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           self->deps_.observer->internal_error(what, ex.what());
                       }
                   });
}

void scheduler::start() {
    started_ = true;
    if (deps_.vision != nullptr) {
        deps_.vision->on_batch_ended([weak = weak_from_this()](const std::string& batch_id) {
            if (auto self = weak.lock()) {
                asio::post(self->strand_, [self, batch_id] {
                    self->spawn(self->batch_ended(batch_id), "wake_parked");
                });
            }
        });
    }
    if (deps_.vision != nullptr) {
        deps_.vision->on_resumed([weak = weak_from_this()] {
            if (auto self = weak.lock()) {
                asio::post(self->strand_, [self] {
                    self->resumed_at_ = std::chrono::steady_clock::now();
                    self->spawn(self->wake_deferred(), "wake_deferred");
                });
            }
        });
    }
    spawn(dispatch_loop(), "dispatch");
    spawn(rescue_loop(), "rescue");
}

void scheduler::wake() {
    asio::post(strand_, [self = shared_from_this()] {
        self->pending_wake_ = true;
        self->wake_timer_.cancel();
    });
}

void scheduler::canceled(std::string item_id) {
    asio::post(strand_, [self = shared_from_this(), id = std::move(item_id)] {
        for (const auto& ctx : self->active_) {
            if (ctx->job.item_id == id && !ctx->ending) {
                ctx->lose();
            }
        }
    });
}

asio::awaitable<void> scheduler::dispatch_loop() {
    while (!stopping_) {
        int free = std::min(options_.concurrency - running_.load(),
                            options_.max_in_flight - in_flight_.load());
        std::size_t got = 0;
        if (free > 0) {
            int want = std::min(free, options_.claim_batch);
            std::vector<store::claimed_job> jobs;
            std::int64_t claimed_at = 0;
            try {
                claimed_at = deps_.time->now_ms();
                auto claim = [db = deps_.db, id = &options_.worker_id, want,
                              lease = options_.lease_ms,
                              now = claimed_at] { return db->claim(*id, want, lease, now); };
                jobs = co_await run_on(*deps_.store_pool, claim);
            } catch (const store::store_error& e) {
                deps_.observer->internal_error("claim", e.what());
            }
            got = jobs.size();
            for (auto& job : jobs) {
                ++running_;
                ++in_flight_;
                spawn(run_job(std::move(job), claimed_at + options_.lease_ms), "job");
            }
            if (got == static_cast<std::size_t>(want)) {
                continue;  // there may be more waiting
            }
        }
        if (!pending_wake_) {
            wake_timer_.expires_after(std::chrono::milliseconds(options_.poll_ms));
            co_await wake_timer_.async_wait(wait);
        }
        pending_wake_ = false;
    }
    dispatch_done_ = true;
}

asio::awaitable<void> scheduler::rescue_loop() {
    // Jobs parked by an earlier run wait for batches nobody polls now: they run once, each
    // parking again on its batch (polled from then on) or collecting its answer.
    const std::string every_batch;
    co_await wake_parked(every_batch);
    auto watched_at = std::chrono::steady_clock::now();
    while (!stopping_) {
        if (deps_.vision != nullptr && std::chrono::steady_clock::now() - watched_at >=
                                           std::chrono::milliseconds(options_.watch_parked_ms)) {
            watched_at = std::chrono::steady_clock::now();
            co_await watch_parked();
        }
        try {
            auto rescue = [db = deps_.db, time = deps_.time] {
                return db->rescue_expired(time->now_ms());
            };
            auto outcome = co_await run_on(*deps_.store_pool, rescue);
            if (outcome.touched() > 0) {
                deps_.observer->rescued(outcome.touched());
            }
            // No worker reports these: the rescue ended them.
            for (const auto& given_up : outcome.failed) {
                deps_.observer->job_finished(given_up.job, store::job_state::failed,
                                             "lease_expired", given_up.error_message);
            }
            if (outcome.requeued > 0) {
                wake();
            }
        } catch (const store::store_error& e) {
            deps_.observer->internal_error("rescue", e.what());
        }
        try {
            // Expired second-level cache entries are invisible already; this reclaims the space.
            auto purge = [db = deps_.db, time = deps_.time] {
                return db->cache_purge_expired(time->now_ms());
            };
            co_await run_on(*deps_.store_pool, purge);
        } catch (const store::store_error& e) {
            deps_.observer->internal_error("cache_purge", e.what());
        }
        rescue_timer_.expires_after(std::chrono::milliseconds(options_.rescue_every_ms));
        co_await rescue_timer_.async_wait(wait);
    }
    rescue_done_ = true;
}

asio::awaitable<void> scheduler::run_job(store::claimed_job job, std::int64_t lease_until_ms) {
    auto ctx = std::make_shared<job_context>(std::move(job));
    ctx->shared->lease_until_ms.store(lease_until_ms);
    active_.push_back(ctx);
    if (!leasing_) {
        leasing_ = true;
        spawn(lease_loop(), "heartbeat");
    }

    // co_await is not allowed in a handler, so the failure is caught first and handled after.
    std::optional<failure> crashed;
    try {
        co_await execute(ctx);
    } catch (const store::store_error& e) {
        bool retryable = e.kind() == store::error_kind::retryable;
        deps_.observer->internal_error("job", e.what());
        crashed = failure{retryable ? "store_unavailable" : "internal_error",
                          "the item could not be saved; it will be tried again", retryable};
    } catch (const std::exception& e) {
        deps_.observer->internal_error("job", e.what());
        crashed = failure{"internal_error", "an internal error stopped this item", false};
    }
    if (crashed && !ctx->lost) {
        try {
            if (crashed->retryable) {
                co_await retry_later(ctx, *crashed);
            } else {
                co_await finish(ctx, store::job_state::failed, crashed->code, crashed->message);
            }
        } catch (const std::exception& e) {
            // The lease runs out and the rescue loop takes the job back.
            deps_.observer->internal_error("job_finish", e.what());
        }
    }

    ctx->finished = true;
    std::erase(active_, ctx);
    --running_;
    --in_flight_;
    if (active_.empty() && stopping_) {
        idle_timer_.cancel();
    }
    wake();
}

// lease_loop extends the leases of every running job with one batched store call per tick, on
// the scheduler's own lease thread: heartbeats never queue behind the store pool's work, however
// many jobs run. A job whose lease was lost is marked so and writes nothing more. Ends when no
// job is left (run_job starts it again).
asio::awaitable<void> scheduler::lease_loop() {
    while (!active_.empty() && !leases_released_) {
        lease_timer_.expires_after(std::chrono::milliseconds(options_.heartbeat_ms));
        co_await lease_timer_.async_wait(wait);
        if (leases_released_) {
            break;
        }
        std::vector<std::shared_ptr<job_context>> beating;
        std::vector<store::lease_ref> leases;
        for (const auto& ctx : active_) {
            if (!ctx->finished && !ctx->lost) {
                beating.push_back(ctx);
                leases.push_back({ctx->job.job_id, ctx->job.fence});
            }
        }
        if (leases.empty()) {
            continue;
        }
        std::vector<bool> held;
        const auto until = deps_.time->now_ms() + options_.lease_ms;
        try {
            auto beat = [db = deps_.db, &leases, until] {
                return db->heartbeat_many(leases, until);
            };
            held = co_await run_on(lease_pool_, beat);
        } catch (const store::store_error& e) {
            deps_.observer->internal_error("heartbeat", e.what());  // try again next tick
            continue;
        }
        for (std::size_t i = 0; i < beating.size() && i < held.size(); ++i) {
            // A job whose final write ran meanwhile gave its lease up itself; not a loss.
            const auto& ctx = beating[i];
            if (held[i]) {
                ctx->shared->lease_until_ms.store(until);
            }
            if (!held[i] && !ctx->ending && !ctx->finished && !ctx->lost) {
                ctx->lose();
                deps_.observer->lease_lost(ctx->job);
            }
        }
    }
    leasing_ = false;
}

asio::awaitable<void> scheduler::execute(const std::shared_ptr<job_context>& ctx) {
    const auto& job = ctx->job;
    auto* db = deps_.db;
    auto find = [db, &job] { return db->find_item(job.tenant_id, job.item_id); };
    auto item = co_await run_on(*deps_.store_pool, find);
    if (!item) {
        co_await finish(ctx, store::job_state::failed, "item_missing", "the item no longer exists");
        co_return;
    }
    auto load = [db, &job] { return db->checkpoints(job.job_id); };
    auto saved = co_await run_on(*deps_.store_pool, load);
    std::map<std::string, json::value, std::less<>> done;
    for (const auto& c : saved) {
        done[c.stage] = json::parse(c.output_json);
    }
    // The text is parsed: a resumed job (say, a bulk one waiting hours on its batch) keeps only
    // the parsed checkpoints.
    std::vector<store::checkpoint>().swap(saved);
    if (auto found = done.find("identify"); found != done.end() && refused_fixably(found->second)) {
        // Identified without the model, which refused for a reason the operator can end (the
        // item was retried for that): the model is asked again, and what followed is redone.
        bool redo = false;
        for (std::string_view stage : stage_names) {
            redo = redo || stage == "identify";
            if (auto it = done.find(stage); redo && it != done.end()) {
                done.erase(it);
            }
        }
    }

    // Held while this item leads a near-duplicate flight; released (waking the copies that wait)
    // once its identification is recorded and offered, or when this frame ends.
    near_duplicate_flights::ticket flight;
    std::string parked_in;  // the batch the job waits in, when the identify stage parks it
    for (std::string_view stage : stage_names) {
        if (!done.contains(stage)) {
            if (ctx->lost) {
                co_return;
            }
            if (stopping_) {
                co_await release(ctx);
                co_return;
            }
            auto mark = [db, &job, stage] { return db->set_stage(job.job_id, job.fence, stage); };
            bool held = co_await run_on(*deps_.store_pool, mark);
            if (!held) {
                ctx->lose();
                co_return;
            }

            // The stage itself, on the CPU pool; `item` and `done` stay alive in this frame.
            auto started = std::chrono::steady_clock::now();
            // (an item allowed one attempt only has no failed lines to make up for)
            const bool last = job.attempts >= job.max_attempts && job.attempts > 1;
            auto out = co_await run_stage_async(stage, *item, done, flight, parked_in, last,
                                                ctx->wanted(*deps_.time));
            auto elapsed = std::chrono::steady_clock::now() - started;
            double seconds = std::chrono::duration<double>(elapsed).count();
            if (!parked_in.empty()) {
                co_await park(ctx, parked_in, flight, started);  // not finished: goes on later
                co_return;
            }
            deps_.observer->stage_finished(stage, seconds, out.has_value());
            if (!out) {
                flight.release();  // the copies waiting identify themselves
                if (out.error().retryable) {
                    co_await retry_later(ctx, out.error());
                } else {
                    co_await finish(ctx, store::job_state::failed, out.error().code,
                                    out.error().message);
                }
                co_return;
            }

            store::checkpoint c{std::string(stage), json::serialize(*out),
                                static_cast<std::int64_t>(seconds * 1000), deps_.time->now_ms()};
            auto save = [db, &job, &c] { return db->save_checkpoint(job.job_id, job.fence, c); };
            held = co_await run_on(*deps_.store_pool, save);
            if (!held) {
                ctx->lose();
                co_return;
            }
            done[std::string(stage)] = std::move(*out);
            co_await index_photos(ctx, stage, done);
            flight.release();
        }
        if (stage == "identify" && !identified(done.at("identify"))) {
            co_await finish(ctx, store::job_state::needs_review, "not_identified",
                            "nothing in the photos or hints identifies this item; submit it again "
                            "with a title_hint or a photo of its barcode or label");
            co_return;
        }
    }

    if (!priced(done.at("price"))) {
        co_await finish(ctx, store::job_state::needs_review, "no_price",
                        "no comparable sales were found; set a price before listing");
        co_return;
    }
    co_await finish(ctx, store::job_state::succeeded, "", "");
}

asio::awaitable<void> scheduler::finish(const std::shared_ptr<job_context>& ctx,
                                        store::job_state state, std::string_view code,
                                        std::string_view message) {
    if (ctx->lost) {
        co_return;
    }
    ctx->ending = true;
    auto document = [db = deps_.db, &job = ctx->job, state, &code, &message] {
        auto item = db->find_item(job.tenant_id, job.item_id);
        json::object doc;
        if (item) {
            item->state = state;
            doc = item_document(*item, db->checkpoints(job.job_id));
        }
        if (!code.empty()) {
            doc["error"] = json::object{{"code", code}, {"message", message}};
        }
        return json::serialize(doc);
    };
    auto result_json = co_await run_on(*deps_.store_pool, document);
    store::completion work{ctx->job.job_id,        ctx->job.fence,    state,
                           std::move(result_json), std::string(code), std::string(message)};
    auto entry = std::make_shared<pending_completion>(std::move(work), strand_);
    bool held = co_await commit(entry);
    if (!held) {
        ctx->lose();
        deps_.observer->lease_lost(ctx->job);
        co_return;
    }
    deps_.observer->job_finished(ctx->job, state, code, message);
}

asio::awaitable<bool> scheduler::commit(const std::shared_ptr<pending_completion>& entry) {
    completions_.push_back(entry);
    if (!committing_) {
        committing_ = true;
        spawn(commit_loop(), "commit");
    }
    while (!entry->done) {
        entry->signal.expires_at(asio::steady_timer::time_point::max());
        co_await entry->signal.async_wait(wait);
    }
    if (entry->error) {
        std::rethrow_exception(entry->error);
    }
    co_return entry->held;
}

// commit_loop writes the waiting completions in one transaction, then the ones that arrived
// meanwhile, until none wait; each waiter learns its own outcome.
asio::awaitable<void> scheduler::commit_loop() {
    while (!completions_.empty()) {
        std::vector<std::shared_ptr<pending_completion>> batch;
        batch.swap(completions_);
        std::vector<store::completion> works;
        for (auto& entry : batch) {
            works.push_back(std::move(entry->work));
        }

        std::vector<bool> held;
        std::exception_ptr error;
        try {
            auto write = [db = deps_.db, time = deps_.time, &works] {
                return db->complete_many(works, time->now_ms());
            };
            held = co_await run_on(*deps_.store_pool, write);
        } catch (...) {
            error = std::current_exception();
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            batch[i]->held = !error && i < held.size() && held[i];
            batch[i]->error = error;
            batch[i]->done = true;
            batch[i]->signal.cancel();
        }
    }
    committing_ = false;
}

asio::awaitable<result<json::value>> scheduler::run_stage_async(
    std::string_view stage, const store::item_record& item,
    const std::map<std::string, json::value, std::less<>>& done,
    near_duplicate_flights::ticket& flight, std::string& parked_in, bool last_attempt,
    std::function<bool()> wanted) {
    if (stage == "identify" && deps_.vision != nullptr) {
        co_return co_await identify_with_vision(item, done, flight, parked_in, last_attempt,
                                                std::move(wanted));
    }
    if (stage == "comps") {
        co_return co_await find_comps(item, done);
    }
    auto work = [&item, &done, &env = deps_.env, stage] {
        return run_stage(stage, item, done, env);
    };
    co_return co_await run_on(*deps_.cpu_pool, work);
}

// identify_with_vision asks the vision model unless a barcode already matched one of the
// seller's sales (then the paid call would add nothing) or an earlier item with the same photos
// lends its identification (near_duplicate.hpp). A permanent vision failure falls back to
// the local identification, noted on the result; a retryable one retries the item. A refusal
// the operator can end (fixable_refusal) fails an item that nothing else identifies, with no
// identification kept: POST /retry then asks again, where a review would have been final; an
// item its hint identifies goes on with the refusal noted, and a retry of it asks again too
// (execute drops that identification).
asio::awaitable<result<json::value>> scheduler::identify_with_vision(
    const store::item_record& item, const std::map<std::string, json::value, std::less<>>& done,
    near_duplicate_flights::ticket& flight, std::string& parked_in, bool last_attempt,
    std::function<bool()> wanted) {
    auto local = run_identify_local(item, done.at("analyze"), deps_.env);
    if (local.at("source") == "sales_match") {
        co_return local;
    }

    identify_request request;
    request.item_id = item.item_id;
    request.title_hint = item.title_hint;
    request.condition_hint = item.condition;
    request.bulk = item.prio == store::priority::bulk;
    request.may_park = request.bulk;
    request.last_attempt = last_attempt;
    request.wanted = std::move(wanted);
    for (const auto& code : local.at("barcodes").as_array()) {
        request.barcodes.push_back(std::string(code.at("symbology").as_string()) + ":" +
                                   std::string(code.at("text").as_string()));
    }

    // What the request asks besides the photos' bytes (their number counts): an earlier item
    // lends its answer only if it asked the same.
    request.jpeg_images.assign(done.at("normalize").at("images").as_array().size(), "");
    const std::string context =
        deps_.vision_context ? deps_.vision_context(request) : request_texts_context(request);
    if (deps_.near_duplicates.max_distance > 0) {
        auto reused = co_await reuse_near_duplicate(item, done, local, context, flight);
        if (!reused.is_null()) {
            co_return reused;
        }
    }

    const bool batch = request.bulk && deps_.vision->defers_bulk();
    parked_slot slot(running_, in_flight_,
                     batch ? parked_slot::kind::batch : parked_slot::kind::upstream);
    wake();  // a slot is free: claim other work meanwhile

    // The normalized photos, from the blob store, once their bytes fit in the budget; their
    // share returns when the model drops them (after a synchronous call, or once the batch of a
    // bulk call is made), and the model may load them again, with a new share.
    auto images = photo_refs_of(done.at("normalize").at("images").as_array());
    auto loading = load_photos(photo_bytes_, deps_.env.blobs, deps_.store_pool, images);
    auto loaded = co_await std::move(loading);
    if (!loaded) {
        co_return make_unexpected(std::move(loaded.error()));
    }
    request.jpeg_images = std::move(loaded->jpeg_images);
    request.hold = std::move(loaded->hold);
    request.reload_photos = [budget = photo_bytes_, blobs = deps_.env.blobs,
                             pool = deps_.store_pool, images = std::move(images)] {
        return load_photos(budget, blobs, pool, images);
    };
    // Moved: a bulk call may wait hours for its batch, and a copy here would hold the photos
    // meanwhile. For the same reason the local identification is dropped for the wait and made
    // again after it (it depends only on the item and its analysis).
    local = nullptr;
    auto answer = co_await deps_.vision->identify(std::move(request));
    slot.take_back();
    local = run_identify_local(item, done.at("analyze"), deps_.env);
    if (!answer) {
        if (answer.error().retryable) {
            co_return make_unexpected(answer.error());
        }
        auto refused = answer.error();
        if (fixable_refusal(refused.code)) {
            refused.message += " Once that is fixed, POST /v1/items/" + item.item_id +
                               "/retry identifies the item again.";
            if (!identified(local)) {
                co_return make_unexpected(std::move(refused));
            }
        }
        local.as_object()["vision_error"] =
            json::object{{"code", refused.code}, {"message", refused.message}};
        co_return local;
    }
    const auto& id = *answer;
    if (!id.parked_in.empty()) {
        parked_in = id.parked_in;
        co_return fail("vision_batch_parked", "the item waits in message batch " + parked_in, true);
    }
    json::object out{{"identified", !id.title.empty()},
                     {"title", id.title},
                     {"brand", id.brand},
                     {"model", id.model},
                     {"category", id.category},
                     {"condition_guess", id.condition_guess},
                     {"search_query", id.search_query.empty() ? id.title : id.search_query},
                     {"confidence", id.confidence},
                     {"source", id.source},
                     {"escalated", id.escalated},
                     {"cost_micros", id.cost_micros},
                     {"barcodes", local.at("barcodes")},
                     {request_context_field, context}};
    for (auto& [field, value] : vision_details(id)) {
        out[field] = std::move(value);
    }
    co_return json::value(std::move(out));
}

asio::awaitable<json::value> scheduler::reuse_near_duplicate(
    const store::item_record& item, const std::map<std::string, json::value, std::less<>>& done,
    const json::value& local, const std::string& context, near_duplicate_flights::ticket& flight) {
    // A copy being identified now is waited for first; this item then leads a flight of its own
    // while it looks up the store (an item offered before its flight ended is found there).
    const auto subject = reuse_subject_of(item, done.at("normalize"), local, context);
    const bool waited = co_await join_near_duplicate_flight(item, subject, local, flight);
    near_duplicate_lookup found;
    try {
        auto lookup = [db = deps_.db, &item, &subject, &local, &opt = deps_.near_duplicates,
                       now = deps_.time->now_ms()] {
            return lookup_near_duplicate(*db, item, subject, local, opt, now);
        };
        found = co_await run_on(*deps_.store_pool, lookup);
    } catch (const store::store_error& e) {
        deps_.observer->internal_error("near_duplicate_lookup", e.what());
        found.decision.outcome = reuse_outcomes::store_error;
    }
    const bool reused = found.decision.outcome == reuse_outcomes::reused;
    near_duplicate_metrics_.count(found.decision.outcome);
    if (waited) {
        near_duplicate_metrics_.count_wait(reused ? wait_outcomes::joined
                                                  : wait_outcomes::fell_back);
    }
    if (reused) {
        flight.release();  // nothing to wait for: copies find the same item in the store
    }
    co_return std::move(found.identification);
}

asio::awaitable<bool> scheduler::join_near_duplicate_flight(
    const store::item_record& item, const std::optional<reuse_subject>& subject,
    const json::value& local, near_duplicate_flights::ticket& flight) {
    if (!subject || subject->unsure) {
        co_return false;  // unhashed or unsure: the lookup says so; nothing to wait for or lead
    }
    if (auto parked = parked_flights_.find(item.item_id); parked != parked_flights_.end()) {
        // Parked while leading: the copies still wait for this item's answer.
        flight = std::move(parked->second.first);
        parked_flights_.erase(parked);
        co_return false;
    }
    const bool deferred = item.prio == store::priority::bulk && deps_.vision->defers_bulk();
    near_duplicate_flights::subject_item me{item.tenant_id, item.item_id, *subject,
                                            local.at("barcodes"), deferred};
    auto entry = near_duplicate_flights_.enter(me, deps_.near_duplicates, true);
    const bool waits = entry.joined != nullptr;
    if (waits) {
        parked_slot slot(
            running_, in_flight_,
            entry.joined->deferred ? parked_slot::kind::batch : parked_slot::kind::upstream);
        wake();  // a slot is free: claim other work meanwhile
        near_duplicate_metrics_.waiting(1);
        try {
            co_await near_duplicate_flights_.wait(entry.joined);
        } catch (...) {
            near_duplicate_metrics_.waiting(-1);
            throw;
        }
        near_duplicate_metrics_.waiting(-1);
        slot.take_back();
        entry = near_duplicate_flights_.enter(std::move(me), deps_.near_duplicates, false);
    }
    flight = std::move(entry.lead);
    co_return waits;
}

asio::awaitable<void> scheduler::index_photos(
    const std::shared_ptr<job_context>& ctx, std::string_view stage,
    const std::map<std::string, json::value, std::less<>>& done) {
    const bool offer = stage == "identify" && offers_for_reuse(done.at("identify")) &&
                       !has_unsure_photo(done.at("normalize"));
    if (stage != "normalize" && !offer) {
        co_return;
    }
    auto hashes = photo_hashes(done.at("normalize"));
    if (!hashes) {
        co_return;
    }
    try {
        auto record = [db = deps_.db, &job = ctx->job, &hashes, offer] {
            return db->record_photo_hashes(job.job_id, job.fence, *hashes, offer);
        };
        const bool held = co_await run_on(*deps_.store_pool, record);
        if (!held) {
            ctx->lose();
        }
    } catch (const store::store_error& e) {
        deps_.observer->internal_error("index_photos", e.what());
    }
}

// find_comps asks every market source at once (see market::fan_out); a source's failure is an
// outcome in the document, never the stage's failure.
asio::awaitable<result<json::value>> scheduler::find_comps(
    const store::item_record& item, const std::map<std::string, json::value, std::less<>>& done) {
    auto query = comps_query(item, done.at("identify"));
    parked_slot slot(running_, in_flight_, parked_slot::kind::upstream);
    wake();  // a slot is free: claim other work meanwhile
    auto found = co_await comps_->search(query);
    slot.take_back();
    co_return comps_document(query, found);
}

std::int64_t scheduler::spread_ms(std::int64_t most) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return most <= 0 ? 0 : std::uniform_int_distribution<std::int64_t>(0, most)(rng);
}

std::int64_t scheduler::backoff_ms(int attempts) {
    // Full jitter: uniform in [0, min(max, base * 2^(attempts-1))].
    thread_local std::mt19937_64 rng{std::random_device{}()};
    int shift = std::clamp(attempts - 1, 0, 30);
    std::int64_t cap = std::min(options_.retry_max_ms, options_.retry_base_ms << shift);
    return std::uniform_int_distribution<std::int64_t>(0, cap)(rng);
}

asio::awaitable<void> scheduler::retry_later(const std::shared_ptr<job_context>& ctx,
                                             const failure& why) {
    if (ctx->lost) {
        co_return;
    }
    ctx->ending = true;
    // Never sooner than the upstream asked: its retry-after counts from its answer, just now.
    std::int64_t delay = std::max(backoff_ms(ctx->job.attempts), why.retry_after_ms);
    if (why.retry_after_ms > 0 && delay == why.retry_after_ms) {
        // Items turned away by one pause or one retry-after would all come back at its end
        // together: each adds up to a tenth of the wait (at most 5 s), never less than asked.
        delay += spread_ms(std::min<std::int64_t>(delay / 10, 5'000));
    }
    // Work refused before it reached the upstream (an open breaker) gives its attempt back: an
    // outage longer than a few pauses must not fail every waiting item for good.
    const bool spent = why.counts_as_attempt;
    auto requeue = [db = deps_.db, time = deps_.time, &job = ctx->job, &why, delay, spent] {
        auto now = time->now_ms();
        if (!spent) {
            return db->defer(job.job_id, job.fence, why.code, why.message, now + delay);
        }
        return db->retry_later(job.job_id, job.fence, why.code, why.message, now + delay, now);
    };
    bool held = co_await run_on(*deps_.store_pool, requeue);
    if (!held) {
        ctx->lose();
        co_return;
    }
    if (!spent && why.code == paused_call_code && resumed_at_ >= ctx->began) {
        // Calls resumed since this run began: the wake-up may have come before this deferral
        // was written, and this job would wait out a pause that is over.
        co_await wake_deferred();
    }
    if (spent && ctx->job.attempts >= ctx->job.max_attempts) {
        deps_.observer->job_finished(ctx->job, store::job_state::failed, why.code, why.message);
    } else {
        deps_.observer->job_retry(ctx->job, why.code, why.message, delay, spent);
    }
}

asio::awaitable<void> scheduler::park(const std::shared_ptr<job_context>& ctx,
                                      const std::string& waits_for,
                                      near_duplicate_flights::ticket& flight,
                                      std::chrono::steady_clock::time_point since) {
    if (ctx->lost) {
        co_return;
    }
    ctx->ending = true;
    auto hand_back = [db = deps_.db, time = deps_.time, &job = ctx->job, &waits_for,
                      recheck = options_.park_recheck_ms] {
        return db->park(job.job_id, job.fence, waits_for, time->now_ms() + recheck);
    };
    const bool held = co_await run_on(*deps_.store_pool, hand_back);
    ctx->lose();  // parked or not, this run writes nothing more
    if (!held) {
        co_return;
    }
    deps_.observer->job_parked(ctx->job, waits_for);
    const auto now = deps_.time->now_ms();
    std::erase_if(parked_flights_, [now, keep = 2 * options_.park_recheck_ms](const auto& entry) {
        return entry.second.second + keep < now;  // the leader never came back
    });
    if (flight.held()) {
        parked_flights_[ctx->job.item_id] = {std::move(flight), now};
    }
    // Its batch may have ended while the job was being parked: the wake-up went by.
    const bool went_by = std::any_of(ended_batches_.begin(), ended_batches_.end(),
                                     [&waits_for, since](const auto& ended) {
                                         return ended.first == waits_for && ended.second >= since;
                                     });
    if (went_by) {
        co_await wake_parked(waits_for);
    }
}

asio::awaitable<void> scheduler::batch_ended(std::string batch_id) {
    constexpr std::size_t remembered = 256;
    if (ended_batches_.size() >= remembered) {
        ended_batches_.erase(ended_batches_.begin());
    }
    ended_batches_.emplace_back(batch_id, std::chrono::steady_clock::now());
    co_await wake_parked(batch_id);
}

asio::awaitable<void> scheduler::wake_deferred() {
    try {
        auto wake_them = [db = deps_.db, time = deps_.time] {
            return db->wake_deferred(paused_call_code, time->now_ms());
        };
        if (co_await run_on(*deps_.store_pool, wake_them) > 0) {
            wake();
        }
    } catch (const store::store_error& e) {
        deps_.observer->internal_error("wake_deferred", e.what());
    }
}

asio::awaitable<void> scheduler::watch_parked() {
    constexpr std::size_t most = 1'000;
    try {
        auto list = [db = deps_.db] { return db->parked_on(most); };
        const auto batches = co_await run_on(*deps_.store_pool, list);
        for (const auto& id : batches) {
            deps_.vision->watch_batch(id);
        }
    } catch (const store::store_error& e) {
        deps_.observer->internal_error("parked_on", e.what());
    }
}

asio::awaitable<void> scheduler::wake_parked(const std::string& waits_for) {
    try {
        auto wake_them = [db = deps_.db, time = deps_.time, &waits_for] {
            return db->wake_parked(waits_for, time->now_ms());
        };
        const int woken = co_await run_on(*deps_.store_pool, wake_them);
        if (woken > 0) {
            wake();
        }
    } catch (const store::store_error& e) {
        deps_.observer->internal_error("wake_parked", e.what());
    }
}

asio::awaitable<void> scheduler::release(const std::shared_ptr<job_context>& ctx) {
    if (ctx->lost) {
        co_return;
    }
    ctx->ending = true;
    ctx->lose();  // after a release nothing more is written, whatever it returns
    auto hand_back = [db = deps_.db, time = deps_.time, &job = ctx->job] {
        return db->release(job.job_id, job.fence, time->now_ms());
    };
    co_await run_on(*deps_.store_pool, hand_back);
}

void scheduler::shutdown(std::chrono::milliseconds drain_time, std::function<void()> done) {
    spawn(drain(drain_time, std::move(done)), "shutdown");
}

asio::awaitable<void> scheduler::drain(std::chrono::milliseconds drain_time,
                                       std::function<void()> done) {
    stopping_ = true;
    wake_timer_.cancel();
    rescue_timer_.cancel();

    // Running stages get until the deadline to finish; jobs release themselves at their next
    // stage boundary. A vision call not sent yet is not, unless answered within the drain.
    auto deadline = std::chrono::steady_clock::now() + drain_time;
    if (deps_.vision != nullptr) {
        deps_.vision->stop_calls_by(deps_.time->now_ms() + drain_time.count());
    }
    while (!active_.empty() && std::chrono::steady_clock::now() < deadline) {
        idle_timer_.expires_at(std::min(deadline, std::chrono::steady_clock::now() + 50ms));
        co_await idle_timer_.async_wait(wait);
    }

    // Whatever still runs is handed back now; its late writes will be refused by the fence.
    auto still = active_;
    for (auto& ctx : still) {
        try {
            co_await release(ctx);
        } catch (const std::exception& e) {
            deps_.observer->internal_error("release", e.what());
        }
    }
    leases_released_ = true;
    lease_timer_.cancel();
    while (started_ && (!dispatch_done_ || !rescue_done_ || leasing_)) {
        idle_timer_.expires_after(10ms);
        co_await idle_timer_.async_wait(wait);
    }
    done();
}

}  // namespace boomer::pipeline
