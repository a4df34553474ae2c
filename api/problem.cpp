// RFC 9457 problem details: JSON encoding and the common problems.
#include "api/problem.hpp"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <utility>

namespace boomer::api {
namespace {

constexpr std::array<std::string_view, 5> standard_members = {"type", "title", "status", "detail",
                                                              "instance"};

bool is_standard_member(std::string_view key) {
    for (std::string_view member : standard_members) {
        if (key == member) {
            return true;
        }
    }
    return false;
}

std::string kebab_case(std::string_view code) {
    std::string slug(code);
    for (char& c : slug) {
        if (c == '_') {
            c = '-';
        }
    }
    return slug;
}

// Splits an Allow header value ("GET, HEAD") into its methods.
boost::json::array allow_list(std::string_view allow) {
    boost::json::array methods;
    while (!allow.empty()) {
        std::size_t comma = allow.find(',');
        std::string_view method = allow.substr(0, comma);
        while (!method.empty() && method.front() == ' ') {
            method.remove_prefix(1);
        }
        if (!method.empty()) {
            methods.emplace_back(method);
        }
        allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 1);
    }
    return methods;
}

}  // namespace

std::string problem_type_uri(std::string_view slug) {
    std::string uri(problem_type_base);
    uri += slug;
    return uri;
}

std::string to_json(const problem& p) {
    boost::json::object out;
    out["type"] = p.type.empty() ? std::string_view("about:blank") : std::string_view(p.type);
    out["title"] = p.title;
    out["status"] = p.status;
    if (!p.detail.empty()) {
        out["detail"] = p.detail;
    }
    if (!p.instance.empty()) {
        out["instance"] = p.instance;
    }
    for (const auto& [key, value] : p.extra) {
        if (!is_standard_member(key)) {
            out[key] = value;
        }
    }
    return boost::json::serialize(out);
}

http::response<http::string_body> to_response(const problem& p) {
    http::response<http::string_body> res;
    res.result(static_cast<unsigned>(p.status));
    res.set(http::field::content_type, problem_content_type);
    res.body() = to_json(p);
    return res;
}

problem make_problem(http::status status, std::string_view slug, std::string detail) {
    problem p;
    p.status = static_cast<int>(status);
    p.type = problem_type_uri(slug);
    p.title = std::string(http::obsolete_reason(status));
    p.detail = std::move(detail);
    // Every problem names its kind in `code` too, as failures do: "not_found", "bad_request".
    std::string code(slug);
    std::replace(code.begin(), code.end(), '-', '_');
    p.extra["code"] = code;
    return p;
}

problem from_failure(http::status status, const failure& f) {
    problem p = make_problem(status, kebab_case(f.code), f.message);
    p.extra["code"] = f.code;
    return p;
}

problem bad_request(std::string detail) {
    return make_problem(http::status::bad_request, "bad-request", std::move(detail));
}

problem not_found(std::string detail) {
    return make_problem(http::status::not_found, "not-found", std::move(detail));
}

problem method_not_allowed(std::string_view method, std::string_view allow) {
    problem p = make_problem(
        http::status::method_not_allowed, "method-not-allowed",
        std::string(method) + " is not allowed on this URL; allowed: " + std::string(allow) + ".");
    p.extra["allowed"] = allow_list(allow);
    return p;
}

problem payload_too_large(std::size_t limit_bytes) {
    problem p = make_problem(http::status::payload_too_large, "payload-too-large",
                             "The request body is larger than the limit of " +
                                 std::to_string(limit_bytes) + " bytes; send less data.");
    p.extra["limit_bytes"] = limit_bytes;
    return p;
}

problem unsupported_media_type(std::string_view received,
                               const std::vector<std::string>& accepted) {
    std::string list;
    boost::json::array accepted_json;
    for (const std::string& type : accepted) {
        list += list.empty() ? "" : ", ";
        list += type;
        accepted_json.emplace_back(type);
    }
    // The received type is echoed (JSON-escaped) but cut short: it is client-controlled text.
    constexpr std::size_t max_shown = 100;
    std::string shown = received.empty() ? std::string("no content type")
                                         : std::string(received.substr(0, max_shown));
    problem p = make_problem(
        http::status::unsupported_media_type, "unsupported-media-type",
        "The content type '" + shown + "' is not accepted here; use one of: " + list + ".");
    p.extra["accepted"] = std::move(accepted_json);
    return p;
}

problem request_header_fields_too_large(std::size_t limit_bytes) {
    problem p = make_problem(http::status::request_header_fields_too_large,
                             "request-header-fields-too-large",
                             "The request headers are larger than the limit of " +
                                 std::to_string(limit_bytes) + " bytes.");
    p.extra["limit_bytes"] = limit_bytes;
    return p;
}

problem internal() {
    return make_problem(http::status::internal_server_error, "internal",
                        "The server failed to handle this request. Retry later; if it keeps "
                        "failing, report the x-request-id response header.");
}

}  // namespace boomer::api
