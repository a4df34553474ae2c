// Submissions: decode the multipart or JSON form, fetch URL photos, run intake on the store
// pool, answer with the receipt.
#include "api/item_submit.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>

#include "api/item_json.hpp"
#include "api/json_response.hpp"
#include "api/multipart.hpp"
#include "api/problem.hpp"
#include "core/async.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/utf8.hpp"
#include "pipeline/photo_fetch.hpp"

namespace boomer::api {
namespace {

namespace json = boost::json;
using asio::awaitable;

// The form fields POST /v1/items accepts besides photos.
struct item_form {
    pipeline::intake_request request;
    std::vector<std::string> unknown;
};

std::optional<problem> read_form(const std::vector<part>& parts, item_form& form) {
    for (const auto& p : parts) {
        if (!p.filename.empty() || p.name == "photo") {
            // A browser sends an empty, nameless "photo" part when no file was chosen.
            if (!p.data.empty() || !p.filename.empty()) {
                form.request.files.push_back({p.filename, p.data});
            }
        } else if (p.name == "title_hint") {
            form.request.title_hint = std::string(p.data);
        } else if (p.name == "sku") {
            form.request.sku = std::string(p.data);
        } else if (p.name == "condition") {
            form.request.condition = std::string(p.data);
        } else if (p.name == "category_id") {
            form.request.category_hint = std::string(p.data);
        } else if (p.name == "priority") {
            auto prio = store::parse_priority(p.data);
            if (!prio) {
                return make_problem(http::status::bad_request, "invalid-field",
                                    fmt::format("priority must be urgent, normal or bulk, not "
                                                "'{}'",
                                                valid_utf8(p.data.substr(0, 40))));
            }
            form.request.prio = *prio;
        } else {
            return make_problem(http::status::bad_request, "unknown-field",
                                fmt::format("unknown form field '{}'; expected photo files and "
                                            "title_hint, sku, condition, category_id, priority",
                                            valid_utf8(p.name.substr(0, 60))));
        }
    }
    return std::nullopt;
}

// submission_status is the HTTP status of every failure code a submission can meet.
http::status submission_status(std::string_view code) {
    namespace e = pipeline::intake_error;
    namespace f = pipeline::fetch_error;
    if (code == e::unsupported_media) {
        return http::status::unsupported_media_type;
    }
    if (code == e::too_many_files || code == e::file_too_large || code == e::too_many_pixels ||
        code == f::total_too_large) {
        return http::status::payload_too_large;
    }
    if (code == e::key_reused || code == f::address_refused || code == f::bad_status ||
        code == f::bad_redirect || code == f::too_many_redirects || code == f::not_image) {
        return http::status::unprocessable_entity;
    }
    if (code == f::timeout) {
        return http::status::gateway_timeout;
    }
    if (code == f::unreachable) {
        return http::status::bad_gateway;
    }
    if (code == f::busy) {
        return http::status::service_unavailable;
    }
    return http::status::bad_request;
}

http_response problem_response(const failure& f, std::string_view pointer = {},
                               bool with_pointer = false) {
    auto p = from_failure(submission_status(f.code), f);
    if (with_pointer) {
        p.extra["pointer"] = pointer;
    }
    return to_response(p);
}

// record_intake_steps counts where a submission's time went: waiting for a store thread,
// checking, writing the photos, committing the rows. Logged per item at debug level.
void record_intake_steps(api_deps& deps, double wait_ms, const pipeline::intake_receipt& r) {
    const std::pair<std::string_view, double> steps[] = {{"wait", wait_ms},
                                                         {"check", r.timings.check_ms},
                                                         {"blobs", r.timings.blobs_ms},
                                                         {"commit", r.timings.commit_ms}};
    if (deps.metrics != nullptr) {
        auto& family = deps.metrics->histogram_family(
            "boomer_intake_step_seconds",
            "Time a submission spent in each intake step: wait (for a store thread), check, "
            "blobs (photos written and flushed), commit (rows committed).",
            {"step"});
        for (const auto& [step, ms] : steps) {
            family.with({step}).observe(ms / 1000.0);
        }
    }
    if (spdlog::should_log(spdlog::level::debug)) {
        log::event(spdlog::level::debug, "intake_steps",
                   {{"item_id", r.item_id},
                    {"wait_ms", wait_ms},
                    {"check_ms", r.timings.check_ms},
                    {"blobs_ms", r.timings.blobs_ms},
                    {"commit_ms", r.timings.commit_ms}});
    }
}

// record_fetch counts one submission's photo URL fetches by outcome ("ok" or the failure code)
// and how long they took together.
void record_fetch(api_deps& deps, std::string_view outcome,
                  std::chrono::steady_clock::duration took) {
    if (deps.metrics == nullptr) {
        return;
    }
    deps.metrics
        ->counter_family("boomer_photo_url_fetches_total",
                         "Submissions whose photo URLs were fetched, by outcome: ok or the code "
                         "of the problem answered.",
                         {"outcome"})
        .with({outcome})
        .inc();
    deps.metrics
        ->histogram_family("boomer_photo_url_fetch_seconds",
                           "Time a submission's photo URLs took to fetch, all together.", {})
        .with({})
        .observe(std::chrono::duration<double>(took).count());
}

// receipt_response answers a submission: 202 for a new item, 200 for the original of a replay.
http_response receipt_response(const std::string& item_id, const std::string& job_id,
                               store::job_state state, bool created) {
    json::object body{{"item_id", item_id},
                      {"job_id", job_id},
                      {"status", std::string(store::to_string(state))},
                      {"links", item_links(item_id, job_id)}};
    auto res = json_response(created ? http::status::accepted : http::status::ok, body);
    res.set(http::field::location, fmt::format("/v1/items/{}", item_id));
    return res;
}

// Work done on the store thread before intake (the JSON form's base64 decoding); a failure
// answers the request instead of intake.
using before_intake = std::function<std::optional<http_response>()>;

// intake runs pipeline::submit on the store pool (after `prepare`, when given) and answers with
// the receipt. The request's files must stay alive until it returns.
awaitable<http_response> intake(api_deps& deps, const http_request& req,
                                pipeline::intake_request& request, before_intake prepare) {
    request.idempotency_key = std::string(req["Idempotency-Key"]);
    request.tenant_id = deps.tenant_id;
    request.source = "api";

    auto queued_at = std::chrono::steady_clock::now();
    double wait_ms = 0;
    std::optional<http_response> refused;
    auto submit_work = [&]() -> std::optional<result<pipeline::intake_receipt>> {
        wait_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - queued_at)
                .count();
        if (prepare && (refused = prepare())) {
            return std::nullopt;
        }
        return pipeline::submit(request, deps.limits, *deps.db, *deps.blobs, *deps.time);
    };
    auto receipt = co_await run_on(*deps.store_pool, submit_work);
    if (!receipt) {
        co_return std::move(*refused);
    }
    if (!*receipt) {
        co_return problem_response(receipt->error());
    }
    record_intake_steps(deps, wait_ms, **receipt);
    if ((*receipt)->created) {
        deps.wake_workers();
    }
    const auto& r = **receipt;
    co_return receipt_response(r.item_id, r.job_id, r.state, r.created);
}

awaitable<http_response> submit_multipart(api_deps& deps, const http_request& req) {
    auto parts = parse_multipart(req.body(), req[http::field::content_type]);
    if (!parts) {
        co_return to_response(from_failure(http::status::bad_request, parts.error()));
    }
    item_form form;
    if (auto bad = read_form(*parts, form)) {
        co_return to_response(*bad);
    }
    before_intake nothing_before;
    co_return co_await intake(deps, req, form.request, nothing_before);
}

// replay_of answers a request whose Idempotency-Key the tenant used already with the original
// item; nothing when the key is new.
awaitable<std::optional<http_response>> replay_of(api_deps& deps, const http_request& req) {
    const std::string key(req["Idempotency-Key"]);
    if (key.empty()) {
        co_return std::nullopt;
    }
    auto lookup = [&deps, &key]() -> std::optional<store::item_record> {
        auto id = deps.db->item_with_key(deps.tenant_id, key);
        return id ? deps.db->find_item(deps.tenant_id, *id) : std::nullopt;
    };
    auto original = co_await run_on(*deps.store_pool, lookup);
    if (!original) {
        co_return std::nullopt;
    }
    co_return receipt_response(original->item_id, original->job_id, original->state, false);
}

// fetch_urls downloads the URL photos of `item` into their bytes; an answer when one fails.
awaitable<std::optional<http_response>> fetch_urls(api_deps& deps, item_json& item) {
    std::vector<std::string> urls;
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < item.photos.size(); ++i) {
        if (!item.photos[i].url.empty()) {
            urls.push_back(item.photos[i].url);
            positions.push_back(i);
        }
    }
    if (urls.empty()) {
        co_return std::nullopt;
    }
    if (deps.fetcher == nullptr) {
        throw std::logic_error("a photo URL was given but no photo fetcher is set up");
    }
    const auto started = std::chrono::steady_clock::now();
    auto fetched = co_await pipeline::fetch_photos(*deps.fetcher, std::move(urls), deps.fetch);
    record_fetch(deps, fetched ? std::string_view("ok") : fetched.error().what.code,
                 std::chrono::steady_clock::now() - started);
    if (!fetched) {
        const auto at = positions[fetched.error().photo];
        log::event(spdlog::level::debug, "photo_fetch_refused",
                   {{"photo", at}, {"code", fetched.error().what.code}});
        auto res = problem_response(fetched.error().what, fmt::format("/photos/{}/url", at), true);
        if (fetched.error().what.code == pipeline::fetch_error::busy) {
            res.set(http::field::retry_after, "2");
        }
        co_return res;
    }
    for (std::size_t i = 0; i < positions.size(); ++i) {
        item.photos[positions[i]].bytes = std::move((*fetched)[i]);
    }
    co_return std::nullopt;
}

