// The fake's server loop: checks, caching, rate limits, injected trouble, and answers.
#include "tests/fakes/fake_anthropic.hpp"

#include <httplib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/hash.hpp"
#include "tests/fakes/fake_listen.hpp"

namespace boomer::fakes {
namespace {

namespace json = boost::json;

// The edge's 413 for a body over the size limit: no top-level type, no request id.
const std::string too_large_body =
    R"({"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}})";

struct answer {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct fixture {
    std::string image_sha256;
    std::string model;
    json::object input;
};

std::string with_commas(std::int64_t n) {
    auto digits = std::to_string(n);
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
        digits.insert(static_cast<std::size_t>(i), ",");
    }
    return digits;
}

std::string error_body(const std::string& type, const std::string& message,
                       const std::string& request_id) {
    return json::serialize(json::object{{"type", "error"},
                                        {"error", {{"type", type}, {"message", message}}},
                                        {"request_id", request_id}});
}

std::string_view error_type_of(unsigned status) {
    switch (status) {
        case 429:
            return "rate_limit_error";
        case 529:
            return "overloaded_error";
        case 504:
            return "timeout_error";
        default:
            return "api_error";
    }
}

// header_value reads a request header as the API sees it: a header sent more than once reads as
// its values joined by ", " (a doubled anthropic-version is then no valid version).
std::optional<std::string> header_value(const httplib::Request& req, const char* name) {
    auto count = req.get_header_value_count(name);
    if (count == 0) {
        return std::nullopt;
    }
    std::string joined;
    for (std::size_t i = 0; i < count; ++i) {
        joined += (i == 0 ? "" : ", ") + req.get_header_value(name, i);
    }
    return joined;
}

// check_request_headers checks the key, the version and, for a request with a body, the content
// type of any request to the API.
std::optional<api_reject> check_request_headers(const httplib::Request& req, bool has_body,
                                                std::string_view api_key) {
    auto key = header_value(req, "x-api-key");
    auto version = header_value(req, "anthropic-version");
    auto content_type = has_body ? header_value(req, "content-type")
                                 : std::optional<std::string>("application/json");
    return check_headers(key, version, content_type, api_key);
}

json::object default_record(const checked_request& req, const fake_anthropic_options& options) {
    json::object out{{"title", "Unidentified item"},
                     {"brand", ""},
                     {"model", ""},
                     {"category_path", json::array{"Everything Else"}},
                     {"condition_guess", "unknown"},
                     {"color", ""},
                     {"material", ""},
                     {"era", ""},
                     {"distinguishing_marks",
                      json::array{std::to_string(req.image_bytes.size()) + " photo(s) examined"}},
                     {"search_query", "item"},
                     {"field_confidence",
                      {{"title", options.default_confidence}, {"brand", 0.0}, {"model", 0.0}}},
                     {"overall_confidence", options.default_confidence}};
    if (options.default_price) {
        out["price_estimate"] =
            json::object{{"amount", *options.default_price}, {"currency", "USD"}};
    }
    return out;
}

}  // namespace

injected_error injected_error::rate_limited(std::optional<int> retry_after_seconds) {
    return injected_error{429, retry_after_seconds, std::nullopt, {}};
}
injected_error injected_error::overloaded() {
    return injected_error{529, std::nullopt, std::nullopt, {}};
}
injected_error injected_error::internal() {
    return injected_error{500, std::nullopt, std::nullopt, {}};
}

struct fake_anthropic::impl {
    fake_anthropic_options options;
    const clock& time;
    httplib::Server server;
    std::thread thread;
    int port = 0;

