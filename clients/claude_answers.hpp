// How claude_vision keeps paid answers in an answer_store: the key of a call, and the stored
// value (the answer body and the item that paid for it); and how the batcher records the batch
// that holds a call, so that a restart waits for it instead of paying again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boomer::clients {

// answer_key names a Messages call by everything that shapes its answer: the prompt version
// and the exact request body (model, max_tokens, sampling parameters, system prompt, tool
// schema, every image byte, the hints). SHA-256 hex with a "claude:" prefix. Thread-safe.
std::string answer_key(std::string_view request_body);

struct stored_answer {
    std::string body;     // the 200 Messages answer as received
    std::string paid_by;  // item id of the identification that paid for it
};

// encode_stored_answer / decode_stored_answer turn a stored_answer into the store's text and
// back. decode returns std::nullopt for text it did not write (a damaged or foreign entry), so
// the caller pays for a fresh answer instead of trusting it.
std::string encode_stored_answer(const stored_answer& answer);
std::optional<stored_answer> decode_stored_answer(std::string_view value);

// The batch that holds a call: kept under batch_record_key(answer key) from just before the
// batch is created until the call's line did not succeed (then cleared: the next attempt submits
// anew). A succeeded line needs no clearing: its answer is stored under the answer key itself.
// Until the create answer names the batch, the record is an intent (no batch_id, the time the
// submission began): a process that dies in between leaves the intent, and whoever finds it
// looks for the batch among those created since, instead of submitting (and paying) again.
struct batch_record {
    std::string batch_id;              // "msgbatch_..."; empty in an intent
    std::string custom_id;             // the call's line in that batch
    std::string paid_by;               // item id of the call that submitted it
    std::int64_t submitted_at_ms = 0;  // an intent: when the submission began (epoch ms)

    bool intent() const { return batch_id.empty(); }
};

// batch_record_key returns "batch:" + `answer_key`. Thread-safe.
std::string batch_record_key(std::string_view answer_key);

// encode_batch_record / decode_batch_record turn a record into the store's text and back;
// decode returns std::nullopt for a cleared record and for text it did not write (an intent
// must carry its time).
// cleared_batch_record is the text that clears one. Thread-safe.
std::string encode_batch_record(const batch_record& record);
std::optional<batch_record> decode_batch_record(std::string_view value);
const std::string& cleared_batch_record();

}  // namespace boomer::clients
