// The fake's batch desk: creation checks, the in_progress → ended life of a batch, and its
// JSONL results.
#include "tests/fakes/fake_batches.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <set>
#include <variant>

namespace boomer::fakes {
namespace {

namespace json = boost::json;

constexpr std::size_t max_requests = 10'000;  // the API reference's bound (see §11 of the facts)
constexpr std::int64_t day_ms = 24 * 3'600'000;

struct refusal {
    api_reject answer;
};

[[noreturn]] void refuse(std::string message) {
    throw refusal{api_reject{400, "invalid_request_error", std::move(message)}};
}

// Every answer carries its request id in a request-id header, and an error's body repeats it.
batch_answer ok_answer(std::string body, const std::string& request_id,
                       std::string content_type = "application/json") {
    return batch_answer{
        200, std::move(body), std::move(content_type), {{"request-id", request_id}}};
}

batch_answer error_answer(int status, const std::string& type, const std::string& message,
                          const std::string& request_id) {
    auto body = json::serialize(json::object{{"type", "error"},
                                             {"error", {{"type", type}, {"message", message}}},
                                             {"request_id", request_id}});
    return batch_answer{status, std::move(body), "application/json", {{"request-id", request_id}}};
}

batch_answer not_found(const std::string& id, const std::string& request_id) {
    return error_answer(404, "not_found_error", "batch " + id + " was not found", request_id);
}

// parse_limit reads the `limit` of a list: empty text is the default of 20; the error is the
// message of the 400 for text that is not an integer in 1..1000.
std::variant<int, std::string> parse_limit(std::string_view text) {
    int limit = 20;
    if (text.empty()) {
        return limit;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::string("limit: Input should be a valid integer");
    }
    if (limit < 1 || limit > 1000) {
        return std::string("limit: Input should be ") +
               (limit < 1 ? "greater than or equal to 1" : "less than or equal to 1000");
    }
    return limit;
}

void check_custom_id(const json::object& r, const std::string& path) {
    const auto* id = r.if_contains("custom_id");
    if (id == nullptr) {
        refuse(path + ".custom_id: Field required");
    }
    if (!id->is_string()) {
        refuse(path + ".custom_id: Input should be a valid string");
    }
    std::string_view text = id->as_string();
    if (text.empty()) {
        refuse(path + ".custom_id: String should have at least 1 character");
    }
    if (text.size() > 64) {  // the real text
        refuse(path + ".custom_id: String should have at most 64 characters");
    }
    bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    if (!plain) {
        refuse(path + ".custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
    }
}

void check_request(const json::value& v, std::size_t i, std::set<std::string>& seen) {
    auto path = "requests." + std::to_string(i);
    if (!v.is_object()) {
        refuse(path + ": Input should be a valid dictionary");
    }
    const auto& r = v.as_object();
    for (const auto& [key, value] : r) {
        if (key != "custom_id" && key != "params") {
            refuse(path + "." + std::string(key) + ": Extra inputs are not permitted");
        }
    }
    check_custom_id(r, path);
    const auto* params = r.if_contains("params");
    if (params == nullptr) {
        refuse(path + ".params: Field required");
    }
    if (!params->is_object()) {
        refuse(path + ".params: Input should be a valid dictionary");
    }
    std::string id(r.at("custom_id").as_string());
    if (!seen.insert(id).second) {
        refuse("requests: custom_id values must be unique within a batch; found \"" + id +
               "\" more than once");
    }
}

void check_create(const json::value& body) {
    if (!body.is_object()) {
        refuse("Input should be a valid dictionary");
    }
    for (const auto& [key, value] : body.as_object()) {
        if (key != "requests") {
            refuse(std::string(key) + ": Extra inputs are not permitted");
        }
    }
    const auto* requests = body.as_object().if_contains("requests");
    if (requests == nullptr) {
        refuse("requests: Field required");
    }
    if (!requests->is_array()) {
        refuse("requests: Input should be a valid list");
    }
    const auto& list = requests->as_array();
    if (list.empty() || list.size() > max_requests) {
        refuse(std::string("requests: List should have at ") +
               (list.empty() ? "least 1 item" : "most 10000 items") + " after validation, not " +
               std::to_string(list.size()));
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < list.size(); ++i) {
        check_request(list[i], i, seen);
    }
}

std::string errored_line(const std::string& custom_id, const std::string& type,
                         const std::string& message) {
    json::object error{
        {"details", {{"error_visibility", "user_facing"}}}, {"type", type}, {"message", message}};
    json::object result{
        {"type", "errored"},
        {"error", {{"type", "error"}, {"error", std::move(error)}, {"request_id", nullptr}}}};
    return json::serialize(json::object{{"custom_id", custom_id}, {"result", std::move(result)}});
}

std::string bare_line(const std::string& custom_id, const std::string& type) {
    return json::serialize(json::object{{"custom_id", custom_id}, {"result", {{"type", type}}}});
}

json::value nullable(const std::string& text) {
    return text.empty() ? json::value(nullptr) : json::value(text);
}

std::string time_or_empty(std::int64_t ms) {
    return ms == 0 ? std::string() : rfc3339(ms);
}

}  // namespace

std::optional<api_reject> check_batch_create(const json::value& body) {
    try {
        check_create(body);
    } catch (refusal& r) {
        return std::move(r.answer);
    }
    return std::nullopt;
}

fake_batch_desk::fake_batch_desk(fake_batch_options options, const clock& time, processor process,
                                 std::function<std::string()> base_url)
    : options_(options),
      time_(time),
      process_(std::move(process)),
      base_url_(std::move(base_url)),
      dice_(options.seed),
      id_dice_(options.seed + 1) {}

std::string fake_batch_desk::request_id_locked() {
    static constexpr std::string_view chars =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string id = "req_011";
    for (int i = 0; i < 21; ++i) {
        id += chars[id_dice_() % chars.size()];
    }
    return id;
}

std::optional<batch_answer> fake_batch_desk::admit_locked(const std::string& request_id) {
    ++calls_;
    const auto now = time_.now_ms();
    if (options_.requests_per_minute > 0) {
        // In units of 1/60,000 of a call: the bucket gains `limit` units a millisecond, holds a
        // minute's worth, and a call costs 60,000.
        const std::int64_t limit = options_.requests_per_minute;
        const std::int64_t cost = 60'000;
        credit_ = credit_ < 0 ? limit * cost
                              : std::min(limit * cost, credit_ + (now - credit_at_ms_) * limit);
        credit_at_ms_ = now;
        if (credit_ < cost) {
            ++refused_;
            const std::int64_t wait_ms = (cost - credit_ + limit - 1) / limit;
            auto a = error_answer(429, "rate_limit_error",
                                  "This request would exceed your organization's rate limit of " +
                                      std::to_string(limit) +
                                      " requests per minute to the Message Batches API. Please "
                                      "try again later.",
                                  request_id);
            a.headers.emplace_back(
                "retry-after", std::to_string(std::max<std::int64_t>(1, (wait_ms + 999) / 1000)));
            a.headers.emplace_back("x-should-retry", "true");
            return a;
        }
        credit_ -= cost;
    }
    double roll = std::uniform_real_distribution<double>(0.0, 1.0)(dice_);
    if (roll < options_.overloaded_share) {
        ++refused_;
        auto a = error_answer(529, "overloaded_error", "Overloaded", request_id);
        a.headers.emplace_back("x-should-retry", "true");
        return a;
    }
    if (roll < options_.overloaded_share + options_.internal_share) {
        ++refused_;
        auto a = error_answer(500, "api_error", "Internal server error", request_id);
        a.headers.emplace_back("x-should-retry", "true");
        return a;
    }
    return std::nullopt;
}

std::string fake_batch_desk::batch_json(const batch& b) const {
    bool ended = b.status == "ended";
    auto count = [&b](const char* kind) {
        auto found = b.counts.find(kind);
        return found == b.counts.end() ? std::int64_t{0} : found->second;
    };
    std::string url;
    if (ended) {
        url = base_url_() + (options_.unusual_results_path
                                 ? "/v1/files/" + b.id + "_results.jsonl"
                                 : "/v1/messages/batches/" + b.id + "/results");
    }
    json::object counts{{"processing", ended ? 0 : static_cast<std::int64_t>(b.requests.size())},
                        {"succeeded", count("succeeded")},
                        {"errored", count("errored")},
                        {"canceled", count("canceled")},
                        {"expired", count("expired")}};
    return json::serialize(
        json::object{{"id", b.id},
                     {"type", "message_batch"},
                     {"processing_status", b.status},
                     {"request_counts", std::move(counts)},
                     {"ended_at", nullable(time_or_empty(b.ended_ms))},
                     {"created_at", rfc3339(b.created_ms)},
                     {"expires_at", rfc3339(b.created_ms + day_ms)},
                     {"archived_at", nullptr},
                     {"cancel_initiated_at", nullable(time_or_empty(b.cancel_ms))},
                     {"results_url", nullable(url)}});
}

batch_answer fake_batch_desk::create(std::string_view text) {
    std::string request_id;
    {
        std::lock_guard lock(mutex_);
        request_id = request_id_locked();
        if (auto refused = admit_locked(request_id)) {
            return std::move(*refused);
        }
    }
    boost::system::error_code ec;
    auto body = json::parse(text, ec);
    if (ec) {
        return error_answer(400, "invalid_request_error",
                            "There was an error parsing the body of your request: " + ec.message(),
                            request_id);
    }
    if (auto bad = check_batch_create(body)) {
        return error_answer(static_cast<int>(bad->status), bad->type, bad->message, request_id);
    }
    std::lock_guard lock(mutex_);
    batch b;
    auto serial = std::to_string(next_id_++);
    b.id = "msgbatch_01Fake" + std::string(18 - std::min<std::size_t>(serial.size(), 18), '0') +
           serial;
    b.created_ms = time_.now_ms();
    for (const auto& r : body.as_object().at("requests").as_array()) {
        b.requests.push_back(request{std::string(r.at("custom_id").as_string()), r.at("params")});
    }
    ++created_;
    auto& stored = batches_[b.id] = std::move(b);
    return ok_answer(batch_json(stored), request_id);
}

bool fake_batch_desk::due(const batch& b, std::int64_t now_ms) const {
    return b.status == "canceling" || (b.polls >= options_.in_progress_polls &&
                                       now_ms - b.created_ms >= options_.processing_time.count());
}

std::string fake_batch_desk::line_for(const batch& b, const request& r) {
    if (b.status == "canceling") {
        return bare_line(r.custom_id, "canceled");
    }
    if (auto forced = injected_.find(r.custom_id); forced != injected_.end()) {
        auto line = forced->second;
        injected_.erase(forced);
        return line.type == "errored" ? errored_line(r.custom_id, line.error_type, line.message)
                                      : bare_line(r.custom_id, line.type);
    }
    const double roll = std::uniform_real_distribution<double>(0.0, 1.0)(dice_);
    if (roll < options_.errored_line_share) {
        return errored_line(r.custom_id, "api_error", "Internal server error");
    }
    if (roll < options_.errored_line_share + options_.expired_line_share) {
        return bare_line(r.custom_id, "expired");
    }
    // The checks of /v1/messages for a batch line (see request_origin::batch_line).
    auto done = process_(r.params);
    if (done.error) {
        return errored_line(r.custom_id, done.error->type, done.error->message);
    }
    billed_.push_back(billed_request{b.id, r.custom_id, done.model, done.usage});
    auto message = json::parse(done.message_json);
    return json::serialize(
        json::object{{"custom_id", r.custom_id},
                     {"result", {{"type", "succeeded"}, {"message", std::move(message)}}}});
}

void fake_batch_desk::end(batch& b) {
    for (const auto& r : b.requests) {
        auto line = line_for(b, r);
        auto type = json::parse(line).at("result").at("type").as_string();
        ++b.counts[std::string(type)];
        b.lines.push_back(std::move(line));
    }
    // Results come back in no particular order: never the request order here.
    std::reverse(b.lines.begin(), b.lines.end());
    b.status = "ended";
    b.ended_ms = time_.now_ms();
}

std::variant<fake_batch_desk::batch*, batch_answer> fake_batch_desk::find_locked(
    const std::string& id, const std::string& request_id) {
    if (auto refused = admit_locked(request_id)) {
        return std::move(*refused);
    }
    auto found = batches_.find(id);
    if (found == batches_.end()) {
        return not_found(id, request_id);
    }
    return &found->second;
}

batch_answer fake_batch_desk::retrieve(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto request_id = request_id_locked();
    auto found = find_locked(id, request_id);
    if (auto* answer = std::get_if<batch_answer>(&found)) {
        return std::move(*answer);
    }
    auto& b = *std::get<batch*>(found);
    ++polls_;
    if (b.status != "ended" && due(b, time_.now_ms())) {
        end(b);
    }
    auto a = ok_answer(batch_json(b), request_id);
    if (b.status != "ended") {
        ++b.polls;
        if (options_.retry_after_seconds > 0) {
            a.headers.emplace_back("retry-after", std::to_string(options_.retry_after_seconds));
        }
    }
    return a;
}

batch_answer fake_batch_desk::results(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto request_id = request_id_locked();
    if (auto refused = admit_locked(request_id)) {
        return std::move(*refused);
    }
    auto found = batches_.find(id);
    if (found == batches_.end() || found->second.status != "ended") {
        return not_found(id, request_id);
    }
    std::string body;
    for (const auto& line : found->second.lines) {
        body += line + "\n";
    }
    return ok_answer(std::move(body), request_id, "application/x-jsonl");
}

batch_answer fake_batch_desk::cancel(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto request_id = request_id_locked();
    auto found = find_locked(id, request_id);
    if (auto* answer = std::get_if<batch_answer>(&found)) {
        return std::move(*answer);
    }
    auto& b = *std::get<batch*>(found);
    if (b.status == "in_progress") {
        b.status = "canceling";
        b.cancel_ms = time_.now_ms();
    }
    return ok_answer(batch_json(b), request_id);
}

batch_answer fake_batch_desk::remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto request_id = request_id_locked();
    auto found = find_locked(id, request_id);
    if (auto* answer = std::get_if<batch_answer>(&found)) {
        return std::move(*answer);
    }
    // Batches end on their own upstream: one that is due ends here, as at a retrieve.
    auto& b = *std::get<batch*>(found);
    if (b.status != "ended" && due(b, time_.now_ms())) {
        end(b);
    }
    if (b.status != "ended") {
        return error_answer(400, "invalid_request_error",
                            "Message Batch " + id + " cannot be deleted until it has ended",
                            request_id);
    }
    batches_.erase(id);
    return ok_answer(json::serialize(json::object{{"id", id}, {"type", "message_batch_deleted"}}),
                     request_id);
}

batch_answer fake_batch_desk::list(std::string_view limit_text, const std::string& after_id,
                                   const std::string& before_id) {
    std::lock_guard lock(mutex_);
    const auto request_id = request_id_locked();
    auto parsed = parse_limit(limit_text);
    if (const auto* bad = std::get_if<std::string>(&parsed)) {
        return error_answer(400, "invalid_request_error", *bad, request_id);
    }
    const int limit = std::get<int>(parsed);
    if (auto refused = admit_locked(request_id)) {
        return std::move(*refused);
    }
    // Ids grow with creation, so the map's reverse order is newest first.
    std::vector<const batch*> order;
    for (auto it = batches_.rbegin(); it != batches_.rend(); ++it) {
        order.push_back(&it->second);
    }
    auto position = [&order](const std::string& id) {
        return std::find_if(order.begin(), order.end(),
                            [&id](const batch* b) { return b->id == id; });
    };
    auto from = order.begin();
    auto to = order.end();
    if (!after_id.empty()) {
        auto at = position(after_id);
        if (at == order.end()) {
            return not_found(after_id, request_id);
        }
        from = at + 1;
        to = from + std::min<std::ptrdiff_t>(limit, order.end() - from);
    } else if (!before_id.empty()) {
        to = position(before_id);
        if (to == order.end()) {
            return not_found(before_id, request_id);
        }
        from = to - std::min<std::ptrdiff_t>(limit, to - order.begin());
    } else {
        to = from + std::min<std::ptrdiff_t>(limit, order.end() - from);
    }
    ++lists_;
    // Batches end on their own upstream: a listed batch counts as polled, and one that is due
    // ends here as it would at a retrieve.
    const auto now = time_.now_ms();
    json::array data;
    for (auto it = from; it != to; ++it) {
        auto& b = batches_.at((*it)->id);
        if (b.status != "ended") {
            if (due(b, now)) {
                end(b);
            } else {
                ++b.polls;
            }
        }
        data.push_back(json::parse(batch_json(b)));
    }
    bool more = !before_id.empty() ? from != order.begin() : to != order.end();
    json::object page{
        {"data", std::move(data)},
        {"has_more", more},
        {"first_id", from == to ? json::value(nullptr) : json::value((*from)->id)},
        {"last_id", from == to ? json::value(nullptr) : json::value((*(to - 1))->id)}};
    return ok_answer(json::serialize(page), request_id);
}

fake_batch_options fake_batch_desk::options() const {
    std::lock_guard lock(mutex_);
    return options_;
}

void fake_batch_desk::inject(injected_line line) {
    std::lock_guard lock(mutex_);
    auto id = line.custom_id;
    injected_[id] = std::move(line);
}

void fake_batch_desk::set_options(const fake_batch_options& options) {
    std::lock_guard lock(mutex_);
    options_ = options;
}

std::size_t fake_batch_desk::batches_created() const {
    std::lock_guard lock(mutex_);
    return created_;
}

std::size_t fake_batch_desk::polls() const {
    std::lock_guard lock(mutex_);
    return polls_;
}

std::size_t fake_batch_desk::lists() const {
    std::lock_guard lock(mutex_);
    return lists_;
}

std::size_t fake_batch_desk::calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
}

std::size_t fake_batch_desk::refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
}

std::vector<billed_request> fake_batch_desk::billed() const {
    std::lock_guard lock(mutex_);
    return billed_;
}

}  // namespace boomer::fakes