    mutable std::mutex mutex;
    std::vector<fixture> fixtures;           // guarded by mutex
    std::deque<injected_error> script;       // guarded by mutex
    prompt_cache cache;                      // guarded by mutex
    minute_limits limits;                    // guarded by mutex
    std::vector<received_call> log;          // guarded by mutex
    std::mt19937_64 rng;                     // guarded by mutex
    latency_distribution latency;            // guarded by mutex
    error_rates rates;                       // guarded by mutex
    std::size_t early_retries = 0;           // guarded by mutex
    std::int64_t batch_headers_refused = 0;  // batch endpoint calls refused before the desk; mutex
    std::size_t retries_after_wait = 0;      // guarded by mutex
    std::int64_t early_by_ms_max = 0;        // guarded by mutex
    // Latency by model alias, instead of `latency`; guarded by mutex.
    std::map<std::string, latency_distribution, std::less<>> model_latency;
    manual_clock* latency_clock = nullptr;  // guarded by mutex; see set_latency_clock
    // When each body answered with a retry-after may come again, by the body's SHA-256; guarded
    // by mutex.
    std::map<std::string, std::chrono::steady_clock::time_point> not_before;
    std::unique_ptr<fake_batch_desk> desk;  // its own lock, taken before `mutex`

    explicit impl(fake_anthropic_options o)
        : options(std::move(o)),
          time(options.time != nullptr ? *options.time : system_clock::instance()),
          limits(options.limits),
          rng(options.seed),
          latency(options.latency),
          rates(options.errors),
          model_latency(options.model_latency) {}

    std::string random_id(std::string_view prefix, std::size_t n);
    answer handle(const httplib::Request& req, received_call& call);
    answer reject(const api_reject& r, received_call& call);
    std::optional<answer> trouble(const fake_model& model, received_call& call);
    std::optional<answer> over_limit(const fake_model& model, const fake_usage& need,
                                     std::int64_t max_tokens, received_call& call);
    json::object tool_input(const checked_request& req);
    answer success(const checked_request& req, received_call& call, bool batch = false);
    processed_params process_batch_params(const json::value& params);
    std::optional<answer> check_batch_headers(const httplib::Request& req, bool has_body);
    void add_limit_headers(answer& a, const fake_model& model);
    const fake_model* find_model(std::string_view id) const;
    std::string stats_json() const;
    void note_arrival(const std::string& body_hash);
    void note_retry_after(const std::string& body_hash, const answer& a);
    void deliver(httplib::Response& res, std::string body, std::size_t index);
    void add_batch_routes();
    void answer_no_route(const httplib::Request& req, httplib::Response& res);
    std::string new_request_id();  // takes `mutex`
};

// deliver answers with `body` and marks log[index] delivered once all of it is written. The body
// goes out in two writes after the headers: when the client is gone, its kernel answers the
// first write with a reset and a later write fails.
void fake_anthropic::impl::deliver(httplib::Response& res, std::string body, std::size_t index) {
    auto size = body.size();
    auto write = [this, index, body = std::move(body)](std::size_t offset, std::size_t length,
                                                       httplib::DataSink& sink) {
        std::size_t first = offset == 0 && length > 1 ? 1 : length;
        bool ok = sink.write(body.data() + offset, first);
        if (ok && first < length) {
            ok = sink.write(body.data() + offset + first, length - first);
        }
        if (ok && offset + length == body.size()) {
            std::lock_guard lock(mutex);
            log[index].delivered = true;
        }
        return ok;
    };
    res.set_content_provider(size, "application/json", write);
}

// note_arrival counts a repeat of a body that was told to wait, as early or not. Call with
// `mutex` held.
void fake_anthropic::impl::note_arrival(const std::string& body_hash) {
    auto told = not_before.find(body_hash);
    if (told == not_before.end()) {
        return;
    }
    auto now = std::chrono::steady_clock::now();
    if (now < told->second) {
        ++early_retries;
        auto early = std::chrono::duration_cast<std::chrono::milliseconds>(told->second - now);
        early_by_ms_max = std::max<std::int64_t>(early_by_ms_max, early.count());
    } else {
        ++retries_after_wait;
    }
    not_before.erase(told);
}

// note_retry_after remembers when the body of an error answer with a retry-after may come back:
// taken as the answer leaves, so that a client that waits exactly is never counted early.
void fake_anthropic::impl::note_retry_after(const std::string& body_hash, const answer& a) {
    if (a.status != 429 && a.status != 529) {
        return;
    }
    for (const auto& [name, value] : a.headers) {
        if (name == "retry-after") {
            auto at = std::chrono::steady_clock::now() + std::chrono::seconds(std::stoi(value));
            std::lock_guard lock(mutex);
            not_before[body_hash] = at;
        }
    }
}

