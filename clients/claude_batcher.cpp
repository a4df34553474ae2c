// The batcher's state (the open collection window and the batches being polled, each call
// waiting on a channel of its own) and its background work: submit, record, poll, distribute.
#include "clients/claude_batcher.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <limits>
#include <set>

#include "clients/claude_answers.hpp"
#include "clients/claude_vision.hpp"
#include "core/clock.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;
using channel =
    asio::experimental::concurrent_channel<void(boost::system::error_code, batch_reply)>;

// A call waiting for its line.
struct waiter {
    std::shared_ptr<channel> answer;
    std::string item_id;
    bool park = false;             // answered `parked` once its call sits in a made batch
    std::function<bool()> wanted;  // batch_call::wanted
};

// One custom_id of a batch and the calls waiting for it.
struct slot {
    std::string key;
    std::string params;          // the Messages body, until the batch that holds it is made
    std::shared_ptr<void> hold;  // the caller's budget share for params, dropped with them
    std::string payer;           // item id of the first call, who pays
    std::vector<waiter> waiters;
    std::vector<std::string> parked;  // items whose calls parked: their outcomes are kept
};
using slots = std::map<std::string, slot>;  // by custom_id

// A search for the batches that intents of one submission time may have created: the calls
// waiting for its outcome, and once done, which custom_ids had a line in which batch.
struct recovery {
    slots waiting;
    bool done = false;
    std::map<std::string, std::string> found;  // custom_id → batch id, once done
};

// What a create request came to: the batch, a refusal (no batch was made), or no answer (a
// batch may or may not exist).
struct create_outcome {
    std::optional<message_batch> batch;
    std::optional<failure> refused;
    std::optional<failure> unknown;
};

// What one look at a batch's status came to: the batch, or why not.
struct status_answer {
    std::optional<message_batch> batch;
    std::optional<failure> fatal;  // gone (404) or refused: polling ends
    std::optional<milliseconds> retry_after;
    bool limited = false;      // a 429: wait its retry-after; not a failed poll
    bool unlisted = false;     // a list round did not show it: ask for it alone
    milliseconds gathered{0};  // spent waiting for the list round to start
};
using status_channel =
    asio::experimental::concurrent_channel<void(boost::system::error_code, status_answer)>;

// A poll waiting for the next list round.
struct status_ask {
    std::string id;
    std::int64_t created_ms = 0;
    std::shared_ptr<status_channel> out;
};

// How far before an intent's time a batch may carry a created_at (clocks differ), and how many
// pages of batches a search reads at most.
constexpr std::int64_t clock_skew_ms = 5 * 60 * 1000;
constexpr int max_list_pages = 50;
constexpr std::size_t kept_recoveries = 64;
// How long a list round waits for more polls to join it (at most poll_max).
constexpr milliseconds max_list_gather{5'000};
// How long the outcome of a parked call is kept for the call made again.
constexpr std::int64_t parked_outcome_ms = 60 * 60 * 1000;
// How long a batch a watch saw ended is remembered (see impl::seen_ended).
constexpr std::int64_t seen_ended_ms = 10 * 60 * 1000;

// park answers `w` that its call waits in batch `id`, and keeps its item for the outcome.
void park(slot& s, const waiter& w, const std::string& id) {
    batch_reply reply;
    reply.parked = true;
    reply.batch_id = id;
    w.answer->try_send(boost::system::error_code{}, std::move(reply));
    // An item asking again while its batch runs (a recheck, a restart) is kept once.
    if (std::find(s.parked.begin(), s.parked.end(), w.item_id) == s.parked.end()) {
        s.parked.push_back(w.item_id);
    }
}

// add_waiter makes `w` wait on `s` of the made batch `id`, or parks it.
void add_waiter(slot& s, const waiter& w, const std::string& id) {
    if (w.park) {
        park(s, w, id);
    } else {
        s.waiters.push_back(w);
    }
}

void answer_all(const slots& batch, const failure& why, const std::string& batch_id) {
    for (const auto& [id, s] : batch) {
        for (const auto& w : s.waiters) {
            batch_reply reply;
            reply.error = why;
            reply.batch_id = batch_id;
            w.answer->try_send(boost::system::error_code{}, std::move(reply));
        }
    }
}

// drop_unwanted answers the calls of a closed window whose items gave them up meanwhile
// (batch_call::wanted) and takes out the lines no call waits for any more, so that they are not
// submitted; a line another item still waits for stays, paid by one of those.
void drop_unwanted(slots& batch) {
    for (auto it = batch.begin(); it != batch.end();) {
        auto& s = it->second;
        std::erase_if(s.waiters, [](const waiter& w) {
            if (!w.wanted || w.wanted()) {
                return false;
            }
            batch_reply reply;
            reply.error = failure{std::string(pipeline::abandoned_code),
                                  "The item gave its batch call up before the batch was made (it "
                                  "was canceled or its lease was lost).",
                                  true, 0};
            reply.error->counts_as_attempt = false;
            w.answer->try_send(boost::system::error_code{}, std::move(reply));
            return true;
        });
        if (s.waiters.empty() && s.parked.empty()) {
            it = batch.erase(it);
            continue;
        }
        const bool payer_waits =
            std::any_of(s.waiters.begin(), s.waiters.end(),
                        [&s](const waiter& w) { return w.item_id == s.payer; });
        if (!payer_waits && !s.waiters.empty()) {
            s.payer = s.waiters.front().item_id;
        }
        ++it;
    }
}

// The reply to `w` from the line for its slot (none: the results had no such line).
batch_reply reply_from(const batch_result* line, const slot& s, const waiter& w,
                       const std::string& batch_id) {
    batch_reply out;
    out.batch_id = batch_id;
    if (line == nullptr) {
        out.error =
            failure{"vision_batch_missing",
                    "The batch " + batch_id + " ended without a result for this item.", true};
    } else if (line->type == "succeeded" && line->reply) {
        out.reply = line->reply;
        out.paid_by_caller = w.item_id == s.payer;
        out.payer = s.payer;
        out.body = line->message_json;
    } else if (line->type == "errored" && line->error) {
        out.error = classify_error(*line->error, response_meta{});
        out.error->message = "In batch " + batch_id + ": " + out.error->message;
    } else if (line->type == "expired") {
        out.error =
            failure{"vision_batch_expired",
                    "The batch " + batch_id + " expired before this item was answered.", true};
    } else {
        out.error =
            failure{"vision_batch_canceled",
                    "The batch " + batch_id + " was canceled before this item was answered.", true};
    }
    return out;
}

// create_body writes the create request's body, sized up front: it may hold the photos of a
// thousand calls.
std::string create_body(const slots& batch) {
    constexpr std::string_view head = R"({"requests":[)";
    constexpr std::string_view id_open = R"({"custom_id":")";
    constexpr std::string_view params_open = R"(","params":)";
    std::size_t size = head.size() + 2;
    for (const auto& [custom_id, s] : batch) {
        size += 1 + id_open.size() + custom_id.size() + params_open.size() + s.params.size() + 1;
    }
    std::string body;
    body.reserve(size);
    body += head;
    bool first = true;
    for (const auto& [custom_id, s] : batch) {
        if (!first) {
            body += ',';
        }
        body += id_open;
        body += custom_id;
        body += params_open;
        body += s.params;
        body += '}';
        first = false;
    }
    body += "]}";
    return body;
}

}  // namespace

