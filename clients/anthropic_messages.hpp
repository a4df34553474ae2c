// The Anthropic Messages API as boomer uses it: the identification request (system prompt with a
// cache breakpoint, images first then text, a forced tool whose input is our identification
// record), and lenient reading of what comes back: the answer, its usage, the error shapes, the
// rate-limit and retry headers, and whether a failed call may be retried.
//
// Everything here is pure and thread-safe; nothing touches the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/https_client.hpp"
#include "core/result.hpp"
#include "pipeline/vision.hpp"

namespace boomer::clients {

inline constexpr std::string_view anthropic_version = "2023-06-01";
inline constexpr std::string_view identify_tool_name = "record_identification";
// Changes whenever the prompt or the tool schema changes (part of cache keys).
inline constexpr std::string_view identify_prompt_version = "identify-v1";

// identify_system_prompt returns the instructions sent as the system prompt: long enough (well
// over 4096 tokens with the tool definition) to be cached on every current model.
std::string_view identify_system_prompt();

// The fields every useful identification has; an answer missing one of them is escalated.
inline constexpr std::string_view required_identification_fields[] = {"title", "category_path",
                                                                      "search_query"};

struct identify_call_params {
    std::string model;                  // alias or dated id
    int max_tokens = 2048;              // enough for the record; far below every model's ceiling
    std::string cache_ttl;              // "" (the 5-minute default), "5m" or "1h"
    std::optional<double> temperature;  // only for models that accept it; never with top_p
};

// build_identify_body returns the JSON body of POST /v1/messages for `request`: the system prompt
// as one text block carrying cache_control, one user turn with every JPEG as a base64 image
// block (media_type image/jpeg) followed by one text block (title hint, condition hint,
// barcodes), the identification tool and tool_choice forcing it. Preconditions: at least one
// image, and the images are JPEG bytes (normalized photos). Thread-safe.
std::string build_identify_body(const pipeline::identify_request& request,
                                const identify_call_params& params);

// The `anthropic-ratelimit-*` headers of one answer; absent values stay empty.
struct rate_limit_bucket {
    std::optional<std::int64_t> limit;
    std::optional<std::int64_t> remaining;
    std::string reset;  // RFC 3339, as sent
};

struct rate_limits {
    rate_limit_bucket requests;
    rate_limit_bucket tokens;
    rate_limit_bucket input_tokens;
    rate_limit_bucket output_tokens;
};

// What the headers of any answer say.
struct response_meta {
    std::string request_id;
    std::optional<bool> should_retry;                      // x-should-retry
    std::optional<std::chrono::milliseconds> retry_after;  // retry-after-ms, then retry-after
    rate_limits limits;
};

// read_response_meta reads the headers of `response`. `retry-after` may be seconds (a fraction
// is allowed) or an HTTP date, compared with `now_epoch_ms`; unreadable values are ignored.
response_meta read_response_meta(const http_response& response, std::int64_t now_epoch_ms);

// An error answer's body. Every part is optional on the wire: `type` and `request_id` are
// missing from the 413 that the edge sends, and `request_id` may be null.
struct api_error {
    unsigned status = 0;
    std::string type;  // error.type: "invalid_request_error", "overloaded_error", ...
    std::string message;
    std::string request_id;
};

// parse_api_error reads an error body leniently; a body that is not the documented shape keeps
// `type` empty and puts a short excerpt of the body in `message`.
api_error parse_api_error(unsigned status, std::string_view body);

// classify_error turns an error answer into the failure the caller sees. Codes:
//   vision_bad_request (400, 409, 422), vision_auth (401, 403), vision_billing (402),
//   vision_not_found (404), vision_request_too_large (413), vision_rate_limited (429),
//   vision_upstream_error (500, 504, other 5xx), vision_overloaded (529),
//   vision_http_error (anything else).
// Retryable: 408, 409, 429 and every 5xx, unless `x-should-retry` says otherwise (the header
// wins when present). Thread-safe.
failure classify_error(const api_error& error, const response_meta& meta);

// A successful answer, with the tool's input read into an identification.
struct messages_reply {
    std::string id;
    std::string model;  // the dated id the API resolved
    std::string stop_reason;
    pipeline::vision_usage usage;
    bool has_tool_use = false;                // a tool_use block for our tool was found
    pipeline::identification identification;  // only the fields the tool input carried
    std::vector<std::string> missing_fields;  // required fields absent or empty
};

// parse_messages_reply reads a 200 body leniently: unknown blocks and fields are ignored, cache
// usage fields default to 0. Errors: "vision_bad_response" (retryable) when the body is not JSON,
// has no usage, or is not a message. A message without our tool_use block is a value with
// has_tool_use false. Thread-safe.
result<messages_reply> parse_messages_reply(std::string_view body);

// identification_tool_json returns the tool definition (name, description, input_schema) as
// JSON text, exactly as build_identify_body sends it.
std::string identification_tool_json();

}  // namespace boomer::clients