std::string fake_anthropic::impl::stats_json() const {
    json::object by_model;
    std::int64_t received = 0;
    std::int64_t paid = 0;
    std::int64_t delivered_paid = 0;
    std::map<unsigned, std::int64_t> by_status;
    // The desk's lock comes before `mutex`, never inside it.
    auto created = static_cast<std::int64_t>(desk->batches_created());
    auto polls = static_cast<std::int64_t>(desk->polls());
    auto billed = static_cast<std::int64_t>(desk->billed().size());
    auto batch_refused = static_cast<std::int64_t>(desk->refused());
    auto batch_lists = static_cast<std::int64_t>(desk->lists());
    auto batch_calls = static_cast<std::int64_t>(desk->calls());
    auto batch_lines = desk->billed();
    // The tokens billed, by model: synchronous calls under "usage", batch lines (billed at half
    // the rate) under "batch_usage".
    const auto add_usage = [](json::object& counts, const char* field, const fake_usage& u) {
        auto& sum = counts[field];
        if (!sum.is_object()) {
            sum = json::object{{"input_tokens", 0},
                               {"cache_write_5m", 0},
                               {"cache_write_1h", 0},
                               {"cache_read", 0},
                               {"output_tokens", 0}};
        }
        auto& o = sum.as_object();
        const auto bump = [&o](const char* key, std::int64_t n) {
            o[key] = o[key].to_number<std::int64_t>() + n;
        };
        bump("input_tokens", u.input_tokens);
        bump("cache_write_5m", u.cache_write_5m);
        bump("cache_write_1h", u.cache_write_1h);
        bump("cache_read", u.cache_read);
        bump("output_tokens", u.output_tokens);
    };
    const auto model_counts = [&by_model](const std::string& model) -> json::object& {
        auto& m = by_model[model.empty() ? "unknown" : model];
        if (!m.is_object()) {
            m = json::object{{"received", 0}, {"paid", 0}};
        }
        return m.as_object();
    };
    for (const auto& line : batch_lines) {
        add_usage(model_counts(line.model), "batch_usage", line.usage);
    }
    std::lock_guard lock(mutex);
    // Calls refused for their headers (a wrong key) never reach the desk, but count as calls.
    batch_calls += batch_headers_refused;
    batch_refused += batch_headers_refused;
    for (const auto& c : log) {
        auto& counts = model_counts(c.model);
        counts["received"] = counts["received"].to_number<std::int64_t>() + 1;
        ++received;
        ++by_status[c.status];
        if (c.status == 200) {
            counts["paid"] = counts["paid"].to_number<std::int64_t>() + 1;
            add_usage(counts, "usage", c.usage);
            ++paid;
            delivered_paid += c.delivered ? 1 : 0;
        }
    }
    // What each model's requests bucket holds now: with the calls paid, the load generator
    // tells how much of the allowance a run left unused.
    for (auto& [alias, counts] : by_model) {
        if (counts.as_object()["received"].to_number<std::int64_t>() == 0) {
            continue;  // batch lines only: its synchronous allowance was not in play
        }
        if (auto left = limits.requests_left(std::string(alias), time.now_ms())) {
            counts.as_object()["requests_left"] = *left;
        }
    }
    json::object statuses;
    for (const auto& [status, n] : by_status) {
        statuses[std::to_string(status)] = n;
    }
    return json::serialize(json::object{{"received", received},
                                        {"paid", paid},
                                        {"delivered_paid", delivered_paid},
                                        {"statuses", std::move(statuses)},
                                        {"early_retries", early_retries},
                                        {"retries_after_wait", retries_after_wait},
                                        {"early_by_ms_max", early_by_ms_max},
                                        {"limits",
                                         {{"requests", options.limits.requests},
                                          {"input_tokens", options.limits.input_tokens},
                                          {"output_tokens", options.limits.output_tokens}}},
                                        {"models", std::move(by_model)},
                                        {"batches_created", created},
                                        {"batch_polls", polls},
                                        {"batch_requests_billed", billed},
                                        {"batch_lists", batch_lists},
                                        {"batch_calls", batch_calls},
                                        {"batch_calls_refused", batch_refused}});
}

