// Item and job routes: submit, read, list, cancel, retry, photos.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>

#include "api/handlers.hpp"
#include "api/item_submit.hpp"
#include "api/json_response.hpp"
#include "api/problem.hpp"
#include "core/async.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "pipeline/finished_items.hpp"
#include "pipeline/item_document.hpp"
#include "pipeline/vision.hpp"

namespace boomer::api {
namespace {

namespace json = boost::json;
using asio::awaitable;

// job_error is the `error` member of a job and its item: why the job failed or needs review,
// or, while it is queued, why it waits. While it runs again, why it last waited is history.
json::value job_error(const std::optional<store::job_record>& job) {
    const bool shown = job && !job->error_code.empty() && job->state != store::job_state::running;
    if (!shown) {
        return nullptr;
    }
    return json::object{{"code", job->error_code}, {"message", job->error_message}};
}

problem item_not_found(std::string_view id) {
    return not_found(fmt::format("no item with id '{}'", valid_utf8(id.substr(0, 64))));
}

awaitable<http_response> get_item(api_deps& deps, request_context ctx) {
    std::string id(ctx.path.get("item_id").value_or(""));
    auto find_work = [&deps, id]() -> std::optional<json::object> {
        auto item = deps.db->find_item(deps.tenant_id, id);
        if (!item) {
            return std::nullopt;
        }
        auto out = pipeline::item_document(*item, deps.db->checkpoints(item->job_id));
        out["links"] = item_links(item->item_id, item->job_id);
        // As in the list and the job, the member is always there.
        out["error"] = job_error(deps.db->find_job(deps.tenant_id, item->job_id));
        return out;
    };
    auto doc = co_await run_on(*deps.store_pool, find_work);
    if (!doc) {
        co_return to_response(item_not_found(id));
    }
    co_return json_response(http::status::ok, *doc);
}

std::optional<int> parse_int(std::string_view text) {
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

awaitable<http_response> list_items(api_deps& deps, request_context ctx) {
    store::list_query q;
    q.tenant_id = deps.tenant_id;
    if (auto status = ctx.query.get("status").value_or(""); !status.empty()) {
        q.state = store::parse_job_state(status);
        if (!q.state) {
            co_return to_response(bad_request(
                "status must be queued, running, succeeded, needs_review, failed or canceled"));
        }
    }
    if (auto limit = ctx.query.get("limit").value_or(""); !limit.empty()) {
        auto n = parse_int(limit);
        if (!n || *n < 1 || *n > 200) {
            co_return to_response(bad_request("limit must be a whole number from 1 to 200"));
        }
        q.limit = *n;
    }
    q.before_item_id = std::string(ctx.query.get("cursor").value_or(""));
    if (!q.before_item_id.empty() && !is_valid_id(q.before_item_id, "itm")) {
        co_return to_response(bad_request("cursor is not one this service handed out"));
    }

    auto page_size = static_cast<std::size_t>(q.limit);
    q.limit += 1;  // one more than a page tells whether another page exists
    auto list_work = [&deps, q] {
        json::array items;
        for (const auto& item : deps.db->list_items(q)) {
            auto doc = pipeline::item_document(item, deps.db->checkpoints(item.job_id));
            doc["links"] = item_links(item.item_id, item.job_id);
            doc["error"] = job_error(deps.db->find_job(deps.tenant_id, item.job_id));
            items.emplace_back(std::move(doc));
        }
        return items;
    };
    auto page = co_await run_on(*deps.store_pool, list_work);
    json::value next = nullptr;
    if (page.size() > page_size) {
        page.resize(page_size);
        next = page.back().at("item_id");
    }
    co_return json_response(http::status::ok, json::object{{"items", std::move(page)},
                                                           {"next_cursor", std::move(next)}});
}

awaitable<http_response> cancel_item(api_deps& deps, request_context ctx) {
    std::string id(ctx.path.get("item_id").value_or(""));
    std::string job_id;  // for the log line, as workers write it
    auto cancel_work = [&deps, &job_id, id] {
        auto outcome = deps.db->cancel(deps.tenant_id, id, deps.time->now_ms());
        if (outcome == store::cancel_outcome::canceled) {
            if (auto item = deps.db->find_item(deps.tenant_id, id)) {
                job_id = item->job_id;
            }
        }
        return outcome;
    };
    auto outcome = co_await run_on(*deps.store_pool, cancel_work);
    switch (outcome) {
        case store::cancel_outcome::not_found:
            co_return to_response(item_not_found(id));
        case store::cancel_outcome::already_final:
            co_return to_response(make_problem(http::status::conflict, "already-final",
                                               "the item has already finished"));
        case store::cancel_outcome::canceled:
            break;
    }
    if (deps.item_canceled) {
        deps.item_canceled(id);
    }
    // No worker reports a cancellation: it ends here.
    if (deps.metrics != nullptr) {
        pipeline::items_finished(*deps.metrics).with({"canceled"}).inc();
    }
    log::event(spdlog::level::info, "item_finished",
               {{"item_id", id},
                {"job_id", job_id},
                {"state", "canceled"},
                {"reason", "canceled through the API"}});
    co_return json_response(http::status::ok,
                            json::object{{"item_id", id}, {"status", "canceled"}});
}

awaitable<http_response> retry_item(api_deps& deps, request_context ctx) {
    std::string id(ctx.path.get("item_id").value_or(""));
    auto retry_work = [&deps, id]() -> std::optional<bool> {
        auto item = deps.db->find_item(deps.tenant_id, id);
        if (!item) {
            return std::nullopt;
        }
        if (deps.db->retry(deps.tenant_id, id, deps.time->now_ms())) {
            return true;
        }
        // A finished item that went on without the vision model, which refused for a reason
        // the operator can end (a wrong key): the retry identifies it again.
        for (const auto& c : deps.db->checkpoints(item->job_id)) {
            if (c.stage == "identify" && pipeline::refused_fixably(json::parse(c.output_json))) {
                return deps.db->redo(deps.tenant_id, id, deps.time->now_ms());
            }
        }
        return false;
    };
    auto outcome = co_await run_on(*deps.store_pool, retry_work);
    if (!outcome) {
        co_return to_response(item_not_found(id));
    }
    if (!*outcome) {
        co_return to_response(
            make_problem(http::status::conflict, "not-retryable",
                         "only failed or canceled items can be retried, and finished ones whose "
                         "identification went on without Claude after it refused the API key, "
                         "billing or model (vision_error vision_auth, vision_billing or "
                         "vision_not_found)"));
    }
    deps.wake_workers();
    co_return json_response(http::status::accepted,
                            json::object{{"item_id", id}, {"status", "queued"}});
}

awaitable<http_response> get_image(api_deps& deps, request_context ctx) {
    std::string id(ctx.path.get("item_id").value_or(""));
    auto n = parse_int(ctx.path.get("n").value_or(""));
    if (!n || *n < 0) {
        co_return to_response(bad_request("the photo number must be a whole number from 0"));
    }
    struct found {
        bool item = false;
        bool final = false;
        bool normalized = false;
        std::optional<std::string> bytes;
    };
    auto image_work = [&deps, id, index = *n] {
        found f;
        auto item = deps.db->find_item(deps.tenant_id, id);
        if (!item || index >= static_cast<int>(item->images.size())) {
            return f;
        }
        f.item = true;
        f.final = store::is_final(item->state);
        for (const auto& c : deps.db->checkpoints(item->job_id)) {
            if (c.stage != "normalize") {
                continue;
            }
            auto doc = json::parse(c.output_json);
            const auto& img = doc.at("images").as_array().at(static_cast<std::size_t>(index));
            f.normalized = true;
            f.bytes = deps.blobs->get(img.at("sha256").as_string());
        }
        return f;
    };
    auto got = co_await run_on(*deps.store_pool, image_work);
    if (!got.item) {
        co_return to_response(
            not_found(fmt::format("item '{}' has no photo {}", valid_utf8(id.substr(0, 64)), *n)));
    }
    if (!got.normalized || !got.bytes) {
        if (got.final) {
            co_return to_response(
                not_found("this item finished without a normalized photo; see its error"));
        }
        co_return to_response(make_problem(http::status::conflict, "not-normalized",
                                           "this photo has not been normalized yet"));
    }
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "image/jpeg");
    res.set(http::field::cache_control, "private, max-age=86400, immutable");
    res.body() = std::move(*got.bytes);
    res.prepare_payload();
    co_return res;
}

awaitable<http_response> get_job(api_deps& deps, request_context ctx) {
    std::string id(ctx.path.get("job_id").value_or(""));
    auto job_work = [&deps, id]() -> std::optional<json::object> {
        auto job = deps.db->find_job(deps.tenant_id, id);
        if (!job) {
            return std::nullopt;
        }
        json::object timings;
        for (const auto& c : deps.db->checkpoints(job->job_id)) {
            timings[c.stage] = c.duration_ms;
        }
        auto when = [](std::int64_t ms) -> json::value {
            return ms > 0 ? json::value(iso8601_utc(ms)) : json::value(nullptr);
        };
        json::value error = job_error(job);
        json::value waiting_for = nullptr;
        if (!job->waits_for.empty() && job->state == store::job_state::queued) {
            waiting_for = json::object{{"kind", "message_batch"}, {"id", job->waits_for}};
        }
        return json::object{{"job_id", job->job_id},
                            {"item_id", job->item_id},
                            {"state", std::string(store::to_string(job->state))},
                            {"stage", job->stage},
                            {"priority", std::string(store::to_string(job->prio))},
                            {"attempts", job->attempts},
                            {"max_attempts", job->max_attempts},
                            {"created_at", when(job->created_ms)},
                            {"started_at", when(job->started_ms)},
                            {"finished_at", when(job->finished_ms)},
                            {"stage_ms", std::move(timings)},
                            {"error", std::move(error)},
                            {"waiting_for", std::move(waiting_for)},
                            {"links", item_links(job->item_id, job->job_id)}};
    };
    auto doc = co_await run_on(*deps.store_pool, job_work);
    if (!doc) {
        co_return to_response(
            not_found(fmt::format("no job with id '{}'", valid_utf8(id.substr(0, 64)))));
    }
    co_return json_response(http::status::ok, *doc);
}

}  // namespace

void add_item_routes(router& r, api_deps& deps) {
    r.add(http::verb::post, "/v1/items",
          [&deps](request_context c) { return submit_item(deps, c); });
    r.add(http::verb::get, "/v1/items", [&deps](request_context c) { return list_items(deps, c); });
    r.add(http::verb::get, "/v1/items/{item_id}",
          [&deps](request_context c) { return get_item(deps, c); });
    r.add(http::verb::post, "/v1/items/{item_id}/cancel",
          [&deps](request_context c) { return cancel_item(deps, c); });
    r.add(http::verb::post, "/v1/items/{item_id}/retry",
          [&deps](request_context c) { return retry_item(deps, c); });
    r.add(http::verb::get, "/v1/items/{item_id}/images/{n}",
          [&deps](request_context c) { return get_image(deps, c); });
    r.add(http::verb::get, "/v1/jobs/{job_id}",
          [&deps](request_context c) { return get_job(deps, c); });
}

}  // namespace boomer::api
