// The vision model as the pipeline sees it: something that looks at an item's normalized photos
// and says what the item is. Implementations live in clients/ (Claude); without one, the
// identify stage works from what local analysis found.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "pipeline/market/money.hpp"

namespace boomer::pipeline {

// What the caller keeps while an item's photo bytes are held in memory (its share of a byte
// budget): opaque to vision models, which drop it together with the bytes it stands for.
using photo_hold = std::shared_ptr<void>;

// An item's photos loaded again, with their hold.
struct loaded_photos {
    std::vector<std::string> jpeg_images;
    photo_hold hold;
};

// Loads an item's photos again: blocking reads run off the awaiting thread, after waiting for
// the bytes' share of the caller's budget. Errors: the caller's (a store that cannot be read).
using photo_loader = std::function<boost::asio::awaitable<result<loaded_photos>>()>;

struct identify_request {
    std::string item_id;
    std::vector<std::string> jpeg_images;  // normalized photos, in item order
    photo_hold hold;                       // kept as long as jpeg_images is; may be null
    // Set when the caller can load the photos again: a model that keeps the request while it
    // waits long (a batch) may then drop jpeg_images and hold, and reload them when it needs
    // them again (an escalation). Empty: the model keeps jpeg_images as long as it needs them.
    photo_loader reload_photos;
    std::string title_hint;
    std::string condition_hint;
    std::vector<std::string> barcodes;  // "EAN-13:9780140013993"
    bool bulk = false;  // the item can wait (priority bulk): a model may answer it at batch speed
    // Set when the caller would rather park the job than wait for a batch: the model then
    // answers at once, with identification::parked_in naming the batch, once the call sits in a
    // batch that was made; the same request made again after that batch ended (see
    // vision_model::on_batch_ended) gets its answer.
    bool may_park = false;
    // The item's last attempt: a bulk call no batch holds is then made synchronously, at full
    // price, so that an item whose batch lines keep failing (errored or expired lines, which
    // are not billed) still gets its answer.
    bool last_attempt = false;
    // Says, from any thread and without blocking, whether the item's job still wants the
    // answer: no longer once its lease was lost to a rescue or a cancellation, or ran out
    // unrenewed (a process stopped past it, whose job another worker may have taken). A call
    // not sent yet is then not sent (abandoned_code); a call already sent goes on (it is paid,
    // and its answer is kept for the job's next run). Empty: always wanted.
    std::function<bool()> wanted;

    // drop_photos frees the photo bytes and their hold; reload_photos brings them back.
    void drop_photos() {
        std::vector<std::string>().swap(jpeg_images);
        hold.reset();
    }
};

// request_texts_context returns a fingerprint (SHA-256 hex) of what `request` asks besides its
// photos' bytes: the title hint, the condition note, the barcodes and the number of photos. It
// is the request context (near_duplicate.hpp) of a model that adds nothing of its own; a real
// model's context also covers its models and settings (clients::identify_request_context).
// Thread-safe.
std::string request_texts_context(const identify_request& request);

// The failure code of a call refused before it was sent because the model's calls are paused
// (an open circuit breaker); it spends no attempt of the job.
inline constexpr std::string_view paused_call_code = "vision_unavailable";

// Tokens one model call used, as the model's `usage` reported them (kept raw so that cost can be
// recomputed when prices change).
struct vision_usage {
    std::int64_t input_tokens = 0;  // after the last cache breakpoint
    std::int64_t output_tokens = 0;
    std::int64_t cache_creation_input_tokens = 0;  // all cache writes
    std::int64_t cache_read_input_tokens = 0;
    // The split of cache writes by lifetime, when the answer carried it; without it every write
    // counts as a 5-minute write.
    bool has_cache_creation_split = false;
    std::int64_t cache_creation_5m_tokens = 0;
    std::int64_t cache_creation_1h_tokens = 0;
    std::string service_tier;  // "standard", "priority", "batch", or empty when not reported
};

// One call to a vision model, paid or not.
struct vision_call {
    std::string model;             // as answered (a dated id), else as requested
    std::string request_id;        // the upstream's id for support requests; empty when none came
    std::string outcome;           // "ok", or the failure code of the last attempt
    int attempts = 0;              // HTTP requests made for this call, retries included
    std::int64_t latency_ms = 0;   // all attempts and waits between them
    vision_usage usage;            // zero when the call failed
    std::int64_t cost_micros = 0;  // US dollars × 10^6, from usage and the price table
    double confidence = 0.0;       // overall confidence of this call's answer
};

struct identification {
    std::string title;
    std::string brand;
    std::string model;
    std::string category;
    std::string condition_guess;
    std::string search_query;
    double confidence = 0.0;  // 0..1, overall
    std::string source;       // "barcode", "title_hint", "sales_match", or the model id