std::string fake_anthropic::impl::random_id(std::string_view prefix, std::size_t n) {
    static constexpr std::string_view chars =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string id(prefix);
    for (std::size_t i = 0; i < n; ++i) {
        id += chars[rng() % chars.size()];
    }
    return id;
}

const fake_model* fake_anthropic::impl::find_model(std::string_view id) const {
    auto found = std::find_if(options.models.begin(), options.models.end(),
                              [id](const fake_model& m) { return m.named(id); });
    return found == options.models.end() ? nullptr : &*found;
}

answer fake_anthropic::impl::reject(const api_reject& r, received_call& call) {
    call.status = r.status;
    call.error_type = r.type;
    call.error_message = r.message;
    answer a;
    a.status = static_cast<int>(r.status);
    auto id = random_id("req_011", 21);
    a.body = error_body(r.type, r.message, id);
    a.headers = {{"request-id", id},
                 {"x-should-retry", r.status == 429 || r.status >= 500 ? "true" : "false"}};
    return a;
}

std::optional<answer> fake_anthropic::impl::trouble(const fake_model& model, received_call& call) {
    std::optional<injected_error> e;
    auto scripted = std::find_if(script.begin(), script.end(), [&](const injected_error& s) {
        return s.model.empty() || s.model == model.alias || s.model == model.dated_id;
    });
    if (scripted != script.end()) {
        e = *scripted;
        script.erase(scripted);
    } else {
        double roll = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        std::pair<double, injected_error> table[] = {
            {rates.rate_limited, injected_error::rate_limited(rates.retry_after_seconds)},
            {rates.rate_limited_bare, injected_error::rate_limited(std::nullopt)},
            {rates.overloaded, injected_error::overloaded()},
            {rates.internal, injected_error::internal()}};
        for (auto& [chance, err] : table) {
            if (roll < chance) {
                e = err;
                break;
            }
            roll -= chance;
        }
    }
    if (!e) {
        return std::nullopt;
    }
    std::string message = e->status == 529   ? "Overloaded"
                          : e->status == 429 ? "Number of requests has exceeded your rate limit "
                                               "(model: " +
                                                   model.answer_id() + ")."
                                             : "Internal server error";
    auto a = reject(api_reject{e->status, std::string(error_type_of(e->status)), message}, call);
    if (e->status == 500) {
        a.body = json::serialize(
            json::object{{"type", "error"},
                         {"error", {{"type", "api_error"}, {"message", "Internal server error"}}},
                         {"request_id", nullptr}});
    }
    if (e->retry_after_seconds) {
        a.headers.emplace_back("retry-after", std::to_string(*e->retry_after_seconds));
    }
    if (e->should_retry) {
        a.headers[1].second = *e->should_retry ? "true" : "false";
    }
    if (e->status == 429) {
        add_limit_headers(a, model);
    }
    return a;
}

std::optional<answer> fake_anthropic::impl::over_limit(const fake_model& model,
                                                       const fake_usage& need,
                                                       std::int64_t max_tokens,
                                                       received_call& call) {
    auto input = need.input_tokens + need.cache_write_5m + need.cache_write_1h;
    auto hit = limits.take(model.alias, input, max_tokens, time.now_ms());
    if (!hit) {
        return std::nullopt;
    }
    auto message =
        "This request would exceed your organization's rate limit of " + with_commas(hit->limit) +
        " " + hit->what +
        " per minute (org: 00000000-0000-4000-8000-000000000000, model: " + model.answer_id() +
        "). For details, refer to: https://docs.claude.com/en/api/rate-limits. You can "
        "see the response headers for current usage. Please reduce the prompt length "
        "or the maximum tokens requested, or try again later.";
    auto a = reject(api_reject{429, "rate_limit_error", message}, call);
    a.headers.emplace_back("retry-after", std::to_string(hit->retry_after_seconds));
    add_limit_headers(a, model);
    return a;
}

