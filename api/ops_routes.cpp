// Operator routes: health, readiness, metrics, the API description; and add_routes.
#include <boost/json.hpp>
#include <exception>
#include <map>
#include <optional>

#include "api/handlers.hpp"
#include "api/json_response.hpp"
#include "api/problem.hpp"
#include "core/async.hpp"

namespace boomer::api {

void add_item_routes(router& r, api_deps& deps);
void add_export_routes(router& r, api_deps& deps);

namespace {

namespace json = boost::json;
using asio::awaitable;

awaitable<http_response> healthz(request_context) {
    co_return json_response(http::status::ok, json::object{{"status", "ok"}});
}

awaitable<http_response> readyz(api_deps& deps, request_context) {
    if (deps.draining != nullptr && deps.draining->load()) {
        co_return to_response(make_problem(http::status::service_unavailable, "draining",
                                           "the service is shutting down"));
    }
    bool ok = false;
    try {
        auto ping_work = [&deps] { return deps.db->ping(); };
        ok = co_await run_on(*deps.store_pool, ping_work);
    } catch (const std::exception&) {
        ok = false;
    }
    if (!ok) {
        co_return to_response(make_problem(http::status::service_unavailable, "database-down",
                                           "the database does not answer"));
    }
    co_return json_response(http::status::ok, json::object{{"status", "ready"}});
}

// Queue depth and item counts are read from the store at scrape time. While the database is
// away the rest is still served, with boomer_database_up 0 and those gauges left as they were,
// so an outage does not look like every replica being down.
awaitable<http_response> metrics_text(api_deps& deps, request_context) {
    using counts = std::pair<std::map<store::priority, std::int64_t>,
                             std::map<store::job_state, std::int64_t>>;
    auto counts_work = [&deps]() -> std::optional<counts> {
        try {
            return counts(deps.db->queue_depth(), deps.db->count_by_state());
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    auto found = co_await run_on(*deps.store_pool, counts_work);
    deps.metrics
        ->gauge_family("boomer_database_up",
                       "1 when the last scrape could read the database, else 0.", {})
        .with({})
        .set(found ? 1.0 : 0.0);
    if (found) {
        auto& depth_gauge = deps.metrics->gauge_family(
            "boomer_queue_depth",
            "Queued items waiting for a worker, by priority (not those parked while their "
            "message batch runs: boomer_items{state=\"queued\"} counts them too).",
            {"priority"});
        for (auto [prio, n] : found->first) {
            depth_gauge.with({store::to_string(prio)}).set(static_cast<double>(n));
        }
        auto& state_gauge =
            deps.metrics->gauge_family("boomer_items", "Items by state.", {"state"});
        for (auto [state, n] : found->second) {
            state_gauge.with({store::to_string(state)}).set(static_cast<double>(n));
        }
    }
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = deps.metrics->render();
    res.prepare_payload();
    co_return res;
}

awaitable<http_response> openapi(api_deps& deps, request_context) {
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "application/yaml");
    res.body() = deps.openapi_yaml;
    res.prepare_payload();
    co_return res;
}

}  // namespace

http_response json_response(http::status status, const json::value& body) {
    http_response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(body);
    res.prepare_payload();
    return res;
}

void add_routes(router& r, api_deps& deps) {
    add_item_routes(r, deps);
    add_export_routes(r, deps);
    r.add(http::verb::get, "/healthz", [](request_context c) { return healthz(c); });
    r.add(http::verb::get, "/readyz", [&deps](request_context c) { return readyz(deps, c); });
    r.add(http::verb::get, "/metrics",
          [&deps](request_context c) { return metrics_text(deps, c); });
    r.add(http::verb::get, "/openapi.yaml",
          [&deps](request_context c) { return openapi(deps, c); });
}

}  // namespace boomer::api