awaitable<http_response> submit_json(api_deps& deps, const http_request& req) {
    simdjson::dom::parser parser;
    auto item = read_item_json(req.body(), parser, deps.limits);
    if (!item) {
        co_return problem_response(item.error().what, item.error().pointer, true);
    }
    // Checked again by intake, but only here is the member at fault known.
    std::string field;
    if (auto fields = pipeline::check_fields(item->request, deps.limits, &field); !fields) {
        co_return problem_response(fields.error(), "/" + field, true);
    }
    if (auto refused = co_await fetch_urls(deps, *item)) {
        // A replay whose URLs are gone since the first submission: the original item stands
        // (its photos cannot be compared with the first ones, so this is not checked).
        if (auto replay = co_await replay_of(deps, req)) {
            co_return std::move(*replay);
        }
        co_return std::move(*refused);
    }
    auto& ready = *item;
    before_intake decode = [&deps, &ready]() -> std::optional<http_response> {
        auto decoded = decode_photos(ready, deps.limits);
        if (!decoded) {
            return problem_response(decoded.error().what, decoded.error().pointer, true);
        }
        attach_photos(ready);
        return std::nullopt;
    };
    co_return co_await intake(deps, req, ready.request, decode);
}

}  // namespace

json::object item_links(std::string_view item_id, std::string_view job_id) {
    return {{"item", fmt::format("/v1/items/{}", item_id)},
            {"job", fmt::format("/v1/jobs/{}", job_id)}};
}

awaitable<http_response> submit_item(api_deps& deps, request_context ctx) {
    // Checked first: nothing is read, decoded or fetched for a request refused anyway.
    if (ctx.request["Idempotency-Key"].size() > 200) {
        co_return to_response(bad_request("Idempotency-Key is longer than 200 characters"));
    }
    auto content_type = ctx.request[http::field::content_type];
    if (media_type_is(content_type, "multipart/form-data")) {
        co_return co_await submit_multipart(deps, ctx.request);
    }
    if (media_type_is(content_type, "application/json")) {
        co_return co_await submit_json(deps, ctx.request);
    }
    co_return to_response(
        unsupported_media_type(content_type, {"multipart/form-data", "application/json"}));
}

}  // namespace boomer::api