struct claude_batcher::impl : std::enable_shared_from_this<impl> {
    claude_options options;
    asio::any_io_executor executor;
    https_client http;
    std::string base;

    std::mutex mutex;
    slots pending;                                // the open window; guarded by mutex
    std::size_t pending_bytes = 0;                // its requests' bytes; guarded by mutex
    std::uint64_t window = 0;                     // its number; guarded by mutex
    bool window_open = false;                     // guarded by mutex
    std::map<std::string, slots> running;         // by batch id; guarded by mutex
    std::map<std::string, std::string> batch_of;  // custom_id → batch id; guarded by mutex
    // Searches for the batches of intents, by the intents' submission time; guarded by mutex.
    std::map<std::int64_t, recovery> recoveries;
    // Polls share list calls while several batches are watched (see status_of); guarded by mutex.
    std::size_t watching = 0;       // batches being polled
    std::vector<status_ask> asked;  // polls waiting for the next list round
    bool listing = false;           // a list round is gathering or running
    // Outcomes of parked calls, by custom_id and item, with the time they were kept (see
    // on_parked_ended); guarded by mutex.
    std::map<std::pair<std::string, std::string>, std::pair<batch_reply, std::int64_t>> outcomes;
    std::function<void(const std::string&)> parked_ended;    // guarded by mutex
    std::function<void(const messages_reply&)> line_billed;  // guarded by mutex
    // Batches watched for jobs parked elsewhere (see watch): their end is told even with no
    // parked call of this process in them; guarded by mutex.
    std::set<std::string> watched;
    // Batches a watch saw ended, with when: a call joining one waits for its line instead of
    // parking on it again; guarded by mutex.
    std::map<std::string, std::int64_t> seen_ended;

    impl(const claude_options& o, asio::any_io_executor ex)
        : options(o), executor(ex), http(ex, o.http), base(o.base_url) {
        while (!base.empty() && base.back() == '/') {
            base.pop_back();
        }
    }

    // now_ms reads the options' clock (the system clock without one): records expire with the
    // answers.
    std::int64_t now_ms() const {
        return options.time != nullptr ? options.time->now_ms() : system_clock::instance().now_ms();
    }

    // spawn starts `work` later, never inline: callers hold the mutex, which `work` takes.
    // Failures are answered to the waiting calls inside; nothing escapes but cancellation.
    void spawn(asio::awaitable<void> work) {
        asio::post(executor, [ex = executor, work = std::move(work)]() mutable {
            asio::co_spawn(ex, std::move(work), [](std::exception_ptr) {});
        });
    }

    http_call make_call(std::string method, std::string url, std::string body) const {
        http_call call;
        call.method = std::move(method);
        call.url = std::move(url);
        call.timeout = options.attempt_timeout;
        call.headers = {{"x-api-key", options.api_key.reveal()},
                        {"anthropic-version", std::string(anthropic_version)}};
        if (!body.empty()) {
            call.headers.emplace_back("content-type", "application/json");
        }
        call.body = std::move(body);
        return call;
    }

    bool attach(const std::string& custom_id, const waiter& w);
    // Those taking a non-const call move its params and hold into a slot when they make one.
    void join(const batch_record& record, const batch_call& c, const waiter& w);
    void join_locked(const batch_record& record, const batch_call& c, const waiter& w);
    void enqueue(batch_call& c, const waiter& w);
    void enqueue_locked(batch_call& c, const waiter& w);
    slots take_pending_locked();
    void recover(const batch_record& intent, batch_call& c, const waiter& w);
    void resolve(slots waiting, const std::map<std::string, std::string>& found);
    slots take_running(const std::string& batch_id);
    // keep_outcomes keeps, for each parked item of `s`, the reply `reply_for` makes for it.
    void keep_outcomes(const std::string& custom_id, const slot& s,
                       const std::function<batch_reply(const waiter&)>& reply_for);
    std::optional<batch_reply> take_outcome(const std::string& custom_id,
                                            const std::string& item_id);
    // tell_parked tells the listener that batch `id` ended, when it held parked calls.
    void tell_parked(const std::string& id, bool any);
    // tell_billed tells the on_line_billed listener of a succeeded line.
    void tell_billed(const messages_reply& line);

    // Spawned: they own their arguments.
    static asio::awaitable<void> close_window(std::shared_ptr<impl> self, std::uint64_t number);
    static asio::awaitable<void> run_batch(std::shared_ptr<impl> self, slots batch);
    static asio::awaitable<void> run_poll(std::shared_ptr<impl> self, std::string batch_id);
    static asio::awaitable<void> run_recovery(std::shared_ptr<impl> self, std::int64_t since);
    static asio::awaitable<void> run_listing(std::shared_ptr<impl> self);
    static asio::awaitable<void> run_watch(std::shared_ptr<impl> self, std::string batch_id);

