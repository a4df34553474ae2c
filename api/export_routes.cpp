// Listing export: GET /v1/exports/ebay.csv streams the tenant's ready items as eBay's bulk
// listing file (pipeline/market/bulk_listing.hpp). A first pass over the items (a page at a
// time, on the store pool) counts what goes in and what is left out, for the response headers;
// the second writes the rows a page at a time as the client reads them, so the file is never
// whole in memory.
//
// An item goes in when it has a listing draft, its price (if any) is in the site's currency and
// it has an eBay category (the user's hint or the one its comps search learned). eBay refuses a
// row without *Category, so uncategorized items are left out and named in the
// Boomer-Export-Uncategorized headers, unless the client asks for them with
// ?uncategorized=include (the category is then left blank for the seller to fill in).
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <variant>

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
constexpr std::size_t listed_uncategorized = 20;  // ids named in the header, at most

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

// The item's eBay category from its comps search ({"comps": {"category": {"id": ...}}}).
std::string category_of(const json::object& doc) {
    const auto* comps = doc.if_contains("comps");
    if (comps == nullptr || !comps->is_object()) {
        return {};
    }
    const auto* category = comps->as_object().if_contains("category");
    if (category == nullptr || !category->is_object()) {
        return {};
    }
    return text_of(category->as_object(), "id");
}

// What the file is made of: every row's site, location and picture base, and which items.
struct export_plan {
    store::job_state state = store::job_state::succeeded;
    std::string base_url;
    std::string location;
    bool include_uncategorized = false;
    market::bulk_site site;
};

// Why an item is not a row.
enum class left_out { none, no_listing, other_currency, no_category };

struct item_row {
    left_out reason = left_out::none;
    market::bulk_row row;
};

// The item's row, from its result document.
item_row row_of(const json::object& doc, const export_plan& plan) {
    item_row out;
    const auto* listing = doc.if_contains("listing");
    if (listing == nullptr || !listing->is_object()) {
        out.reason = left_out::no_listing;
        return out;
    }
    const auto& l = listing->as_object();
    auto& row = out.row;
    auto item_id = text_of(doc, "item_id");
    row.custom_label = text_of(doc, "sku").empty() ? item_id : text_of(doc, "sku");
    row.category_id = category_of(doc);
    row.title = text_of(l, "title");
    row.description = text_of(l, "description");
    row.location = plan.location;
    if (const auto* id = l.if_contains("condition_id"); id != nullptr && id->is_number()) {
        row.condition_id = id->to_number<int>();
    }
    if (const auto* p = l.if_contains("price_minor"); p != nullptr && p->is_number()) {
        row.start_price_minor = p->to_number<std::int64_t>();
        if (text_of(l, "currency") != plan.site.currency) {
            out.reason = left_out::other_currency;
            return out;
        }
    }
    if (const auto* specifics = l.if_contains("specifics"); specifics && specifics->is_array()) {
        for (const auto& s : specifics->as_array()) {
            row.specifics.emplace_back(text_of(s.as_object(), "name"),
                                       text_of(s.as_object(), "value"));
        }
    }
    for (const auto& img : doc.at("images").as_array()) {
        if (!img.at("normalized").is_null()) {
            row.picture_urls.push_back(fmt::format("{}/v1/items/{}/images/{}", plan.base_url,
                                                   item_id, img.at("index").to_number<int>()));
        }
    }
    if (row.category_id.empty() && !plan.include_uncategorized) {
        out.reason = left_out::no_category;
    }
    return out;
}

// One page of ready items after `cursor` (newest first), with their result documents.
struct item_page {
    std::vector<std::pair<std::string, json::object>> docs;  // item id, result document
    std::string next_cursor;                                 // empty: this was the last page
};

// Reads a page; blocking (store calls): runs on the store pool.
item_page read_page(api_deps& deps, store::job_state state, const std::string& cursor,
                    std::int64_t created_until_ms) {
    store::list_query q;
    q.tenant_id = deps.tenant_id;
    q.state = state;
    q.limit = page_size;
    q.before_item_id = cursor;
    auto items = deps.db->list_items(q);
    item_page page;
    for (const auto& item : items) {
        if (item.created_ms > created_until_ms) {
            continue;  // arrived after the counting pass: not in the headers' numbers
        }
        auto doc = item.result_json.empty()
                       ? pipeline::item_document(item, deps.db->checkpoints(item.job_id))
                       : json::parse(item.result_json).as_object();
        page.docs.emplace_back(item.item_id, std::move(doc));
    }
    if (items.size() == static_cast<std::size_t>(page_size)) {
        page.next_cursor = items.back().item_id;
    }
    return page;
}

// The counting pass's findings.
struct export_counts {
    int rows = 0;
    int skipped = 0;  // no listing draft, or a price in another currency
    int uncategorized = 0;
    std::vector<std::string> uncategorized_ids;  // the first listed_uncategorized of them
};

