// The Message Batches part of the fake Anthropic server: create, retrieve, list, results, cancel,
// delete. A batch is checked at creation the way the real API checks it (1..10,000 requests,
// custom_id 1..64 characters of [A-Za-z0-9_-] and unique; the texts are the API's where known),
// its params only when it ends, by the checks of /v1/messages for a batch line (an invalid
// params object becomes an `errored` line, as the real API validates them asynchronously). A
// batch stays in_progress for a set number of retrieves (or appearances in a list) and a set
// time, then ends; its results come back in an order that is not the request order, with
// `usage.service_tier:"batch"` on succeeded lines. Only an ended batch may be deleted. Every
// answer carries a request-id header, which an error's body repeats.
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "tests/fakes/fake_accounting.hpp"
#include "tests/fakes/fake_anthropic_rules.hpp"

namespace boomer::fakes {

struct fake_batch_options {
    // A batch ends at the first retrieve that comes after this many in_progress answers and
    // after processing_time has passed since its creation.
    int in_progress_polls = 1;
    std::chrono::milliseconds processing_time{0};
    int retry_after_seconds = 1;  // sent on in_progress retrieves; 0: no header
    // Serve results at /v1/files/<id>_results.jsonl instead of the documented path, to prove
    // that a client reads results_url instead of building it.
    bool unusual_results_path = false;
    // Creates answer only after this long (the batch exists at once): a client whose attempt
    // times out meanwhile has made a batch it does not know of.
    std::chrono::milliseconds create_answer_delay{0};
    // With create_answer_delay: the create request is lost on its way instead (held that long,
    // then answered 504, and no batch is made), as when a connection breaks before the API.
    bool create_lost = false;
    // A create body larger than this is refused with 413 request_too_large before it reaches
    // the API (the documented limit of the Batch API is 256 MB).
    std::size_t max_create_bytes = 256 * 1024 * 1024;
    // Trouble on the batch endpoints themselves (create, retrieve, list, results, cancel), for
    // every call of any of them: a limit of calls per minute (the documented Tier 1 limit is
    // 50; 0: none) over which a call is answered 429 rate_limit_error with retry-after, and
    // shares of calls answered 529 overloaded_error or 500 api_error instead. A refused create
    // makes no batch.
    int requests_per_minute = 0;
    double overloaded_share = 0.0;
    double internal_share = 0.0;
    // Shares of the lines of an ending batch that come back errored (api_error, as a line that
    // failed upstream) or expired instead of being processed; neither is billed.
    double errored_line_share = 0.0;
    double expired_line_share = 0.0;
    std::uint64_t seed = 42;  // of the dice above
};

// A result line forced for a custom_id instead of processing its params: "errored" (with the
// error type and message), "canceled" or "expired".
struct injected_line {
    std::string custom_id;
    std::string type = "errored";
    std::string error_type = "api_error";
    std::string message = "Internal server error";
};

// What processing one request's params produced: a message (its JSON and what it billed) or
// the error the synchronous API would have answered.
struct processed_params {
    std::optional<api_reject> error;
    std::string message_json;
    std::string model;  // alias
    fake_usage usage;
};

// A succeeded line, billed at the batch rate.
struct billed_request {
    std::string batch_id;
    std::string custom_id;
    std::string model;  // alias
    fake_usage usage;
};

// An HTTP answer of the batch endpoints.
struct batch_answer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

class fake_batch_desk {
public:
    // `process` answers one request's params, when its batch ends (under the desk's lock: it
    // must not call the desk); `base_url` is read when a results_url is made.
    using processor = std::function<processed_params(const boost::json::value& params)>;
    fake_batch_desk(fake_batch_options options, const clock& time, processor process,
                    std::function<std::string()> base_url);

    // The endpoints, after the headers were checked. `id` is the batch id from the path. Each
    // first takes its share of the per-minute limit and the error dice (see the options).
    batch_answer create(std::string_view body);
    batch_answer retrieve(const std::string& id);
    batch_answer results(const std::string& id);
    batch_answer cancel(const std::string& id);
    // remove answers DELETE /v1/messages/batches/{id}: an ended batch, or one due to end (a
    // canceling one always is), is forgotten with its results; one still in progress is refused
    // with a 400 invalid_request_error.
    batch_answer remove(const std::string& id);
    // list answers GET /v1/messages/batches: newest first, `limit` 1..1000 (default 20), the page
    // after `after_id` (older) or the one just before `before_id` (newer); empty ids: absent.
    // A limit that is not an integer in range is refused with a 400.
    batch_answer list(std::string_view limit, const std::string& after_id,
                      const std::string& before_id);
    fake_batch_options options() const;

    void inject(injected_line line);
    void set_options(const fake_batch_options& options);

    std::size_t batches_created() const;
    std::size_t polls() const;  // retrieves answered, in_progress or not
    std::size_t lists() const;  // list pages answered
    // calls counts the calls of every batch endpoint; refused those answered 429, 529 or 500
    // by the limit and dice of the options.
    std::size_t calls() const;
    std::size_t refused() const;
    std::vector<billed_request> billed() const;

private:
    struct request {
        std::string custom_id;
        boost::json::value params;
    };
    struct batch {
        std::string id;
        std::int64_t created_ms = 0;
        std::int64_t ended_ms = 0;
        std::int64_t cancel_ms = 0;
        int polls = 0;
        std::string status = "in_progress";
        std::vector<request> requests;
        std::vector<std::string> lines;  // JSONL, once ended
        std::map<std::string, std::int64_t> counts;
    };

    std::string batch_json(const batch& b) const;
    bool due(const batch& b, std::int64_t now_ms) const;
    void end(batch& b);
    std::string line_for(const batch& b, const request& r);
    // admit_locked returns the refusal of a call by the per-minute limit or the error dice.
    std::optional<batch_answer> admit_locked(const std::string& request_id);
    std::string request_id_locked();  // a new random one for each answer, from the seed
    // find_locked returns batch `id` for a call on it that the limits and dice admit, or the
    // answer the call gets instead (the refusal, or 404).
    std::variant<batch*, batch_answer> find_locked(const std::string& id,
                                                   const std::string& request_id);

    fake_batch_options options_;
    const clock& time_;
    processor process_;
    std::function<std::string()> base_url_;

    mutable std::mutex mutex_;
    std::map<std::string, batch> batches_;           // guarded by mutex_
    std::map<std::string, injected_line> injected_;  // guarded by mutex_
    std::vector<billed_request> billed_;             // guarded by mutex_
    std::size_t created_ = 0;                        // guarded by mutex_
    std::size_t polls_ = 0;                          // guarded by mutex_
    std::uint64_t next_id_ = 1;                      // guarded by mutex_
    std::size_t refused_ = 0;                        // guarded by mutex_
    std::size_t lists_ = 0;                          // guarded by mutex_
    std::size_t calls_ = 0;                          // guarded by mutex_
    std::mt19937_64 dice_;                           // guarded by mutex_
    // Draws the request ids (apart from dice_, which the ids leave as it was); guarded by mutex_.
    std::mt19937_64 id_dice_;
    // The per-minute limit as a bucket that refills continuously; guarded by mutex_.
    std::int64_t credit_ = -1;  // -1: full at the first call
    std::int64_t credit_at_ms_ = 0;
};

// check_batch_create validates a create body: returns the rejection, or nothing when the batch
// may be created. Pure; thread-safe.
std::optional<api_reject> check_batch_create(const boost::json::value& body);

}  // namespace boomer::fakes