    // Awaited directly: the caller's frame keeps the referenced arguments alive, and no
    // temporary sits in a co_await expression (see core/async.hpp on GCC 12).
    using self_ref = const std::shared_ptr<impl>&;
    static asio::awaitable<void> submit(self_ref self, slots& batch);
    // created_ms: when the batch was made (0: unknown until a retrieve tells).
    static asio::awaitable<void> poll(self_ref self, const std::string& batch_id,
                                      std::int64_t created_ms);
    static asio::awaitable<result<message_batch>> wait_ended(self_ref self,
                                                             const std::string& batch_id,
                                                             std::int64_t created_ms);
    static asio::awaitable<status_answer> status_of(self_ref self, const std::string& batch_id,
                                                    std::int64_t created_ms);
    static asio::awaitable<status_answer> retrieve(self_ref self, const std::string& batch_id);
    static asio::awaitable<create_outcome> create(self_ref self, const http_call& call);
    static asio::awaitable<result<std::map<std::string, std::string>>> find_lines(
        self_ref self, std::int64_t since);
    static asio::awaitable<result<std::vector<std::string>>> batches_since(self_ref self,
                                                                           std::int64_t from_ms);
    static asio::awaitable<result<bool>> read_results(
        self_ref self, const std::string& batch_id, const std::string& results_url,
        const std::function<void(batch_result)>& on_line);
    static asio::awaitable<void> put_records(
        self_ref self, const std::vector<std::pair<std::string, std::string>>& records);
    static asio::awaitable<result<http_response>> send(self_ref self, const http_call& call);
    static asio::awaitable<void> distribute(self_ref self, const std::string& batch_id,
                                            const std::string& results_url);
    static asio::awaitable<void> fail_batch(self_ref self, const std::string& batch_id,
                                            const failure& why);
    static asio::awaitable<void> clear_records(self_ref self, const std::vector<std::string>& keys);
};

// attach adds `w` to a call with the same custom_id that is collecting or running.
bool claude_batcher::impl::attach(const std::string& custom_id, const waiter& w) {
    if (auto found = pending.find(custom_id); found != pending.end()) {
        found->second.waiters.push_back(w);
        return true;
    }
    if (auto found = batch_of.find(custom_id); found != batch_of.end()) {
        add_waiter(running[found->second][custom_id], w, found->second);
        return true;
    }
    return false;
}

// join waits on a recorded batch, polling it unless that already happens.
void claude_batcher::impl::join(const batch_record& record, const batch_call& c, const waiter& w) {
    std::lock_guard lock(mutex);
    join_locked(record, c, w);
}

void claude_batcher::impl::join_locked(const batch_record& record, const batch_call& c,
                                       const waiter& parking) {
    // A batch seen ended answers within a poll or two: parking on it would only wake again.
    waiter w = parking;
    w.park = w.park && !seen_ended.contains(record.batch_id);
    if (attach(record.custom_id, w)) {
        return;
    }
    bool polled = running.contains(record.batch_id);
    auto& s = running[record.batch_id][record.custom_id];
    s.key = c.key;
    s.payer = record.paid_by;
    add_waiter(s, w, record.batch_id);
    batch_of[record.custom_id] = record.batch_id;
    if (!polled) {
        spawn(run_poll(shared_from_this(), record.batch_id));
    }
}

// enqueue adds the call to the open window (opening one), or submits a full window at once:
// full in entries, or in bytes when the call would take the create request past max_bytes (the
// window is submitted first and the call opens the next one).
void claude_batcher::impl::enqueue(batch_call& c, const waiter& w) {
    std::lock_guard lock(mutex);
    enqueue_locked(c, w);
}

void claude_batcher::impl::enqueue_locked(batch_call& c, const waiter& w) {
    auto custom_id = custom_id_of(c.key);
    if (attach(custom_id, w)) {
        return;
    }
    // The request's share of the create body: {"custom_id":"…","params":…} and a comma.
    const std::size_t bytes = c.params.size() + custom_id.size() + 32;
    if (!pending.empty() && pending_bytes + bytes > options.batch.max_bytes) {
        spawn(run_batch(shared_from_this(), take_pending_locked()));
    }
    auto& s = pending[custom_id];
    s.key = c.key;
    s.params = std::move(c.params);
    s.hold = std::move(c.hold);
    s.payer = c.item_id;
    s.waiters.push_back(w);
    pending_bytes += bytes;
    if (pending.size() >= options.batch.max_entries) {
        spawn(run_batch(shared_from_this(), take_pending_locked()));
    } else if (!window_open) {
        window_open = true;
        spawn(close_window(shared_from_this(), window));
    }
}

// take_pending_locked closes the open window and returns its calls, to be submitted.
slots claude_batcher::impl::take_pending_locked() {
    slots out;
    out.swap(pending);
    pending_bytes = 0;
    window_open = false;
    ++window;
    return out;
}

// recover handles a call whose record is an intent: the submission it names may have made a
// batch nobody recorded. The call waits for the search of that submission time (starting one),
// or, when the search is done, joins the batch that has its line or submits anew.
void claude_batcher::impl::recover(const batch_record& intent, batch_call& c, const waiter& w) {
    std::lock_guard lock(mutex);
    if (attach(intent.custom_id, w)) {
        return;
    }
    auto [at, fresh] = recoveries.try_emplace(intent.submitted_at_ms);
    auto& search = at->second;
    if (search.done) {
        auto found = search.found.find(intent.custom_id);
        if (found == search.found.end()) {
            enqueue_locked(c, w);
        } else {
            join_locked({found->second, intent.custom_id, intent.paid_by, 0}, c, w);
        }
        return;
    }
    auto& s = search.waiting[intent.custom_id];
    s.key = c.key;
    s.params = std::move(c.params);
    s.hold = std::move(c.hold);
    s.payer = intent.paid_by;
    s.waiters.push_back(w);
    if (fresh) {
        // Searches done long ago are forgotten first (a later call searches again).
        while (recoveries.size() > kept_recoveries) {
            auto oldest = recoveries.begin();
            if (oldest == at || !oldest->second.done) {
                break;
            }
            recoveries.erase(oldest);
        }
        spawn(run_recovery(shared_from_this(), intent.submitted_at_ms));
    }
}

