// A multipart/form-data parser (RFC 7578, RFC 2046 section 5.1) over a body already in memory:
// how `POST /v1/items` reads uploaded photos and form fields.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace boomer::api {

// One form field or file.
struct part {
    std::string name;          // the form field name; never empty
    std::string filename;      // empty when the part is not a file (`filename*` wins if valid)
    std::string content_type;  // the part's Content-Type as sent; empty when it sent none
    std::string_view data;     // the part's bytes: a view into the parsed body
};

struct multipart_limits {
    std::size_t max_parts = 64;
    std::size_t max_header_bytes = 8 * 1024;  // per part, the header block without its CRLFCRLF
};

// parse_multipart splits `body` into its parts, reading the boundary from
// `content_type_header` (e.g. `multipart/form-data; boundary="x"`). The preamble and the epilogue
// are ignored; every part must have `Content-Disposition: form-data; name="..."`.
// Lifetime: each part's `data` points into `body`, which must outlive the parts.
// Errors (failure codes): not_multipart (another media type), invalid_content_type (the header
// cannot be parsed), missing_boundary, invalid_boundary (empty, over 70 characters or with
// characters RFC 2046 forbids), malformed_multipart (structure, line endings, part headers,
// no closing boundary), too_many_parts, part_header_too_large. None is retryable.
// Thread-safety: a pure function.
result<std::vector<part>> parse_multipart(std::string_view body,
                                          std::string_view content_type_header,
                                          const multipart_limits& limits = {});

// media_type_is tells whether a Content-Type header value names `essence` (e.g.
// "application/json"), ignoring case, surrounding spaces and parameters.
bool media_type_is(std::string_view content_type_header, std::string_view essence);

}  // namespace boomer::api
