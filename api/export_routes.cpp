// Listing export: GET /v1/exports/ebay.csv writes the tenant's ready items as eBay's bulk listing
// file (pipeline/market/bulk_listing.hpp), read from the store a page at a time.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>

#include "api/handlers.hpp"
#include "api/problem.hpp"
#include "core/async.hpp"
#include "core/utf8.hpp"
#include "pipeline/item_document.hpp"
#include "pipeline/market/bulk_listing.hpp"

namespace boomer::api {
namespace {

namespace json = boost::json;
using asio::awaitable;

constexpr int page_size = 100;

std::string text_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The host a client reached us by, when it is a plain host[:port] (nothing that could bend the
// URLs written into the file).
std::optional<std::string> request_host(const http_request& req) {
    auto host = req[http::field::host];
    if (host.empty() || host.size() > 255) {
        return std::nullopt;
    }
    for (char c : host) {
        bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' ||
                  c == ':' || c == '[' || c == ']';
        if (!ok) {
            return std::nullopt;
        }
    }
    return std::string(host);
}

// The item's row, from its result document; nothing when it has no listing draft.
std::optional<market::bulk_row> row_of(const json::object& doc, const std::string& base_url) {
    const auto* listing = doc.if_contains("listing");
    if (listing == nullptr || !listing->is_object()) {
        return std::nullopt;
    }
    const auto& l = listing->as_object();
    market::bulk_row row;
    auto item_id = text_of(doc, "item_id");
    row.custom_label = text_of(doc, "sku").empty() ? item_id : text_of(doc, "sku");
    row.title = text_of(l, "title");
    row.description = text_of(l, "description");
    if (const auto* id = l.if_contains("condition_id"); id != nullptr && id->is_number()) {
        row.condition_id = id->to_number<int>();
    }
    if (const auto* p = l.if_contains("price_minor"); p != nullptr && p->is_number()) {
        row.start_price_minor = p->to_number<std::int64_t>();
    }
    if (const auto* specifics = l.if_contains("specifics"); specifics && specifics->is_array()) {
        for (const auto& s : specifics->as_array()) {
            row.specifics.emplace_back(text_of(s.as_object(), "name"),
                                       text_of(s.as_object(), "value"));
        }
    }
    for (const auto& img : doc.at("images").as_array()) {
        if (!img.at("normalized").is_null()) {
            row.picture_urls.push_back(fmt::format("{}/v1/items/{}/images/{}", base_url, item_id,
                                                   img.at("index").to_number<int>()));
        }
    }
    return row;
}

struct export_file {
    std::string csv;
    int rows = 0;
    int skipped = 0;  // ready items without a listing or in another currency
};

// Reads the items page by page and writes their rows; only the file grows in memory.
export_file write_export(api_deps& deps, store::job_state state, const std::string& base_url) {
    market::bulk_site site;
    export_file out;
    out.csv = market::bulk_header_line(site);
    store::list_query q;
    q.tenant_id = deps.tenant_id;
    q.state = state;
    q.limit = page_size;
    while (true) {
        auto page = deps.db->list_items(q);
        for (const auto& item : page) {
            auto doc = item.result_json.empty()
                           ? pipeline::item_document(item, deps.db->checkpoints(item.job_id))
                           : json::parse(item.result_json).as_object();
            auto row = row_of(doc, base_url);
            const auto* listing = doc.if_contains("listing");
            bool same_currency =
                row && (!row->start_price_minor ||
                        text_of(listing->as_object(), "currency") == site.currency);
            if (!row || !same_currency) {
                ++out.skipped;
                continue;
            }
            out.csv += market::bulk_row_line(site, *row);
            ++out.rows;
        }
        if (page.size() < static_cast<std::size_t>(page_size)) {
            break;
        }
        q.before_item_id = page.back().item_id;
    }
    return out;
}

awaitable<http_response> export_ebay(api_deps& deps, request_context ctx) {
    auto status = std::string(ctx.query.get("status").value_or("succeeded"));
    auto state = store::parse_job_state(status);
    if (!state ||
        (*state != store::job_state::succeeded && *state != store::job_state::needs_review)) {
        co_return to_response(make_problem(
            http::status::bad_request, "invalid-status",
            fmt::format("status must be succeeded (the default) or needs_review, not '{}'",
                        valid_utf8(std::string_view(status).substr(0, 40)))));
    }
    std::string base_url = deps.public_url;
    if (base_url.empty()) {
        auto host = request_host(ctx.request);
        if (!host) {
            co_return to_response(bad_request(
                "the request has no usable Host header to build picture URLs from; send one or "
                "start the service with --public-url"));
        }
        base_url = "http://" + *host;
    }
    while (!base_url.empty() && base_url.back() == '/') {
        base_url.pop_back();
    }

    auto export_work = [&deps, state = *state, &base_url] {
        return write_export(deps, state, base_url);
    };
    auto file = co_await run_on(*deps.store_pool, export_work);
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/csv; charset=utf-8");
    res.set(http::field::content_disposition, "attachment; filename=\"ebay-listings.csv\"");
    res.set("Boomer-Export-Rows", std::to_string(file.rows));
    res.set("Boomer-Export-Skipped", std::to_string(file.skipped));
    res.body() = std::move(file.csv);
    res.prepare_payload();
    co_return res;
}

}  // namespace

// TODO(#4): stream the file with a chunked body instead of building it in memory; eBay category
// ids, item location and shipping/return profiles are not known yet and are left blank.
void add_export_routes(router& r, api_deps& deps) {
    r.add(http::verb::get, "/v1/exports/ebay.csv",
          [&deps](request_context c) { return export_ebay(deps, c); });
}

}  // namespace boomer::api