// resolve sends each waiting call of a finished search where it belongs: to the batch that has
// its line, or into a new submission (failed, retryably, when its params went with a create
// request that got no answer). Takes the mutex.
void claude_batcher::impl::resolve(slots waiting, const std::map<std::string, std::string>& found) {
    std::lock_guard lock(mutex);
    for (auto& [custom_id, s] : waiting) {
        auto batch = found.find(custom_id);
        const bool kept = !s.params.empty();  // the first waiter below takes them
        for (const auto& w : s.waiters) {
            if (batch == found.end() && !kept) {
                // A create request that got no answer made no batch with this call, and its
                // body was the only copy of the call: the next attempt submits it again.
                batch_reply reply;
                reply.error = failure{"vision_batch_unavailable",
                                      "The batch request got no answer and made no batch with "
                                      "this item; it is submitted again at the next attempt.",
                                      true};
                w.answer->try_send(boost::system::error_code{}, std::move(reply));
                continue;
            }
            // The first waiter takes the params into the new slot; the others attach to it.
            batch_call c{s.key, std::move(s.params), w.item_id, std::move(s.hold), false, w.wanted};
            if (batch == found.end()) {
                enqueue_locked(c, w);
            } else {
                join_locked({batch->second, custom_id, s.payer, 0}, c, w);
            }
        }
    }
}

slots claude_batcher::impl::take_running(const std::string& batch_id) {
    std::lock_guard lock(mutex);
    slots out;
    if (auto found = running.find(batch_id); found != running.end()) {
        out.swap(found->second);
        running.erase(found);
    }
    for (const auto& [custom_id, s] : out) {
        batch_of.erase(custom_id);
    }
    return out;
}

asio::awaitable<void> claude_batcher::impl::close_window(std::shared_ptr<impl> self,
                                                         std::uint64_t number) {
    co_await self->options.sleep(self->options.batch.window);
    slots batch;
    {
        std::lock_guard lock(self->mutex);
        if (number != self->window) {
            co_return;  // submitted already, when it filled up
        }
        batch = self->take_pending_locked();
    }
    co_await submit(self, batch);
}

asio::awaitable<void> claude_batcher::impl::run_batch(std::shared_ptr<impl> self, slots batch) {
    co_await submit(self, batch);
}

asio::awaitable<void> claude_batcher::impl::run_poll(std::shared_ptr<impl> self,
                                                     std::string batch_id) {
    co_await poll(self, batch_id, 0);
}

// run_watch polls a batch no call of this process waits in until it has ended, or until it
// cannot be polled any more (gone upstream, or max_poll_failures failed polls): either way the
// jobs parked on it must run again to find out.
asio::awaitable<void> claude_batcher::impl::run_watch(std::shared_ptr<impl> self,
                                                      std::string batch_id) {
    auto ended = co_await wait_ended(self, batch_id, 0);
    if (ended) {
        const auto now = self->now_ms();
        std::lock_guard lock(self->mutex);
        std::erase_if(self->seen_ended,
                      [now](const auto& entry) { return entry.second + seen_ended_ms < now; });
        self->seen_ended[batch_id] = now;
    }
    self->tell_parked(batch_id, false);
}

asio::awaitable<void> claude_batcher::impl::run_recovery(std::shared_ptr<impl> self,
                                                         std::int64_t since) {
    auto found = co_await find_lines(self, since);
    slots waiting;
    {
        std::lock_guard lock(self->mutex);
        auto& search = self->recoveries[since];
        waiting.swap(search.waiting);
        if (found) {
            search.done = true;
            search.found = *found;
        } else {
            self->recoveries.erase(since);  // the next attempt searches again
        }
    }
    if (!found) {
        answer_all(waiting, found.error(), "");
        co_return;
    }
    // Found lines are recorded as ordinary batch records: a later attempt, or a restart, joins
    // the batch directly.
    std::vector<std::pair<std::string, std::string>> records;
    for (const auto& [custom_id, s] : waiting) {
        if (auto batch = found->find(custom_id); batch != found->end()) {
            records.emplace_back(batch_record_key(s.key),
                                 encode_batch_record({batch->second, custom_id, s.payer, 0}));
        }
    }
    co_await put_records(self, records);
    self->resolve(std::move(waiting), *found);
}

namespace {

// backoff is the full-jitter wait after failed attempt number `attempt` (1-based).
milliseconds backoff(const claude_options& options, int attempt) {
    auto step = std::min<milliseconds>(options.backoff_base * (1LL << std::min(attempt - 1, 20)),
                                       options.backoff_cap);
    return milliseconds(
        static_cast<std::int64_t>(options.jitter() * static_cast<double>(step.count())));
}

}  // namespace

// send makes one call with up to max_attempts attempts on network errors, 429 and 5xx, waiting
// the server's retry-after or a full-jitter backoff between them.
asio::awaitable<result<http_response>> claude_batcher::impl::send(self_ref self,
                                                                  const http_call& call) {
    for (int attempt = 1;; ++attempt) {
        auto res = co_await self->http.send(call);
        bool again = !res ? res.error().retryable : res->status == 429 || res->status >= 500;
        if (!again || attempt >= self->options.max_attempts) {
            co_return res;
        }
        std::optional<milliseconds> wait;
        if (res) {
            wait = read_response_meta(*res, 0).retry_after;
        }
        co_await self->options.sleep(wait ? *wait : backoff(self->options, attempt));
    }
}

