// Error responses as RFC 9457 problem details (`application/problem+json`): the one shape every
// client-visible error takes, with a stable `type` URI per kind of problem.
//
// Type URIs are absolute: "https://boomer.dev/problems/<slug>", the slug in kebab-case
// ("unsupported-media-type"). A problem's `detail` is written for the client; internal messages
// and exception texts belong in the log, never here.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace boomer::api {

namespace http = boost::beast::http;

inline constexpr std::string_view problem_content_type = "application/problem+json";
inline constexpr std::string_view problem_type_base = "https://boomer.dev/problems/";

// One problem occurrence. `status` is the HTTP status code; `extra` holds extension members
// (e.g. "limit_bytes"); an extension named like a standard member is ignored on output.
struct problem {
    int status = 500;
    std::string type;      // problem_type_uri(slug); "about:blank" when empty
    std::string title;     // the same for every occurrence of a type
    std::string detail;    // this occurrence, for the client
    std::string instance;  // optional URI reference of this occurrence
    boost::json::object extra;
};

// problem_type_uri returns problem_type_base + slug, e.g. ".../problems/not-found".
std::string problem_type_uri(std::string_view slug);

// to_json serializes `p` as a JSON object: type, title, status, detail, instance (the last two
// only when not empty), then the extension members.
std::string to_json(const problem& p);

// to_response builds the response for `p`: its status, Content-Type application/problem+json and
// the JSON body. Version and keep-alive are left for the server to set.
http::response<http::string_body> to_response(const problem& p);

// make_problem builds a problem of type `slug` whose title is the status's reason phrase.
problem make_problem(http::status status, std::string_view slug, std::string detail);

// from_failure maps an expected failure to a problem with the given status: the slug is the
// failure code in kebab-case, the detail its message, and the extension member "code" the code
// itself. Only for failures whose message is meant for the client.
problem from_failure(http::status status, const failure& f);

// The common problems. Their detail texts say what the client can do about them.
problem bad_request(std::string detail);
problem not_found(std::string detail = "No resource exists at this URL.");
// method_not_allowed names the method and the allowed ones (`allow` as in the Allow header).
problem method_not_allowed(std::string_view method, std::string_view allow);
// payload_too_large states the limit in bytes (also as the extension "limit_bytes").
problem payload_too_large(std::size_t limit_bytes);
// unsupported_media_type names what was received and what is accepted (extension "accepted").
problem unsupported_media_type(std::string_view received, const std::vector<std::string>& accepted);
problem request_header_fields_too_large(std::size_t limit_bytes);
// internal is the generic 500: it never carries the cause, only where to look (the request id).
problem internal();

}  // namespace boomer::api
