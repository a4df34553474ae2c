// How claude_vision keeps paid answers in an answer_store: the key of a call, and the stored
// value (the answer body and the item that paid for it).
#pragma once

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

}  // namespace boomer::clients
