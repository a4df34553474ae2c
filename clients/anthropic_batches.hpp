// The Message Batches API (half price, answers within 24 hours) as far as boomer needs it: the
// body that submits many identification requests at once, and reading the batch object and its
// JSONL results. Pure and thread-safe; claude_batcher.hpp submits and polls with them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/anthropic_messages.hpp"
#include "core/result.hpp"

namespace simdjson::dom {
class parser;
}

namespace boomer::clients {

// One request of a batch; `custom_id` is how its result is found again (results come back in
// any order).
struct batch_entry {
    std::string custom_id;  // 1..64 characters of [A-Za-z0-9_-], unique in the batch
    pipeline::identify_request request;
};

inline constexpr std::size_t max_batch_requests = 10'000;  // the stricter documented bound

// build_batch_body returns the JSON body of POST /v1/messages/batches: each entry's Messages
// parameters as build_identify_body makes them. Errors ("bad_batch", permanent): no entries,
// more than max_batch_requests, a custom_id that is empty, too long, has other characters, or is
// repeated, or an entry without photos.
result<std::string> build_batch_body(const std::vector<batch_entry>& entries,
                                     const identify_call_params& params);

struct batch_counts {
    std::int64_t processing = 0;
    std::int64_t succeeded = 0;
    std::int64_t errored = 0;
    std::int64_t canceled = 0;
    std::int64_t expired = 0;
};

// A MessageBatch object.
struct message_batch {
    std::string id;                 // "msgbatch_..."
    std::string processing_status;  // "in_progress", "canceling" or "ended"
    batch_counts counts;
    std::string created_at;
    std::string expires_at;
    std::string ended_at;     // empty until ended
    std::string results_url;  // empty until ended; use it as given, never build it

    bool ended() const { return processing_status == "ended"; }
};

// parse_message_batch reads a batch object leniently. Errors: "vision_bad_response" when the
// body is not a message_batch with an id and a status.
result<message_batch> parse_message_batch(std::string_view body);

// One page of GET /v1/messages/batches (newest first): the next, older page is asked for with
// after_id=last_id while has_more.
struct batch_page {
    std::vector<message_batch> data;
    bool has_more = false;
    std::string last_id;
};

// parse_batch_page reads a list page. Errors: "vision_bad_response" when the body has no data
// array, an entry is not a batch, or more pages are announced without a last_id.
result<batch_page> parse_batch_page(std::string_view body);

// One line of a batch's results.
struct batch_result {
    std::string custom_id;
    std::string type;                     // "succeeded", "errored", "canceled" or "expired"
    std::optional<messages_reply> reply;  // succeeded
    std::string message_json;             // succeeded: the message as received (minified)
    std::optional<api_error> error;       // errored; status derived from the error type
};

// parse_batch_results reads the JSONL results (blank lines skipped). Errors:
// "vision_bad_response" naming the first line that is not a result.
result<std::vector<batch_result>> parse_batch_results(std::string_view jsonl);

// batch_results_reader reads JSONL results as they arrive, in pieces cut anywhere: each line
// goes to `on_line` once its newline (or the end) is read, and only the unfinished line is
// kept. Errors of feed and finish as parse_batch_results'; after one, stop feeding. Not
// thread-safe: one reader per stream.
class batch_results_reader {
public:
    explicit batch_results_reader(std::function<void(batch_result)> on_line);
    ~batch_results_reader();
    batch_results_reader(const batch_results_reader&) = delete;
    batch_results_reader& operator=(const batch_results_reader&) = delete;

    result<bool> feed(std::string_view piece);
    result<bool> finish();  // the last line, when it has no newline

private:
    result<bool> take(std::string_view line);

    std::function<void(batch_result)> on_line_;
    std::unique_ptr<simdjson::dom::parser> parser_;
    std::string partial_;
    std::size_t lines_ = 0;
};

// status_of_error_type maps an error.type to the HTTP status the synchronous API would use
// (batch results carry no status): invalid_request_error 400, authentication_error 401, ...,
// overloaded_error 529; unknown types 500.
unsigned status_of_error_type(std::string_view type);

}  // namespace boomer::clients
