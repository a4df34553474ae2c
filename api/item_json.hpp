// The JSON form of `POST /v1/items`: the multipart form's fields as members, and `photos`, an
// array of 1 to 12 entries, each {"data": "<base64>"} (with an optional "filename" and
// "content_type") or {"url": "https://..."}:
//
//   {"title_hint": "Canned chickpeas", "condition": "new", "priority": "bulk",
//    "photos": [{"data": "iVBORw0KGgo...", "filename": "front.png"},
//               {"url": "https://photos.example/back.jpg"}]}
//
// Reading is split so that nothing slow runs on an I/O thread: read_item_json checks the shape
// (fast), decode_photos decodes the base64 (run with intake on the store pool), and the URLs are
// fetched by pipeline::fetch_photos in between.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "pipeline/intake.hpp"

namespace boomer::api {

// Failure codes of the JSON form besides intake's; the route maps each to an HTTP status.
namespace json_error {
inline constexpr std::string_view malformed = "malformed_json";       // 400
inline constexpr std::string_view invalid_field = "invalid_field";    // 400: wrong type or value
inline constexpr std::string_view unknown_field = "unknown_field";    // 400
inline constexpr std::string_view invalid_base64 = "invalid_base64";  // 400
}  // namespace json_error

// A failure and the JSON pointer (RFC 6901) of the member it is about ("" for the whole body).
struct input_error {
    failure what;
    std::string pointer;
};

struct json_photo {
    std::string filename;
    std::string_view base64;  // for a "data" photo: the text, inside the parser's memory
    std::string url;          // for a "url" photo
    std::string bytes;        // decoded or fetched
};

struct item_json {
    pipeline::intake_request request;  // the fields; files are set by attach_photos
    std::vector<json_photo> photos;
};

// read_item_json checks `body` and reads its fields and photo entries. Photo count and, from
// the base64 length, each photo's size are checked against `limits` here, before anything is
// decoded or fetched. Lifetime: the photos' base64 views point into `parser`, which must not
// parse again until decode_photos has run. Thread-safe with one parser per call.
result<item_json, input_error> read_item_json(std::string_view body, simdjson::dom::parser& parser,
                                              const pipeline::intake_limits& limits);

// decode_photos decodes every "data" photo into its bytes. Errors: invalid_base64, or
// file_too_large when a photo decodes to more than the limit. CPU work: not on an I/O thread.
result<bool, input_error> decode_photos(item_json& item, const pipeline::intake_limits& limits);

// attach_photos points the intake request's files at the photos' bytes (which must stay put).
void attach_photos(item_json& item);

}  // namespace boomer::api
