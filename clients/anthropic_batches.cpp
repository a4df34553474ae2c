// Batch bodies built as text around the single-request bodies, and batch answers read with
// simdjson.
#include "clients/anthropic_batches.hpp"

#include <simdjson.h>

#include <algorithm>
#include <set>

namespace boomer::clients {
namespace {

namespace dom = simdjson::dom;

bool valid_custom_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

std::string text_at(dom::object obj, std::string_view key) {
    std::string_view value;
    return obj[key].get(value) == simdjson::SUCCESS ? std::string(value) : std::string();
}

std::int64_t count_at(dom::object obj, std::string_view key) {
    std::int64_t value = 0;
    return obj[key].get(value) == simdjson::SUCCESS ? value : 0;
}

unexpected<failure> unreadable(std::string why) {
    return fail("vision_bad_response", "A Message Batches answer could not be read (" + why + ").",
                true);
}

// Reads one results line; empty when it is not a result.
std::optional<batch_result> read_result(dom::parser& parser, std::string_view line) {
    dom::object root;
    dom::object res;
    if (parser.parse(simdjson::padded_string(line)).get(root) != simdjson::SUCCESS ||
        root["result"].get(res) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    batch_result out;
    out.custom_id = text_at(root, "custom_id");
    out.type = text_at(res, "type");
    if (out.custom_id.empty() || out.type.empty()) {
        return std::nullopt;
    }
    dom::element inner;
    if (out.type == "succeeded" && res["message"].get(inner) == simdjson::SUCCESS) {
        out.message_json = simdjson::minify(inner);
        auto reply = parse_messages_reply(out.message_json);
        if (!reply) {
            return std::nullopt;
        }
        out.reply = std::move(*reply);
    } else if (out.type == "errored" && res["error"].get(inner) == simdjson::SUCCESS) {
        auto text = simdjson::minify(inner);
        auto error = parse_api_error(0, text);
        error.status = status_of_error_type(error.type);
        out.error = std::move(error);
    }
    return out;
}

}  // namespace

result<std::string> build_batch_body(const std::vector<batch_entry>& entries,
                                     const identify_call_params& params) {
    if (entries.empty() || entries.size() > max_batch_requests) {
        return fail("bad_batch", "A batch must hold from 1 to " +
                                     std::to_string(max_batch_requests) + " requests.");
    }
    std::set<std::string_view> seen;
    std::string body = R"({"requests":[)";
    for (const auto& entry : entries) {
        if (!valid_custom_id(entry.custom_id) || !seen.insert(entry.custom_id).second) {
            return fail("bad_batch", "The batch id \"" + entry.custom_id +
                                         "\" must be unique and 1 to 64 characters of letters, "
                                         "digits, '_' and '-'.");
        }
        if (entry.request.jpeg_images.empty()) {
            return fail("bad_batch", "The batch entry \"" + entry.custom_id + "\" has no photo.");
        }
        body += seen.size() == 1 ? "" : ",";
        // The id's characters need no JSON escaping.
        body += R"({"custom_id":")" + entry.custom_id + R"(","params":)" +
                build_identify_body(entry.request, params) + "}";
    }
    return body + "]}";
}

namespace {

// read_batch reads one MessageBatch object; std::nullopt without a type, id or status.
std::optional<message_batch> read_batch(dom::object root) {
    if (text_at(root, "type") != "message_batch") {
        return std::nullopt;
    }
    message_batch batch;
    batch.id = text_at(root, "id");
    batch.processing_status = text_at(root, "processing_status");
    if (batch.id.empty() || batch.processing_status.empty()) {
        return std::nullopt;
    }
    batch.created_at = text_at(root, "created_at");
    batch.expires_at = text_at(root, "expires_at");
    batch.ended_at = text_at(root, "ended_at");
    batch.results_url = text_at(root, "results_url");
    dom::object counts;
    if (root["request_counts"].get(counts) == simdjson::SUCCESS) {
        batch.counts = {count_at(counts, "processing"), count_at(counts, "succeeded"),
                        count_at(counts, "errored"), count_at(counts, "canceled"),
                        count_at(counts, "expired")};
    }
    return batch;
}

}  // namespace

result<message_batch> parse_message_batch(std::string_view body) {
    dom::parser parser;
    dom::object root;
    if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS) {
        return unreadable("not a message_batch object");
    }
    auto batch = read_batch(root);
    if (!batch) {
        return unreadable("not a message_batch object with an id and a status");
    }
    return std::move(*batch);
}

result<batch_page> parse_batch_page(std::string_view body) {
    dom::parser parser;
    dom::object root;
    dom::array data;
    if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS ||
        root["data"].get(data) != simdjson::SUCCESS) {
        return unreadable("not a page of batches");
    }
    batch_page page;
    for (auto element : data) {
        dom::object object;
        std::optional<message_batch> batch;
        if (element.get(object) == simdjson::SUCCESS) {
            batch = read_batch(object);
        }
        if (!batch) {
            return unreadable("a page entry that is not a message_batch");
        }
        page.data.push_back(std::move(*batch));
    }
    bool more = false;
    page.has_more = root["has_more"].get(more) == simdjson::SUCCESS && more;
    page.last_id = text_at(root, "last_id");
    if (page.has_more && page.last_id.empty()) {
        return unreadable("a page with more to come but no last_id");
    }
    return page;
}

batch_results_reader::batch_results_reader(std::function<void(batch_result)> on_line)
    : on_line_(std::move(on_line)), parser_(std::make_unique<dom::parser>()) {}

batch_results_reader::~batch_results_reader() = default;

result<bool> batch_results_reader::feed(std::string_view piece) {
    for (auto end = piece.find('\n'); end != std::string_view::npos; end = piece.find('\n')) {
        auto ok = partial_.empty() ? take(piece.substr(0, end))
                                   : (partial_.append(piece.substr(0, end)), take(partial_));
        partial_.clear();
        if (!ok) {
            return ok;
        }
        piece.remove_prefix(end + 1);
    }
    partial_.append(piece);
    return true;
}

result<bool> batch_results_reader::finish() {
    auto ok = take(partial_);
    partial_.clear();
    return ok;
}

result<bool> batch_results_reader::take(std::string_view line) {
    ++lines_;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
        return true;
    }
    auto result_line = read_result(*parser_, line);
    if (!result_line) {
        return unreadable("line " + std::to_string(lines_) + " is not a batch result");
    }
    on_line_(std::move(*result_line));
    return true;
}

result<std::vector<batch_result>> parse_batch_results(std::string_view jsonl) {
    std::vector<batch_result> out;
    batch_results_reader reader([&out](batch_result line) { out.push_back(std::move(line)); });
    auto read = reader.feed(jsonl);
    if (read) {
        read = reader.finish();
    }
    if (!read) {
        return make_unexpected(read.error());
    }
    return out;
}

unsigned status_of_error_type(std::string_view type) {
    struct row {
        std::string_view type;
        unsigned status;
    };
    static constexpr row table[] = {{"invalid_request_error", 400}, {"authentication_error", 401},
                                    {"billing_error", 402},         {"permission_error", 403},
                                    {"not_found_error", 404},       {"request_too_large", 413},
                                    {"rate_limit_error", 429},      {"api_error", 500},
                                    {"timeout_error", 504},         {"overloaded_error", 529}};
    for (const auto& r : table) {
        if (r.type == type) {
            return r.status;
        }
    }
    return 500;
}

}  // namespace boomer::clients