    // Filled by vision models; empty or zero when the identification was made locally.
    std::vector<std::string> category_path;  // broadest first; `category` joins it with " > "
    std::string color;
    std::string material;
    std::string era;  // "1970s", "circa 2015"
    std::vector<std::string> distinguishing_marks;
    std::optional<market::money> price_estimate;     // the model's own guess, not market data
    std::map<std::string, double> field_confidence;  // by field name, 0..1
    bool escalated = false;                          // a stronger model was asked too
    // How the escalation ended, when there was one: "strong" (the stronger model's answer is
    // used) or "fallback" (it gave no complete answer, so the cheap model's stands), and with
    // "fallback" why: the stronger call's failure code (vision_timeout, vision_overloaded,
    // vision_deadline when the stage's deadline ended it, ...) or "incomplete".
    std::string escalation_outcome;
    std::string escalation_reason;
    std::int64_t cost_micros = 0;    // all calls, US dollars × 10^6
    std::vector<vision_call> calls;  // in the order they were made
    // Not an answer yet: the call waits in this message batch (identify_request::may_park);
    // nothing else is set.
    std::string parked_in;
};

namespace json = boost::json;

// vision_details writes what a vision model added beyond the basic identification fields:
// category_path, color, material, era, distinguishing_marks, price_estimate ({minor,
// currency} or null), field_confidence, escalation ({outcome, reason}, null when not escalated),
// and every call with its outcome, attempts, latency, cost and raw usage. Thread-safe.
json::object vision_details(const identification& id);

// A vision model. identify() may suspend on the network; it honours cancellation of the
// awaiting coroutine and returns retryable failures for overload and timeouts. A model that
// waits long (defers_bulk) should not keep the request's photos through the wait when it can
// reload them (identify_request::reload_photos).
class vision_model {
public:
    virtual ~vision_model() = default;
    virtual boost::asio::awaitable<result<identification>> identify(identify_request request) = 0;
    // defers_bulk is true when identify() of a bulk request may wait minutes or hours for a
    // batch (the caller should not hold a worker meanwhile). Thread-safe.
    virtual bool defers_bulk() const { return false; }
    // on_batch_ended sets who is told the id of each batch that held parked calls
    // (identify_request::may_park) once it has ended. Called from the model's background work;
    // it must not block. Thread-safe; a model without batches never calls it.
    virtual void on_batch_ended(std::function<void(const std::string& batch_id)> listener) {
        (void)listener;
    }

    // watch_batch asks for the end of batch `batch_id` to be told to that listener although no
    // call of this process may wait in it: jobs parked on it by a process that stopped.
    // Thread-safe; a model without batches ignores it.
    virtual void watch_batch(const std::string& batch_id) { (void)batch_id; }

    // on_resumed sets who is told that calls refused for a pause (an open circuit breaker,
    // failure code paused_call_code) may go again: a trial call succeeded. Called from the
    // model's calls; it must not block. Thread-safe; a model without a breaker never calls it.
    virtual void on_resumed(std::function<void()> listener) { (void)listener; }

    // stop_calls_by says the process stops at `epoch_ms` (its drain's end): a call that could
    // not be answered by then is not sent, and fails with stopping_code (retried later, no
    // attempt spent). Thread-safe.
    virtual void stop_calls_by(std::int64_t epoch_ms) { (void)epoch_ms; }
};

// The failure code of a call not sent because the process stops before it could be answered.
inline constexpr std::string_view stopping_code = "vision_stopping";

// fixable_refusal says whether Claude refused a call for a reason the operator ends by changing
// the configuration (the API key, billing, the model's name): made again once that is done, the
// same call can succeed, where a refused request (a bad photo) cannot.
bool fixable_refusal(std::string_view code);

// refused_fixably says whether an identify stage's output went on without the vision model
// because of such a refusal (its "vision_error"): a retry of the item identifies it again.
bool refused_fixably(const boost::json::value& identification);

// The failure code of a call not sent because its item's job gave it up
// (identify_request::wanted); nothing was spent.
inline constexpr std::string_view abandoned_code = "vision_abandoned";

}  // namespace boomer::pipeline
