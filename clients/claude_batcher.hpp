// Claude calls through the Message Batches API (half price, answers within 24 hours) for work
// that can wait: calls arriving within a short window are submitted as one batch, the batch is
// polled with backoff (never sooner than its retry-after), its results are fetched from the
// results_url it names, and each waiting call gets its own line back by custom_id.
//
// Never paying twice: just before a batch is created, each call's custom_id, payer and the
// time are recorded in the answer store under "batch:" + the call's answer key (an intent), and
// right after, the batch id. A call that finds a record with a batch id (a job retried after a
// crash, or an identical call from another item) waits for that batch instead of submitting
// again; a record whose line did not succeed is cleared so the next attempt submits anew. A call
// that finds an intent (the process died between the two, or the create request got no answer)
// searches the batches created since shortly before the intent's time (the list endpoint,
// newest first), waits for each to end and reads its results: it joins the batch that has its
// line, and submits anew only when none has. One search runs per submission time; its outcome
// is kept for the calls that come later.
//
// Polls of several batches share list calls: a list page shows up to a thousand batches' status,
// so the poll rate stays about one call per few seconds however many batches are waiting. A 429
// from the batch endpoints only delays the next poll.
//
// Results are read as they arrive, line by line, so a batch's results need not fit in memory
// (nor in http.max_response_bytes): each call is answered as soon as its line is read.
//
// Thread-safety: call() may be awaited concurrently from any threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/anthropic_batches.hpp"
#include "clients/anthropic_messages.hpp"
#include "clients/https_client.hpp"
#include "core/result.hpp"