// Counts the file's rows and what is left out; blocking: runs on the store pool.
export_counts count_rows(api_deps& deps, const export_plan& plan, std::int64_t until_ms) {
    export_counts out;
    std::string cursor;
    do {
        auto page = read_page(deps, plan.state, cursor, until_ms);
        for (const auto& [id, doc] : page.docs) {
            auto r = row_of(doc, plan);
            if (r.row.category_id.empty() && r.reason != left_out::no_listing &&
                r.reason != left_out::other_currency) {
                ++out.uncategorized;
                if (out.uncategorized_ids.size() < listed_uncategorized) {
                    out.uncategorized_ids.push_back(id);
                }
            }
            if (r.reason == left_out::none) {
                ++out.rows;
            } else if (r.reason != left_out::no_category) {
                ++out.skipped;
            }
        }
        cursor = page.next_cursor;
    } while (!cursor.empty());
    return out;
}

// The writing pass: where it is.
struct export_cursor {
    export_plan plan;
    std::int64_t until_ms = 0;
    std::string cursor;
    bool header_sent = false;
    bool done = false;
};

// The next piece of the file: the header line, then the rows of one page per call.
awaitable<std::optional<std::string>> next_piece(api_deps* deps,
                                                 std::shared_ptr<export_cursor> at) {
    if (!at->header_sent) {
        at->header_sent = true;
        co_return market::bulk_header_line(at->plan.site);
    }
    if (at->done) {
        co_return std::nullopt;
    }
    auto work = [deps, at] {
        auto page = read_page(*deps, at->plan.state, at->cursor, at->until_ms);
        std::string text;
        for (const auto& [id, doc] : page.docs) {
            auto r = row_of(doc, at->plan);
            if (r.reason == left_out::none) {
                text += market::bulk_row_line(at->plan.site, r.row);
            }
        }
        at->cursor = page.next_cursor;
        at->done = page.next_cursor.empty();
        return text;
    };
    co_return co_await run_on(*deps->store_pool, work);
}

std::string join_ids(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) {
        out += (out.empty() ? "" : ",") + id;
    }
    return out;
}

// The plan from the request, or the problem to answer with.
std::variant<export_plan, problem> plan_of(const api_deps& deps, const request_context& ctx) {
    export_plan plan;
    auto status = std::string(ctx.query.get("status").value_or("succeeded"));
    auto state = store::parse_job_state(status);
    if (!state ||
        (*state != store::job_state::succeeded && *state != store::job_state::needs_review)) {
        return make_problem(
            http::status::bad_request, "invalid-status",
            fmt::format("status must be succeeded (the default) or needs_review, not '{}'",
                        valid_utf8(std::string_view(status).substr(0, 40))));
    }
    plan.state = *state;
    auto uncategorized = ctx.query.get("uncategorized").value_or("skip");
    if (uncategorized != "skip" && uncategorized != "include") {
        return bad_request("uncategorized must be skip (the default) or include");
    }
    plan.include_uncategorized = uncategorized == "include";
    if (deps.ship_from.empty()) {
        return make_problem(http::status::conflict, "export-needs-location",
                            "eBay needs the items' location in every row; start the service "
                            "with --ship-from (BOOMER_SHIP_FROM), a postal code or \"City, ST\"");
    }
    plan.location = deps.ship_from;
    plan.site.terms = deps.seller;
    plan.base_url = deps.public_url;
    if (plan.base_url.empty()) {
        auto host = request_host(ctx.request);
        if (!host) {
            return bad_request(
                "the request has no usable Host header to build picture URLs from; send one or "
                "start the service with --public-url");
        }
        plan.base_url = "http://" + *host;
    }
    while (!plan.base_url.empty() && plan.base_url.back() == '/') {
        plan.base_url.pop_back();
    }
    return plan;
}

awaitable<http_response> export_ebay(api_deps& deps, request_context ctx) {
    auto planned = plan_of(deps, ctx);
    if (auto* p = std::get_if<problem>(&planned)) {
        co_return to_response(*p);
    }
    auto at = std::make_shared<export_cursor>();
    at->plan = std::get<export_plan>(std::move(planned));
    at->until_ms = deps.time->now_ms();
    auto counting = [&deps, at] { return count_rows(deps, at->plan, at->until_ms); };
    auto counts = co_await run_on(*deps.store_pool, counting);

    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/csv; charset=utf-8");
    res.set(http::field::content_disposition, "attachment; filename=\"ebay-listings.csv\"");
    res.set("Boomer-Export-Rows", std::to_string(counts.rows));
    res.set("Boomer-Export-Skipped", std::to_string(counts.skipped));
    res.set("Boomer-Export-Uncategorized", std::to_string(counts.uncategorized));
    res.set("Boomer-Export-Uncategorized-Items", join_ids(counts.uncategorized_ids));
    api_deps* d = &deps;
    *ctx.streamed_body = [d, at] { return next_piece(d, at); };
    co_return res;
}

}  // namespace

void add_export_routes(router& r, api_deps& deps) {
    r.add(http::verb::get, "/v1/exports/ebay.csv",
          [&deps](request_context c) { return export_ebay(deps, c); });
}

}  // namespace boomer::api