void fake_anthropic::impl::add_limit_headers(answer& a, const fake_model& model) {
    for (auto& header : limits.headers(model.alias, time.now_ms())) {
        a.headers.push_back(std::move(header));
    }
}

json::object fake_anthropic::impl::tool_input(const checked_request& req) {
    for (auto f = fixtures.rbegin(); f != fixtures.rend(); ++f) {
        bool model_ok =
            f->model.empty() || f->model == req.model->alias || f->model == req.model->dated_id;
        if (!model_ok) {
            continue;
        }
        for (const auto& bytes : req.image_bytes) {
            if (sha256_hex(bytes) == f->image_sha256) {
                return f->input;
            }
        }
    }
    return default_record(req, options);
}

answer fake_anthropic::impl::success(const checked_request& req, received_call& call, bool batch) {
    json::array content;
    std::string stop = "end_turn";
    std::int64_t output = 0;
    if (!req.answer_tool.empty()) {
        auto input = tool_input(req);
        output = text_tokens(json::serialize(input).size()) + 30;
        stop = "tool_use";
        if (output > req.max_tokens) {
            input = {};  // cut off before the input was complete
            output = req.max_tokens;
            stop = "max_tokens";
        }
        content.emplace_back(json::object{{"type", "tool_use"},
                                          {"id", random_id("toolu_01", 22)},
                                          {"name", req.answer_tool},
                                          {"input", std::move(input)},
                                          {"caller", {{"type", "direct"}}}});
    } else {
        std::string text = "This fake answers identification requests through a tool.";
        output = std::min(text_tokens(text.size()), req.max_tokens);
        content.emplace_back(json::object{{"type", "text"}, {"text", text}});
    }
    if (req.max_tokens == 0) {
        content.clear();
        output = 0;
        stop = "max_tokens";
    }

    auto usage = cache.plan(req, time.now_ms(), true);
    usage.output_tokens = output;
    if (!batch) {
        limits.refund_output(req.model->alias, req.max_tokens - output);
    }
    call.status = 200;
    call.usage = usage;
    for (const auto& bytes : req.image_bytes) {
        call.image_sha256.push_back(sha256_hex(bytes));
    }

    answer a;
    auto request_id = random_id("req_011", 21);
    a.body = json::serialize(
        json::object{{"id", random_id("msg_01", 22)},
                     {"type", "message"},
                     {"role", "assistant"},
                     {"model", req.model->answer_id()},
                     {"content", std::move(content)},
                     {"stop_reason", stop},
                     {"stop_sequence", nullptr},
                     {"usage",
                      {{"input_tokens", usage.input_tokens},
                       {"cache_creation_input_tokens", usage.cache_write_5m + usage.cache_write_1h},
                       {"cache_read_input_tokens", usage.cache_read},
                       {"cache_creation",
                        {{"ephemeral_5m_input_tokens", usage.cache_write_5m},
                         {"ephemeral_1h_input_tokens", usage.cache_write_1h}}},
                       {"output_tokens", output},
                       {"service_tier", batch ? "batch" : "standard"}}}});
    a.headers = {{"request-id", request_id}};
    add_limit_headers(a, *req.model);
    return a;
}

// One request of an ending batch: the checks of /v1/messages, then the same answer, billed at
// the batch tier; no rate limits or injected HTTP errors apply.
processed_params fake_anthropic::impl::process_batch_params(const json::value& params) {
    std::lock_guard lock(mutex);
    processed_params out;
    auto checked =
        check_messages_request(params, options.models, request_origin::batch_line, time.now_ms());
    if (auto* r = std::get_if<api_reject>(&checked)) {
        out.error = *r;
        return out;
    }
    auto& ok = std::get<checked_request>(checked);
    received_call call;
    auto a = success(ok, call, true);
    cache.answer_begins(time.now_ms());  // the line's result exists from now on
    out.message_json = std::move(a.body);
    out.model = ok.model->alias;
    out.usage = call.usage;
    return out;
}