namespace boomer::clients {

struct claude_options;

// Batch settings of claude_options; the environment variable that sets each is named.
struct batch_settings {
    bool enabled = false;             // BOOMER_CLAUDE_BATCHES: 1/true/on or 0/false/off
    std::size_t max_entries = 1'000;  // BOOMER_CLAUDE_BATCH_MAX, 1..10,000 per batch
    // The waits are at most 24 hours (86,400,000 ms).
    // BOOMER_CLAUDE_BATCH_WINDOW_MS: collection time. Each window costs a create and a results
    // call of the batch endpoints' own per-minute limit (50 at Tier 1), so a steady bulk flow
    // makes about 2 * 60 s / window of them, besides the polls (see the top of this file).
    std::chrono::milliseconds window{10'000};
    std::chrono::milliseconds poll_min{1'000};  // BOOMER_CLAUDE_BATCH_POLL_MIN_MS: first wait
    // BOOMER_CLAUDE_BATCH_POLL_MAX_MS: longest wait, so the latest a batch's end is seen. Polls
    // share list calls, so a process makes about 60 s / poll_max of them a minute however many
    // batches wait: 20 s costs three calls of the 50 a minute and delays answers by 10 s on
    // average.
    std::chrono::milliseconds poll_max{20'000};
    // Bytes of a create request at most: the API refuses a batch over 256 MB (413), so a
    // window is submitted before a call would take its requests past this.
    std::size_t max_bytes = 240 * 1024 * 1024;
    // Polls in a row that fail (network, 5xx) before the waiting calls fail, retryably.
    int max_poll_failures = 10;
};

// validate_batch_settings checks the ranges above. Errors: "bad_config" naming the variable.
result<bool> validate_batch_settings(const batch_settings& settings);

// read_batch_settings sets `settings` from the variables above, read through `lookup`; unset
// variables keep their values. Errors: "bad_config" for an unreadable value.
result<bool> read_batch_settings(
    const std::function<std::optional<std::string>(std::string_view)>& lookup,
    batch_settings& settings);

// One Messages call to make through a batch.
struct batch_call {
    std::string key;      // answer_key(params): names the call and gives its custom_id
    std::string params;   // the exact Messages body
    std::string item_id;  // the item that pays when this call is the batch's first for the key
    // Kept with the params until the batch that holds them is made (or the call ends without
    // one): the caller's share of a memory budget for the photos in them. May be null.
    std::shared_ptr<void> hold;
    // Set when the caller would rather end its wait than keep it for the batch's hours: once the
    // call sits in a batch that was made, call() answers `parked` at once. The batch goes on;
    // when it has ended the listener (on_parked_ended) is told, and the same call made again by
    // the same item gets the outcome kept for it.
    bool park = false;
    // Whether the caller still wants the answer (identify_request::wanted); empty: always. A
    // call no longer wanted when its window closes is not submitted (failure vision_abandoned),
    // and its line is left out unless another call waits for it.
    std::function<bool()> wanted;
};

// What the batch answered for one call.
struct batch_reply {
    std::optional<messages_reply> reply;  // a succeeded line
    std::string body;                     // its message JSON, for the answer store
    std::string payer;                    // the item that paid for the line
    std::optional<failure> error;         // errored, canceled, expired or the batch failed
    std::string batch_id;                 // empty when no batch was created
    bool paid_by_caller = false;          // the caller's item paid (others share it as "cached")
    bool parked = false;  // a parking call waits in batch_id: call again once that batch ended
};

// Failure codes of call(), besides classify_error's for errored lines and create refusals:
//   vision_batch_canceled   the line was canceled (retryable);
//   vision_batch_expired    the batch did not finish within 24 hours (retryable);
//   vision_batch_missing    the results had no line for the call (retryable);
//   vision_batch_gone       the recorded batch is unknown upstream (retryable; record cleared);
//   vision_batch_unavailable polling or fetching failed max_poll_failures times, or the search
//                            for an unrecorded batch could not list or read the batches
//                            (retryable; the intent stays, so the next attempt searches again);
//   vision_bad_response     a batch object or results that cannot be read (retryable).
class claude_batcher {
public:
    // The batcher uses options.base_url, api_key, http, attempt_timeout, max_attempts, backoff
    // bounds, sleep (set: claude_vision fills the default), jitter, answers and batch. Connections
    // and background polls run on `executor`.
    claude_batcher(const claude_options& options, boost::asio::any_io_executor executor);
    ~claude_batcher();
    claude_batcher(const claude_batcher&) = delete;
    claude_batcher& operator=(const claude_batcher&) = delete;

    // call waits for `c`'s line of a batch: it joins a batch already recorded or running for
    // the same key, else the current collection window. `c` must outlive the await; its params
    // and hold move into the batcher once the call is queued (a bulk call may wait hours, and
    // the batcher keeps them only until the batch is made; a call joining a batch already made
    // drops them at once).
    // Cancellation of the awaiting coroutine ends the wait (boost::system::system_error); the
    // batch goes on and its answer can be found again through the record.
    boost::asio::awaitable<batch_reply> call(batch_call& c);

    // on_parked_ended sets who is told, with the batch's id, that a batch holding parked calls
    // has ended and their outcomes are kept (for an hour; after that, or in another process, a
    // call made again finds its batch through the record and reads its results anew). Called
    // from the batcher's background work; it must not block. Thread-safe.
    void on_parked_ended(std::function<void(const std::string& batch_id)> listener);

    // on_line_billed sets who is told of each succeeded line of the batches this process reads,
    // once per line whichever calls (if any) still wait for it: the spend to count. A batch two
    // processes wait on is read, and told, in both. Called from the batcher's background work;
    // it must not block. Thread-safe.
    void on_line_billed(std::function<void(const messages_reply& line)> listener);

    // watch polls batch `batch_id` for jobs parked on it that no call of this process stands
    // for (another process parked them and stopped), and tells the on_parked_ended listener
    // once it has ended, or once it cannot be polled any more (gone upstream, or
    // max_poll_failures failed polls in a row): the jobs then run again and find out. Its
    // polls share list calls with the others. Watching a batch polled here already only marks
    // it: its end is told even if none of its calls parked. Thread-safe.
    void watch(const std::string& batch_id);

    // holds tells whether a batch holds, or may hold, the call with answer key `key`: one
    // collecting or running in this process, or a record in the answer store (a batch made, or
    // an intent whose batch may have been made). A call no batch holds can be made
    // synchronously instead without paying twice.
    boost::asio::awaitable<bool> holds(const std::string& key);

    // How much waits on batches in this process: the batches made and not yet seen ended, and
    // the calls waiting for a line in the open window, in those batches (parked ones too), or
    // for the search of an unrecorded batch (calls in a create request on its way are not
    // counted). Thread-safe.
    struct load_now {
        std::size_t batches = 0;
        std::size_t calls = 0;
    };
    load_now load() const;

    // custom_id_of returns the custom_id used for a call with answer key `key`: at most 64
    // characters of [0-9a-f] (the digest part of the key). Pure.
    static std::string custom_id_of(std::string_view key);

private:
    struct impl;
    std::shared_ptr<impl> impl_;  // shared with the collection windows and polls in flight
};

}  // namespace boomer::clients