asio::awaitable<void> claude_batcher::impl::submit(self_ref self, slots& batch) {
    drop_unwanted(batch);
    if (batch.empty()) {
        co_return;
    }
    // The intents first: if the process dies after the batch is made and before it is recorded,
    // whoever retries finds them and looks for the batch instead of paying for another.
    const std::int64_t since = self->now_ms();
    std::vector<std::pair<std::string, std::string>> records;
    for (const auto& [custom_id, s] : batch) {
        records.emplace_back(batch_record_key(s.key),
                             encode_batch_record({"", custom_id, s.payer, since}));
    }
    co_await put_records(self, records);

    // The body holds each call's exact Messages body; custom_ids are hex and need no escaping.
    // It is the only copy of them from now on (the calls keep their budget shares until the
    // batch is made), and lives only as long as the create request.
    create_outcome created;
    {
        auto call = self->make_call("POST", self->base + "/v1/messages/batches", "");
        call.headers.emplace_back("content-type", "application/json");
        call.shared_body = std::make_shared<const std::string>(create_body(batch));
        for (auto& [custom_id, s] : batch) {
            std::string().swap(s.params);
        }
        created = co_await create(self, call);
    }
    if (created.refused) {
        // No batch was made: the intents are cleared so the next attempt submits at once.
        answer_all(batch, *created.refused, "");
        std::vector<std::string> keys;
        for (const auto& [custom_id, s] : batch) {
            keys.push_back(s.key);
        }
        co_await clear_records(self, keys);
        co_return;
    }
    if (created.unknown) {
        // A batch may exist (the request may have arrived after all): once a create could have
        // landed, the calls wait for the search of this submission time like a restart would.
        co_await self->options.sleep(self->options.attempt_timeout);
        std::optional<std::map<std::string, std::string>> known;
        bool start = false;
        {
            std::lock_guard lock(self->mutex);
            auto [at, fresh] = self->recoveries.try_emplace(since);
            if (at->second.done) {
                known = at->second.found;  // an identical call searched meanwhile
            } else {
                for (auto& [custom_id, s] : batch) {
                    auto& into = at->second.waiting[custom_id];
                    if (into.waiters.empty()) {
                        into = std::move(s);
                    } else {
                        into.waiters.insert(into.waiters.end(), s.waiters.begin(), s.waiters.end());
                    }
                }
                start = fresh;
            }
        }
        if (known) {
            self->resolve(std::move(batch), *known);
        } else if (start) {
            co_await run_recovery(self, since);
        }
        co_return;
    }

    // Known in memory first (identical calls join it), then recorded for a restart.
    const std::string id = created.batch->id;
    records.clear();
    {
        std::lock_guard lock(self->mutex);
        auto& now_running = self->running[id];
        for (auto& [custom_id, s] : batch) {
            records.emplace_back(batch_record_key(s.key),
                                 encode_batch_record({id, custom_id, s.payer, 0}));
            self->batch_of[custom_id] = id;
            // Upstream now: the photos need not stay here for the batch's hours.
            std::string().swap(s.params);
            s.hold.reset();
            auto& made = now_running[custom_id];
            made = std::move(s);
            std::vector<waiter> waiting;
            waiting.swap(made.waiters);
            for (const auto& w : waiting) {
                add_waiter(made, w, id);
            }
        }
    }
    co_await put_records(self, records);
    co_await poll(self, id, parse_iso8601(created.batch->created_at).value_or(0));
}

// create sends a create request: 429 and 5xx answers are retried like any call (no batch was
// made), other answers are final, and a request that got no answer is not sent again: it may
// have made a batch, which only a search can tell.
asio::awaitable<create_outcome> claude_batcher::impl::create(self_ref self, const http_call& call) {
    create_outcome out;
    for (int attempt = 1;; ++attempt) {
        auto res = co_await self->http.send(call);
        if (!res) {
            const auto& code = res.error().code;
            bool unsent = code == "connect_failed" || code == "tls_failed" || code == "bad_url";
            failure why{"vision_unreachable",
                        "The batch could not be submitted to Claude. " + res.error().message,
                        res.error().retryable};
            if (!unsent) {
                out.unknown = std::move(why);
                co_return out;
            }
            if (!why.retryable || attempt >= self->options.max_attempts) {
                out.refused = std::move(why);
                co_return out;
            }
        } else if (res->status == 200) {
            auto batch = parse_message_batch(res->body);
            if (batch) {
                out.batch = std::move(*batch);
            } else {
                out.unknown = batch.error();  // made, but which one cannot be read
            }
            co_return out;
        } else {
            auto why = classify_error(parse_api_error(res->status, res->body),
                                      read_response_meta(*res, 0));
            if ((res->status != 429 && res->status < 500) ||
                attempt >= self->options.max_attempts) {
                out.refused = std::move(why);
                co_return out;
            }
        }
        std::optional<milliseconds> wait;
        if (res) {
            wait = read_response_meta(*res, 0).retry_after;
        }
        co_await self->options.sleep(wait ? *wait : backoff(self->options, attempt));
    }
}

asio::awaitable<void> claude_batcher::impl::put_records(
    self_ref self, const std::vector<std::pair<std::string, std::string>>& records) {
    if (!self->options.answers) {
        co_return;
    }
    const auto expires = self->now_ms() + self->options.answer_ttl.count();
    for (const auto& [key, value] : records) {
        co_await write_answer(*self->options.answers, key, value, expires);
    }
}

asio::awaitable<void> claude_batcher::impl::poll(self_ref self, const std::string& id,
                                                 std::int64_t created_ms) {
    auto batch = co_await wait_ended(self, id, created_ms);
    if (!batch) {
        co_await fail_batch(self, id, batch.error());
        co_return;
    }
    co_await distribute(self, id, batch->results_url);
}

namespace {

// One more batch polled while it lives: polls of several batches share list calls.
class watch_count {
public:
    watch_count(std::mutex& mutex, std::size_t& count) : mutex_(mutex), count_(count) {
        std::lock_guard lock(mutex_);
        ++count_;
    }
    ~watch_count() {
        std::lock_guard lock(mutex_);
        --count_;
    }
    watch_count(const watch_count&) = delete;
    watch_count& operator=(const watch_count&) = delete;

private:
    std::mutex& mutex_;
    std::size_t& count_;
};

}  // namespace

// wait_ended polls a batch until it has ended, with backoff from poll_min to poll_max and never
// sooner than a retry-after. A 429 only delays the next poll. Errors: vision_batch_gone (404),
// the refusal of another 4xx answer, vision_batch_unavailable after max_poll_failures failed
// polls in a row (network, 5xx, unreadable answers).
asio::awaitable<result<message_batch>> claude_batcher::impl::wait_ended(self_ref self,
                                                                        const std::string& id,
                                                                        std::int64_t created_ms) {
    const auto& settings = self->options.batch;
    watch_count watched(self->mutex, self->watching);
    milliseconds backoff = settings.poll_min;
    milliseconds wait = backoff;
    int failures = 0;
    for (;;) {
        co_await self->options.sleep(wait);
        auto seen = co_await status_of(self, id, created_ms);
        // The time a list round gathered counts as part of the wait: a poll keeps its pace.
        backoff = std::min(std::max(backoff, wait) * 2, settings.poll_max);
        wait = std::max(std::max(backoff - seen.gathered, milliseconds(0)),
                        seen.retry_after.value_or(milliseconds(0)));
        if (seen.fatal) {
            co_return make_unexpected(std::move(*seen.fatal));
        }
        if (seen.limited) {
            continue;
        }
        if (!seen.batch) {
            if (++failures >= settings.max_poll_failures) {
                co_return fail("vision_batch_unavailable",
                               "The batch " + id + " could not be polled " +
                                   std::to_string(failures) + " times in a row.",
                               true);
            }
            continue;
        }
        failures = 0;
        if (created_ms == 0) {
            created_ms = parse_iso8601(seen.batch->created_at).value_or(0);
        }
        if (seen.batch->ended()) {
            co_return std::move(*seen.batch);
        }
    }
}

