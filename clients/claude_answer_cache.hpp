// The answers of claude_vision's model calls and the cache that keeps the paid ones: in memory,
// then in the answer store shared by replicas (cache::tiered_cache), by the call's answer key.
// Internal to the vision client (claude_vision.cpp): it decides what is kept and how it is
// written, measured and claimed.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cache/tiered_cache.hpp"
#include "clients/anthropic_messages.hpp"
#include "clients/claude_vision.hpp"
#include "pipeline/vision.hpp"

namespace boomer::clients {

// What one model call (all its attempts) produced.
struct model_answer {
    pipeline::vision_call record;
    std::optional<messages_reply> reply;
    std::optional<failure> error;
    std::string body;     // the 200 answer as received, kept for the answer store
    std::string paid_by;  // the item whose identification paid for the answer
    // Set with a vision_batch_parked error: the call waits in this batch (batch_call::park).
    std::string parked_in;
    // Set when the call keeper journaled this answer: its key, forgotten once the answer is kept.
    std::string keep_key;
};

// heap_size returns the bytes a model answer owns on the heap, so that the memory level of the
// answer cache measures it deeply (cache::deep_size finds it by argument lookup).
std::size_t heap_size(const model_answer& a);

// A paid answer's text in the answer store: its body and the item that paid.
std::string encode_answer(const model_answer& a);

// decode_answer reads a stored answer back; nothing for text that is damaged or not an answer
// (it is paid for again rather than trusted). The record is the reply's; each caller prices it
// for itself (see claude_vision::impl::reused).
std::optional<model_answer> decode_answer(std::string_view text);

// Only paid answers are kept: failures, and answers another item paid for inside a batch (their
// payer keeps them), are passed on to the calls waiting for them and no further.
bool keepable(const model_answer& a);

using answer_cache = cache::tiered_cache<model_answer>;

// The answer cache's settings: "vision_answers" in the cache metrics (its store level:
// "vision_answers_store").
cache::tiered_options<model_answer> answer_cache_options(const claude_options& o);

// The lead of a bulk call's flight in the answer cache (answer_cache::try_lead), held by the
// coroutine that waits for the call's batch: identical calls of other items wait for it as for
// any load, while the wait keeps none of the cache's frames. Ended by land(), or abandoned when
// the coroutine ends without an answer (cancelled, or never run).
class flight_lead {
public:
    flight_lead(answer_cache& cache, std::string key) : cache_(&cache), key_(std::move(key)) {}
    flight_lead(flight_lead&& other) noexcept
        : cache_(std::exchange(other.cache_, nullptr)), key_(std::move(other.key_)) {}
    flight_lead& operator=(flight_lead&&) = delete;
    ~flight_lead() {
        if (cache_ != nullptr) {
            cache_->abandon(key_);
        }
    }

    const std::string& key() const { return key_; }

    // land hands `answer`, found at `from`, to the calls waiting; once.
    void land(const model_answer& answer, cache::found_in from) {
        std::exchange(cache_, nullptr)->land(key_, answer, from);
    }

private:
    answer_cache* cache_;
    std::string key_;
};

}  // namespace boomer::clients