// The batch endpoints take the same key and version headers as /v1/messages; a body must be
// JSON.
std::optional<answer> fake_anthropic::impl::check_batch_headers(const httplib::Request& req,
                                                                bool has_body) {
    auto bad = check_request_headers(req, has_body, options.api_key);
    if (!bad) {
        return std::nullopt;
    }
    std::lock_guard lock(mutex);
    ++batch_headers_refused;
    received_call call;
    return reject(*bad, call);
}

answer fake_anthropic::impl::handle(const httplib::Request& req, received_call& call) {
    if (req.body.size() > max_request_bytes) {
        call.status = 413;
        call.error_type = "request_too_large";
        return answer{413, too_large_body, {}};
    }
    if (auto bad = check_request_headers(req, true, options.api_key)) {
        return reject(*bad, call);
    }

    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec) {
        return reject(
            api_reject{400, "invalid_request_error",
                       "There was an error parsing the body of your request: " + ec.message()},
            call);
    }
    if (body.is_object() && body.as_object().contains("model") &&
        body.as_object().at("model").is_string()) {
        std::string requested(body.as_object().at("model").as_string());
        const auto* known = find_model(requested);
        call.model = known != nullptr ? known->alias : requested;
    }
    auto checked =
        check_messages_request(body, options.models, request_origin::messages, time.now_ms());
    if (auto* r = std::get_if<api_reject>(&checked)) {
        return reject(*r, call);
    }
    auto& ok = std::get<checked_request>(checked);
    if (auto t = trouble(*ok.model, call)) {
        return *t;
    }
    if (auto limited =
            over_limit(*ok.model, cache.plan(ok, time.now_ms(), false), ok.max_tokens, call)) {
        return *limited;
    }
    return success(ok, call);
}

namespace {

void send(httplib::Response& res, int status, const std::string& body,
          const std::vector<std::pair<std::string, std::string>>& headers,
          const std::string& content_type = "application/json") {
    res.status = status;
    for (const auto& [name, value] : headers) {
        res.set_header(name, value);
    }
    res.set_content(body, content_type.c_str());
}

void send(httplib::Response& res, const batch_answer& a) {
    send(res, a.status, a.body, a.headers, a.content_type);
}

}  // namespace

void fake_anthropic::impl::add_batch_routes() {
    auto process = [this](const json::value& params) { return process_batch_params(params); };
    auto base = [this] { return "http://" + options.host + ":" + std::to_string(port); };
    desk = std::make_unique<fake_batch_desk>(options.batches, time, process, base);
    server.Post("/v1/messages/batches",
                [this](const httplib::Request& req, httplib::Response& res) {
                    if (req.body.size() > desk->options().max_create_bytes) {
                        // The edge answers before the API, as for /v1/messages.
                        return send(res, 413, too_large_body, {});
                    }
                    if (auto bad = check_batch_headers(req, true)) {
                        return send(res, bad->status, bad->body, bad->headers);
                    }
                    if (desk->options().create_lost) {
                        std::this_thread::sleep_for(desk->options().create_answer_delay);
                        auto id = new_request_id();
                        return send(res, 504, error_body("timeout_error", "Request timed out", id),
                                    {{"request-id", id}});
                    }
                    auto created = desk->create(req.body);
                    // The batch exists now; its answer may be late (see create_answer_delay).
                    std::this_thread::sleep_for(desk->options().create_answer_delay);
                    send(res, created);
                });
    server.Get("/v1/messages/batches", [this](const httplib::Request& req, httplib::Response& res) {
        if (auto bad = check_batch_headers(req, false)) {
            return send(res, bad->status, bad->body, bad->headers);
        }
        send(res, desk->list(req.get_param_value("limit"), req.get_param_value("after_id"),
                             req.get_param_value("before_id")));
    });
    const std::string id = "(msgbatch_[A-Za-z0-9]+)";
    auto get_route = [this](std::string pattern, auto op) {
        server.Get(pattern, [this, op](const httplib::Request& req, httplib::Response& res) {
            if (auto bad = check_batch_headers(req, false)) {
                return send(res, bad->status, bad->body, bad->headers);
            }
            send(res, (desk.get()->*op)(req.matches[1].str()));
        });
    };
    get_route("/v1/messages/batches/" + id, &fake_batch_desk::retrieve);
    get_route("/v1/messages/batches/" + id + "/results", &fake_batch_desk::results);
    get_route("/v1/files/" + id + "_results\\.jsonl", &fake_batch_desk::results);
    server.Post("/v1/messages/batches/" + id + "/cancel",
                [this](const httplib::Request& req, httplib::Response& res) {
                    if (auto bad = check_batch_headers(req, false)) {
                        return send(res, bad->status, bad->body, bad->headers);
                    }
                    send(res, desk->cancel(req.matches[1].str()));
                });
    server.Delete("/v1/messages/batches/" + id,
                  [this](const httplib::Request& req, httplib::Response& res) {
                      if (auto bad = check_batch_headers(req, false)) {
                          return send(res, bad->status, bad->body, bad->headers);
                      }
                      send(res, desk->remove(req.matches[1].str()));
                  });
}