// status_of looks at a batch. While other batches are polled too, the look joins the next list
// round (run_listing), which reads the statuses of every batch asked for in one call or a few
// (one page holds a thousand): with many batches waiting, polls stay within the batch
// endpoints' per-minute limit. A batch of unknown age, or one a round did not show, is
// retrieved alone.
asio::awaitable<status_answer> claude_batcher::impl::status_of(self_ref self, const std::string& id,
                                                               std::int64_t created_ms) {
    std::shared_ptr<status_channel> out;
    bool start = false;
    {
        std::lock_guard lock(self->mutex);
        if (created_ms > 0 && self->watching > 1) {
            out = std::make_shared<status_channel>(self->executor, 1);
            self->asked.push_back({id, created_ms, out});
            start = !std::exchange(self->listing, true);
        }
    }
    if (out) {
        if (start) {
            self->spawn(run_listing(self));
        }
        const auto asked_at = std::chrono::steady_clock::now();
        auto [ec, seen] = co_await out->async_receive(asio::as_tuple(asio::use_awaitable));
        if (!ec && !seen.unlisted) {
            seen.gathered = std::chrono::duration_cast<milliseconds>(
                std::chrono::steady_clock::now() - asked_at);
            co_return std::move(seen);
        }
    }
    co_return co_await retrieve(self, id);
}

namespace {

// status_from reads an answer of the batch endpoints as a status look: `id` names the batch
// for the texts (empty for a list).
status_answer status_from(const result<http_response>& res, const std::string& id) {
    status_answer out;
    if (!res) {
        return out;  // a failed poll
    }
    out.retry_after = read_response_meta(*res, 0).retry_after;
    if (res->status == 429) {
        out.limited = true;
    } else if (res->status == 404 && !id.empty()) {
        out.fatal = failure{
            "vision_batch_gone",
            "Claude no longer knows the batch " + id + "; the item will be submitted again.", true};
    } else if (res->status != 200 && res->status < 500) {
        out.fatal =
            classify_error(parse_api_error(res->status, res->body), read_response_meta(*res, 0));
    }
    return out;
}

}  // namespace

asio::awaitable<status_answer> claude_batcher::impl::retrieve(self_ref self,
                                                              const std::string& id) {
    const auto call = self->make_call("GET", self->base + "/v1/messages/batches/" + id, "");
    auto res = co_await self->http.send(call);
    auto seen = status_from(res, id);
    if (res && res->status == 200) {
        if (auto batch = parse_message_batch(res->body)) {
            seen.batch = std::move(*batch);
        }
    }
    co_return seen;
}

// run_listing gathers the polls that come within a short time, then reads the batches newest
// first, page by page, until each asked batch was seen or the pages reach batches older than
// the oldest asked; each poll gets its batch, the trouble of the call, or "unlisted".
asio::awaitable<void> claude_batcher::impl::run_listing(std::shared_ptr<impl> self) {
    co_await self->options.sleep(std::min(self->options.batch.poll_max, max_list_gather));
    std::vector<status_ask> round;
    {
        std::lock_guard lock(self->mutex);
        round.swap(self->asked);
        self->listing = false;
    }
    // By batch: the same batch may be asked for twice (a watch and a poll for calls).
    std::map<std::string, std::vector<const status_ask*>> want;
    std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
    for (const auto& a : round) {
        want[a.id].push_back(&a);
        oldest = std::min(oldest, a.created_ms);
    }
    std::optional<status_answer> trouble;
    std::string after;
    for (int page_number = 0; !want.empty() && page_number < max_list_pages; ++page_number) {
        std::string url = self->base + "/v1/messages/batches?limit=1000";
        if (!after.empty()) {
            url += "&after_id=" + after;
        }
        const auto call = self->make_call("GET", url, "");
        auto res = co_await self->http.send(call);
        if (!res || res->status != 200) {
            trouble = status_from(res, "");
            if (!trouble->limited && !trouble->fatal && res && res->status < 500) {
                trouble.reset();  // a listing this API does not serve: each is retrieved alone
            }
            break;
        }
        auto page = parse_batch_page(res->body);
        if (!page) {
            trouble = status_answer{};
            break;
        }
        bool older = false;
        for (auto& batch : page->data) {
            auto created = parse_iso8601(batch.created_at);
            older = older || (created && *created < oldest - clock_skew_ms);
            if (auto found = want.find(batch.id); found != want.end()) {
                for (const auto* a : found->second) {
                    status_answer seen;
                    seen.batch = batch;
                    a->out->try_send(boost::system::error_code{}, std::move(seen));
                }
                want.erase(found);
            }
        }
        if (!page->has_more || older) {
            break;
        }
        after = page->last_id;
    }
    for (const auto& [id, asks] : want) {
        for (const auto* a : asks) {
            status_answer seen = trouble.value_or(status_answer{});
            seen.unlisted = !trouble;
            a->out->try_send(boost::system::error_code{}, std::move(seen));
        }
    }
}

// find_lines looks at every batch created since shortly before `since` that this process does
// not poll already, waits for each to end and reads which custom_ids it answered.
asio::awaitable<result<std::map<std::string, std::string>>> claude_batcher::impl::find_lines(
    self_ref self, std::int64_t since) {
    auto candidates = co_await batches_since(self, since - clock_skew_ms);
    if (!candidates) {
        co_return make_unexpected(candidates.error());
    }
    std::map<std::string, std::string> found;
    for (const auto& id : *candidates) {
        auto batch = co_await wait_ended(self, id, 0);
        if (!batch && batch.error().code == "vision_batch_gone") {
            continue;  // deleted: its lines are no one's to wait for
        }
        if (!batch) {
            co_return make_unexpected(batch.error());
        }
        const std::function<void(batch_result)> note = [&found, &id](batch_result line) {
            found[line.custom_id] = id;
        };
        auto read = co_await read_results(self, id, batch->results_url, note);
        if (!read) {
            co_return make_unexpected(read.error());
        }
    }
    co_return found;
}

