// The context of a Claude identification: what claude_vision would send for an item besides the
// bytes of its photos. Two items with the same context asked the same question of the same
// models, so one may lend the other its answer when their photos are near-duplicates
// (pipeline/near_duplicate.hpp).
#pragma once

#include <string>

#include "clients/anthropic_messages.hpp"
#include "clients/claude_vision.hpp"
#include "pipeline/vision.hpp"

namespace boomer::clients {

// identify_params returns the parameters claude_vision's identify calls of `model` are built
// with: the same for the calls and for the fingerprint below.
identify_call_params identify_params(const claude_options& options, const std::string& model);

// identify_request_context returns a fingerprint (SHA-256 hex) of the requests identify() would
// make for `request`: the cheap and the strong model's bodies as build_identify_body writes them
// with every photo left empty (so the models, max_tokens, cache lifetime, system prompt and tool
// schema, the item's title hint, condition note and barcodes, and the number of photos count,
// but not the photos' bytes), the prompt version and the threshold that decides an escalation.
// Only the number of request.jpeg_images is read, not their bytes. Thread-safe.
std::string identify_request_context(pipeline::identify_request request,
                                     const claude_options& options);

}  // namespace boomer::clients