// answer_no_route answers a request for a path or method the API does not have, which the
// server itself answered without a body: 404 not_found_error with a request id, the shape of
// the documented example. Answers of the routes keep their bodies.
void fake_anthropic::impl::answer_no_route(const httplib::Request& req, httplib::Response& res) {
    bool unrouted_method = req.method == "CONNECT" || req.method == "TRACE";
    if (!res.body.empty() || (res.status != 404 && !(res.status == 400 && unrouted_method))) {
        return;
    }
    auto request_id = new_request_id();
    res.status = 404;
    res.set_header("request-id", request_id);
    res.set_header("x-should-retry", "false");
    res.set_content(
        error_body("not_found_error", "The requested resource could not be found.", request_id),
        "application/json");
}

std::string fake_anthropic::impl::new_request_id() {
    std::lock_guard lock(mutex);
    return random_id("req_011", 21);
}

fake_anthropic::fake_anthropic(fake_anthropic_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
    auto* self = impl_.get();
    // Bodies over the limits are read, to be answered 413 by the routes as the edge would.
    self->server.set_payload_max_length(
        2 * std::max(max_request_bytes, self->options.batches.max_create_bytes));
    // Answers wait out their latency on a server thread (one per open connection): enough
    // threads that a load run with seconds of latency is limited by the rate limits, not by the
    // fake (4,000 calls a minute at 4-8 s keep about 500 in flight).
    self->server.new_task_queue = [] { return new httplib::ThreadPool(1024); };
    self->server.Post("/v1/messages", [self](const httplib::Request& req, httplib::Response& res) {
        received_call call;
        call.at = std::chrono::steady_clock::now();
        auto body_hash = sha256_hex(req.body);
        answer a;
        std::chrono::milliseconds delay{0};
        manual_clock* latency_clock = nullptr;
        std::size_t index = 0;
        {
            std::lock_guard lock(self->mutex);
            self->note_arrival(body_hash);
            a = self->handle(req, call);
            auto own = self->model_latency.find(call.model);
            const auto& shape = own != self->model_latency.end() ? own->second : self->latency;
            delay = shape.sample(self->rng);
            // What this answer wrote to the prompt cache is readable once it begins.
            self->cache.answer_begins(self->time.now_ms() + delay.count());
            latency_clock = self->latency_clock;
            index = self->log.size();
            self->log.push_back(call);
        }
        if (delay.count() > 0 && latency_clock != nullptr) {
            latency_clock->advance_ms(delay.count());
        } else if (delay.count() > 0) {
            std::this_thread::sleep_for(delay);
        }
        self->note_retry_after(body_hash, a);
        res.status = a.status;
        for (const auto& [name, value] : a.headers) {
            res.set_header(name, value);
        }
        if (a.status == 200) {
            self->deliver(res, std::move(a.body), index);
        } else {
            res.set_content(a.body, "application/json");
        }
    });
    self->add_batch_routes();
    // Not part of the real API: lets a test or the load generator in another process read the
    // counters (requests received and paid, in total and by model alias).
    self->server.Get("/_fake/stats", [self](const httplib::Request&, httplib::Response& res) {
        res.set_content(self->stats_json(), "application/json");
    });
    self->server.set_error_handler([self](const httplib::Request& req, httplib::Response& res) {
        self->answer_no_route(req, res);
    });
    // The port is set before the server's threads start: the batch routes read it (their
    // results_url) on those threads.
    self->port =
        bind_listener(self->server, self->options.host, self->options.port, "fake_anthropic");
    serve(self->server, self->thread, "fake_anthropic");
}