// batches_since lists the ids of batches created at or after `from_ms` (newest first, page by
// page) that this process is not polling.
asio::awaitable<result<std::vector<std::string>>> claude_batcher::impl::batches_since(
    self_ref self, std::int64_t from_ms) {
    std::vector<std::string> ids;
    std::string after;
    for (int page_number = 0; page_number < max_list_pages; ++page_number) {
        std::string url = self->base + "/v1/messages/batches?limit=100";
        if (!after.empty()) {
            url += "&after_id=" + after;
        }
        const auto call = self->make_call("GET", url, "");
        auto res = co_await send(self, call);
        if (!res || res->status != 200) {
            std::string why = !res ? res.error().message : "HTTP " + std::to_string(res->status);
            co_return fail(
                "vision_batch_unavailable",
                "The batches could not be listed to find an unrecorded one (" + why + ").", true);
        }
        auto page = parse_batch_page(res->body);
        if (!page) {
            co_return make_unexpected(page.error());
        }
        for (const auto& batch : page->data) {
            auto created = parse_iso8601(batch.created_at);
            if (!created) {
                co_return fail("vision_bad_response",
                               "The batch " + batch.id + " has no readable created_at.", true);
            }
            if (*created < from_ms) {
                co_return ids;  // newest first: the rest are older still
            }
            std::lock_guard lock(self->mutex);
            if (!self->running.contains(batch.id)) {
                ids.push_back(batch.id);
            }
        }
        if (!page->has_more) {
            co_return ids;
        }
        after = page->last_id;
    }
    co_return fail("vision_batch_unavailable",
                   "More than " + std::to_string(max_list_pages * 100) +
                       " batches were created since the submission; the search gave up.",
                   true);
}

// read_results reads an ended batch's results from the results_url it named, as they arrive:
// each line goes to `on_line`, and only the line being read is held. A read that breaks off is
// made again from the start (429 and 5xx answers too), so `on_line` must take a line it has seen
// before as a no-op.
asio::awaitable<result<bool>> claude_batcher::impl::read_results(
    self_ref self, const std::string& id, const std::string& results_url,
    const std::function<void(batch_result)>& on_line) {
    // results_url is used as given: its path may change.
    const auto call = self->make_call("GET", results_url, "");
    for (int attempt = 1;; ++attempt) {
        batch_results_reader reader(on_line);
        std::optional<failure> unreadable;
        const body_sink sink = [&reader, &unreadable](std::string_view piece) {
            auto fed = reader.feed(piece);
            if (!fed) {
                unreadable = fed.error();
            }
            return fed.has_value();
        };
        auto sending = self->http.send_streamed(call, sink);
        auto res = co_await std::move(sending);
        if (unreadable) {
            co_return make_unexpected(*unreadable);
        }
        if (res && res->status == 200) {
            co_return reader.finish();
        }
        const bool again = !res ? res.error().retryable : res->status == 429 || res->status >= 500;
        if (!again || attempt >= self->options.max_attempts) {
            std::string why = !res ? res.error().message : "HTTP " + std::to_string(res->status);
            co_return fail("vision_batch_unavailable",
                           "The results of batch " + id + " could not be fetched (" + why + ").",
                           true);
        }
        std::optional<milliseconds> wait;
        if (res) {
            wait = read_response_meta(*res, 0).retry_after;
        }
        co_await self->options.sleep(wait ? *wait : backoff(self->options, attempt));
    }
}

// distribute answers the calls waiting on an ended batch, each as soon as its line is read; the
// calls whose line never comes, or that got no success, have their records cleared.
asio::awaitable<void> claude_batcher::impl::distribute(self_ref self, const std::string& id,
                                                       const std::string& results_url) {
    auto batch = self->take_running(id);
    bool any_parked = false;
    for (const auto& [custom_id, s] : batch) {
        any_parked = any_parked || !s.parked.empty();
    }
    std::vector<std::string> unanswered;
    const std::function<void(batch_result)> answer = [&self, &batch, &unanswered,
                                                      &id](batch_result line) {
        auto found = batch.find(line.custom_id);
        if (found == batch.end()) {
            return;  // another process's line, or one answered by an earlier read
        }
        const auto& s = found->second;
        if (line.type != "succeeded") {
            unanswered.push_back(s.key);
        } else if (line.reply) {
            self->tell_billed(*line.reply);
        }
        const auto reply_for = [&line, &s, &id](const waiter& w) {
            return reply_from(&line, s, w, id);
        };
        for (const auto& w : s.waiters) {
            w.answer->try_send(boost::system::error_code{}, reply_for(w));
        }
        self->keep_outcomes(line.custom_id, s, reply_for);
        batch.erase(found);
    };
    auto read = co_await read_results(self, id, results_url, answer);
    if (!read) {
        // The calls answered keep their answers; the others get the failure.
        std::vector<std::string> keys;
        for (const auto& [custom_id, s] : batch) {
            keys.push_back(s.key);
        }
        answer_all(batch, read.error(), id);
        for (const auto& [custom_id, s] : batch) {
            self->keep_outcomes(custom_id, s, [&read, &id](const waiter&) {
                batch_reply reply;
                reply.error = read.error();
                reply.batch_id = id;
                return reply;
            });
        }
        if (!read.error().retryable) {
            unanswered.insert(unanswered.end(), keys.begin(), keys.end());
        }
        co_await clear_records(self, unanswered);
        self->tell_parked(id, any_parked);
        co_return;
    }
    for (const auto& [custom_id, s] : batch) {
        unanswered.push_back(s.key);
        const auto reply_for = [&s, &id](const waiter& w) { return reply_from(nullptr, s, w, id); };
        for (const auto& w : s.waiters) {
            w.answer->try_send(boost::system::error_code{}, reply_for(w));
        }
        self->keep_outcomes(custom_id, s, reply_for);
    }
    co_await clear_records(self, unanswered);
    self->tell_parked(id, any_parked);
}

