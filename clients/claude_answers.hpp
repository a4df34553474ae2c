// How claude_vision keeps paid answers in an answer_store: the store itself (the shared level
// behind the answers kept in memory), the key of a call, and the stored value (the answer body
// and the item that paid for it); and how the batcher records the batch that holds a call, so
// that a restart waits for it instead of paying again.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/tiered_cache.hpp"

namespace boomer::clients {

// Where paid answers are kept so that one call is never paid for twice: not by a resubmitted
// item, a retried job or a replica that restarted. It is the second level of claude_vision's
// answer cache (cache::tiered_cache: memory first, then this store, then the paid call), and
// the batcher keeps its batch records in it. Keys are made by claude_vision from the exact
// request body and the prompt version, so two calls share an entry only when every generation
// parameter, the model and every image byte are the same; values are opaque JSON text.
//
// Implementations may forget entries at any time (a miss costs one call, never correctness) and
// are called concurrently from any thread. get and put may block (SQL): they run on pool(), or
// inline when it is null (only for stores that never block). A get that throws counts as a
// miss, a put that throws is skipped.
class answer_store : public cache::second_level {
public:
    virtual boost::asio::thread_pool* pool() = 0;
};

// read_answer / write_answer call `store`'s get and put on its pool (inline without one), and
// treat an exception as a miss or a skipped write. `store`, `key` and `value` must outlive the
// call.
boost::asio::awaitable<std::optional<std::string>> read_answer(answer_store& store,
                                                               const std::string& key,
                                                               std::int64_t now_ms);
boost::asio::awaitable<void> write_answer(answer_store& store, const std::string& key,
                                          const std::string& value, std::int64_t expires_at_ms);

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