fake_anthropic::~fake_anthropic() {
    stop();
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

int fake_anthropic::port() const {
    return impl_->port;
}

std::string fake_anthropic::base_url() const {
    return "http://" + impl_->options.host + ":" + std::to_string(impl_->port);
}

void fake_anthropic::add_fixture(std::string image_sha256, std::string model,
                                 boost::json::object input) {
    std::lock_guard lock(impl_->mutex);
    impl_->fixtures.push_back(fixture{std::move(image_sha256), std::move(model), std::move(input)});
}

void fake_anthropic::inject(injected_error error) {
    std::lock_guard lock(impl_->mutex);
    impl_->script.push_back(error);
}

void fake_anthropic::set_latency_clock(manual_clock* clock) {
    std::lock_guard lock(impl_->mutex);
    impl_->latency_clock = clock;
}

void fake_anthropic::set_latency(latency_distribution latency) {
    std::lock_guard lock(impl_->mutex);
    impl_->latency = latency;
}

void fake_anthropic::set_model_latency(std::string model, latency_distribution latency) {
    std::lock_guard lock(impl_->mutex);
    impl_->model_latency[std::move(model)] = latency;
}

void fake_anthropic::set_error_rates(const error_rates& rates) {
    std::lock_guard lock(impl_->mutex);
    impl_->rates = rates;
}

std::size_t fake_anthropic::received(std::string_view model) const {
    std::lock_guard lock(impl_->mutex);
    const auto* known = impl_->find_model(model);
    std::string_view alias = known != nullptr ? std::string_view(known->alias) : model;
    return static_cast<std::size_t>(
        std::count_if(impl_->log.begin(), impl_->log.end(),
                      [&](const received_call& c) { return alias.empty() || c.model == alias; }));
}

std::size_t fake_anthropic::paid(std::string_view model) const {
    std::lock_guard lock(impl_->mutex);
    const auto* known = impl_->find_model(model);
    std::string_view alias = known != nullptr ? std::string_view(known->alias) : model;
    return static_cast<std::size_t>(
        std::count_if(impl_->log.begin(), impl_->log.end(), [&](const received_call& c) {
            return c.status == 200 && (alias.empty() || c.model == alias);
        }));
}

std::size_t fake_anthropic::delivered_paid(std::string_view model) const {
    std::lock_guard lock(impl_->mutex);
    const auto* known = impl_->find_model(model);
    std::string_view alias = known != nullptr ? std::string_view(known->alias) : model;
    return static_cast<std::size_t>(
        std::count_if(impl_->log.begin(), impl_->log.end(), [&](const received_call& c) {
            return c.status == 200 && c.delivered && (alias.empty() || c.model == alias);
        }));
}

void fake_anthropic::inject_batch_line(injected_line line) {
    impl_->desk->inject(std::move(line));
}

void fake_anthropic::set_batch_options(const fake_batch_options& options) {
    impl_->desk->set_options(options);
}

std::size_t fake_anthropic::batches_created() const {
    return impl_->desk->batches_created();
}

std::size_t fake_anthropic::batch_lists() const {
    return impl_->desk->lists();
}

std::size_t fake_anthropic::batch_calls_refused() const {
    return impl_->desk->refused();
}

std::size_t fake_anthropic::batch_polls() const {
    return impl_->desk->polls();
}

std::vector<billed_request> fake_anthropic::batch_billed() const {
    return impl_->desk->billed();
}

std::size_t fake_anthropic::early_retries() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->early_retries;
}

std::size_t fake_anthropic::retries_after_wait() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->retries_after_wait;
}

std::vector<received_call> fake_anthropic::calls() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->log;
}

void fake_anthropic::wait() {
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

void fake_anthropic::stop() {
    impl_->server.stop();
}

}  // namespace boomer::fakes