void claude_batcher::impl::keep_outcomes(
    const std::string& custom_id, const slot& s,
    const std::function<batch_reply(const waiter&)>& reply_for) {
    if (s.parked.empty()) {
        return;
    }
    const auto now = now_ms();
    std::lock_guard lock(mutex);
    for (const auto& item : s.parked) {
        outcomes[{custom_id, item}] = {reply_for(waiter{nullptr, item, false, {}}), now};
    }
}

std::optional<batch_reply> claude_batcher::impl::take_outcome(const std::string& custom_id,
                                                              const std::string& item_id) {
    std::lock_guard lock(mutex);
    auto found = outcomes.find({custom_id, item_id});
    if (found == outcomes.end()) {
        return std::nullopt;
    }
    auto out = std::move(found->second.first);
    outcomes.erase(found);
    return out;
}

void claude_batcher::impl::tell_billed(const messages_reply& line) {
    std::function<void(const messages_reply&)> listener;
    {
        std::lock_guard lock(mutex);
        listener = line_billed;
    }
    if (listener) {
        listener(line);
    }
}

void claude_batcher::impl::tell_parked(const std::string& id, bool any) {
    std::function<void(const std::string&)> listener;
    {
        std::lock_guard lock(mutex);
        if (watched.erase(id) == 0 && !any) {
            return;
        }
        // Once a batch: outcomes nobody came for are forgotten.
        const auto now = now_ms();
        std::erase_if(outcomes, [now](const auto& entry) {
            return entry.second.second + parked_outcome_ms < now;
        });
        listener = parked_ended;
    }
    if (listener) {
        listener(id);
    }
}

asio::awaitable<void> claude_batcher::impl::fail_batch(self_ref self, const std::string& id,
                                                       const failure& why) {
    auto batch = self->take_running(id);
    std::vector<std::string> keys;
    bool any_parked = false;
    for (const auto& [custom_id, s] : batch) {
        keys.push_back(s.key);
        any_parked = any_parked || !s.parked.empty();
        self->keep_outcomes(custom_id, s, [&why, &id](const waiter&) {
            batch_reply reply;
            reply.error = why;
            reply.batch_id = id;
            return reply;
        });
    }
    answer_all(batch, why, id);
    if (why.code == "vision_batch_gone" || !why.retryable) {
        co_await clear_records(self, keys);
    }
    self->tell_parked(id, any_parked);
}

// clear_records forgets the batches of calls that got no answer from them, so that their next
// attempt submits again instead of finding the same failure.
asio::awaitable<void> claude_batcher::impl::clear_records(self_ref self,
                                                          const std::vector<std::string>& keys) {
    if (!self->options.answers) {
        co_return;
    }
    const auto expires = self->now_ms() + self->options.answer_ttl.count();
    for (const auto& key : keys) {
        const std::string name = batch_record_key(key);
        co_await write_answer(*self->options.answers, name, cleared_batch_record(), expires);
    }
}

claude_batcher::claude_batcher(const claude_options& options, asio::any_io_executor executor)
    : impl_(std::make_shared<impl>(options, std::move(executor))) {}

claude_batcher::~claude_batcher() = default;

claude_batcher::load_now claude_batcher::load() const {
    auto count = [](const slots& of) {
        std::size_t n = 0;
        for (const auto& [id, s] : of) {
            n += s.waiters.size() + s.parked.size();
        }
        return n;
    };
    std::lock_guard lock(impl_->mutex);
    load_now out;
    out.batches = impl_->running.size();
    out.calls = count(impl_->pending);
    for (const auto& [id, batch] : impl_->running) {
        out.calls += count(batch);
    }
    for (const auto& [since, search] : impl_->recoveries) {
        out.calls += count(search.waiting);
    }
    return out;
}

void claude_batcher::watch(const std::string& batch_id) {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->watched.insert(batch_id).second || impl_->running.contains(batch_id)) {
        return;  // watched already, or polled for calls here: that poll tells its end
    }
    impl_->spawn(impl::run_watch(impl_, batch_id));
}

asio::awaitable<bool> claude_batcher::holds(const std::string& key) {
    auto self = impl_;
    const auto custom_id = custom_id_of(key);
    bool here = false;
    {
        std::lock_guard lock(self->mutex);
        here = self->pending.contains(custom_id) || self->batch_of.contains(custom_id);
    }
    if (here || !self->options.answers) {
        co_return here;
    }
    const std::string name = batch_record_key(key);
    auto stored = co_await read_answer(*self->options.answers, name, self->now_ms());
    co_return stored.has_value() && decode_batch_record(*stored).has_value();
}

void claude_batcher::on_parked_ended(std::function<void(const std::string& batch_id)> listener) {
    std::lock_guard lock(impl_->mutex);
    impl_->parked_ended = std::move(listener);
}

void claude_batcher::on_line_billed(std::function<void(const messages_reply& line)> listener) {
    std::lock_guard lock(impl_->mutex);
    impl_->line_billed = std::move(listener);
}

std::string claude_batcher::custom_id_of(std::string_view key) {
    auto colon = key.find(':');
    auto digest = colon == std::string_view::npos ? key : key.substr(colon + 1);
    return std::string(digest.substr(0, 64));
}

asio::awaitable<batch_reply> claude_batcher::call(batch_call& c) {
    auto self = impl_;
    if (c.park) {
        auto kept = self->take_outcome(custom_id_of(c.key), c.item_id);
        if (kept) {
            c.params = std::string();
            c.hold.reset();
            co_return std::move(*kept);
        }
    }
    auto executor = co_await asio::this_coro::executor;
    waiter w{std::make_shared<channel>(executor, 1), c.item_id, c.park, c.wanted};
    std::optional<batch_record> record;
    if (self->options.answers) {
        const std::string name = batch_record_key(c.key);
        auto stored = co_await read_answer(*self->options.answers, name, self->now_ms());
        if (stored) {
            record = decode_batch_record(*stored);
        }
    }
    if (record && record->intent()) {
        self->recover(*record, c, w);
    } else if (record) {
        self->join(*record, c, w);
    } else {
        self->enqueue(c, w);
    }
    c.params = std::string();
    c.hold.reset();
    co_return co_await w.answer->async_receive(asio::use_awaitable);
}

}  // namespace boomer::clients
