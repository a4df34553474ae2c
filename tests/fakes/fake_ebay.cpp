// The fake eBay's server: tokens, authorization, quotas, injected trouble, and the handlers.
#include "tests/fakes/fake_ebay.hpp"

#include <httplib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "tests/fakes/fake_ebay_render.hpp"
#include "tests/fakes/fake_listen.hpp"

namespace boomer::fakes {
namespace {

namespace json = boost::json;

constexpr std::string_view public_scope = "https://api.ebay.com/oauth/api_scope";
constexpr std::string_view insights_scope =
    "https://api.ebay.com/oauth/api_scope/buy.marketplace.insights";

struct answer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;

    answer() = default;
    answer(int s, std::string b, std::string type = "application/json")
        : status(s), body(std::move(b)), content_type(std::move(type)) {}
};

struct issued_token {
    std::vector<std::string> scopes;
    std::int64_t expires_at_ms = 0;
    bool revoked = false;
};

answer ebay_error(int id) {
    auto spec = ebay_error_by_id(id);
    return answer{static_cast<int>(spec.status), ebay_error_body(spec)};
}

answer oauth_error(int status, std::string_view error, std::string_view description) {
    return answer{status, oauth_error_body(error, description)};
}

std::string fold(std::string_view text) {
    std::string out;
    for (char c : text) {
        bool space = c == ' ' || c == '\t' || c == '\n';
        if (space) {
            if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
            continue;
        }
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

// eBay cuts q to 100 characters (code points).
std::string cut_q(const std::string& q) {
    std::size_t chars = 0;
    std::size_t pos = 0;
    while (pos < q.size() && chars < 100) {
        ++pos;
        while (pos < q.size() && (static_cast<unsigned char>(q[pos]) & 0xC0) == 0x80) {
            ++pos;
        }
        ++chars;
    }
    return q.substr(0, pos);
}

std::string base64_decode(std::string_view in) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t buf = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') {
            break;
        }
        auto v = alphabet.find(c);
        if (v == std::string_view::npos) {
            return {};
        }
        buf = (buf << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xFF);
        }
    }
    return out;
}

std::optional<int> parse_int(const std::string& text) {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

// Whether a listing belongs to the category_ids asked for (fixtures without a category belong
// to every category).
bool in_category(const fake_listing& l, const std::string& category) {
    return category.empty() || l.category_id.empty() || l.category_id == category;
}

// The first of midnight Pacific (07:00Z, per eBay's analytics sample) after `now_ms`.
std::int64_t next_reset_ms(std::int64_t now_ms) {
    constexpr std::int64_t day = 86'400'000;
    constexpr std::int64_t offset = 7 * 3'600'000;
    return ((now_ms - offset) / day + 1) * day + offset;
}

}  // namespace

struct fake_ebay::impl {
    fake_ebay_options options;
    const clock& time;
    httplib::Server server;
    std::thread thread;
    int port = 0;

    mutable std::mutex mutex;
    std::map<std::string, std::vector<fake_listing>> active;  // guarded by mutex
    std::map<std::string, std::vector<fake_listing>> sold;    // guarded by mutex
    std::map<std::string, issued_token> tokens;               // guarded by mutex
    std::map<ebay_endpoint, std::deque<unsigned>> script;     // guarded by mutex
    std::map<ebay_endpoint, std::int64_t> quota;              // guarded by mutex
    std::map<ebay_endpoint, std::int64_t> used;               // guarded by mutex
    std::int64_t quota_reset_ms = 0;                          // guarded by mutex
    std::vector<fake_ebay_request> log;                       // guarded by mutex
    latency_distribution latency;                             // guarded by mutex
    sold_markup markup;                                       // guarded by mutex
    std::mt19937_64 rng;                                      // guarded by mutex
    std::uint64_t minted = 0;                                 // guarded by mutex

    explicit impl(fake_ebay_options o)
        : options(std::move(o)),
          time(options.time != nullptr ? *options.time : system_clock::instance()),
          latency(options.latency),
          markup(options.markup),
          rng(options.seed) {
        quota[ebay_endpoint::browse] = options.browse_daily_quota;
        quota[ebay_endpoint::insights] = options.insights_daily_quota;
    }

    answer token(const httplib::Request& req, fake_ebay_request& seen);
    std::optional<answer> authorize(const httplib::Request& req, std::string_view scope);
    std::optional<answer> trouble(ebay_endpoint endpoint);
    answer browse(const httplib::Request& req, fake_ebay_request& seen);
    answer insights(const httplib::Request& req, fake_ebay_request& seen);
    answer sold_page(const httplib::Request& req, fake_ebay_request& seen);
    std::string stats_json() const;
    void serve(ebay_endpoint endpoint, const httplib::Request& req, httplib::Response& res);
};

answer fake_ebay::impl::token(const httplib::Request& req, fake_ebay_request& seen) {
    auto type = req.get_header_value("Content-Type");
    if (type.rfind("application/x-www-form-urlencoded", 0) != 0) {
        return oauth_error(400, "invalid_request",
                           "request is missing a required parameter or malformed");
    }
    auto auth = req.get_header_value("Authorization");
    auto pair = auth.rfind("Basic ", 0) == 0 ? base64_decode(auth.substr(6)) : std::string();
    if (pair != options.client_id + ":" + options.client_secret) {
        return oauth_error(401, "invalid_client", "client authentication failed");
    }
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    auto grant = form.find("grant_type");
    if (grant == form.end() || grant->second != "client_credentials") {
        return oauth_error(400, "unsupported_grant_type",
                           "grant type in request is not supported by the authorization server");
    }
    auto scope = form.find("scope");
    seen.scope = scope == form.end() ? "" : scope->second;
    std::vector<std::string> scopes;
    for (std::size_t pos = 0; pos <= seen.scope.size();) {
        auto end = std::min(seen.scope.find(' ', pos), seen.scope.size());
        if (end > pos) {
            scopes.push_back(seen.scope.substr(pos, end - pos));
        }
        pos = end + 1;
    }
    bool granted = !scopes.empty() && std::all_of(scopes.begin(), scopes.end(), [&](auto& s) {
        return std::find(options.granted_scopes.begin(), options.granted_scopes.end(), s) !=
               options.granted_scopes.end();
    });
    if (!granted) {
        return oauth_error(400, "invalid_scope",
                           "The requested scope is invalid, unknown, malformed, or exceeds the "
                           "scope granted to the client");
    }
    if (auto t = trouble(ebay_endpoint::token)) {
        return *t;
    }
    auto value = "v^1.1#i^1#f^0#p^1#r^0#I^3#t^fake" + std::to_string(++minted);
    tokens[value] = issued_token{scopes, time.now_ms() + options.token_ttl_seconds * 1000, false};
    return answer{200, json::serialize(json::object{{"access_token", value},
                                                    {"expires_in", options.token_ttl_seconds},
                                                    {"token_type", "Application Access Token"}})};
}

std::optional<answer> fake_ebay::impl::authorize(const httplib::Request& req,
                                                 std::string_view scope) {
    if (!req.has_header("Authorization")) {
        return ebay_error(1002);
    }
    auto auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0) {
        return ebay_error(1003);
    }
    auto it = tokens.find(auth.substr(7));
    if (it == tokens.end() || it->second.revoked || time.now_ms() >= it->second.expires_at_ms) {
        return ebay_error(1001);
    }
    const auto& scopes = it->second.scopes;
    if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) {
        return ebay_error(1100);
    }
    return std::nullopt;
}

std::optional<answer> fake_ebay::impl::trouble(ebay_endpoint endpoint) {
    auto now = time.now_ms();
    if (now >= quota_reset_ms) {
        used.clear();
        quota_reset_ms = next_reset_ms(now);
    }
    if (auto q = quota.find(endpoint); q != quota.end() && q->second > 0) {
        if (used[endpoint] >= q->second) {
            auto a = ebay_error(2001);
            if (options.quota_retry_after) {
                a.headers.emplace_back("Retry-After",
                                       std::to_string((quota_reset_ms - now + 999) / 1000));
            }
            return a;
        }
        ++used[endpoint];
    }
    auto& queue = script[endpoint];
    if (!queue.empty()) {
        auto status = queue.front();
        queue.pop_front();
        if (endpoint == ebay_endpoint::token) {
            return status == 401
                       ? oauth_error(401, "invalid_client", "client authentication failed")
                   : status == 400
                       ? oauth_error(400, "invalid_scope", "The requested scope is invalid")
                       : oauth_error(500, "server_error", "internal error");
        }
        return ebay_error(status == 401   ? 1001
                          : status == 403 ? 1100
                          : status == 429 ? 2001
                                          : 2003);
    }
    if (endpoint != ebay_endpoint::token && options.error_rate_500 > 0 &&
        std::uniform_real_distribution<double>(0, 1)(rng) < options.error_rate_500) {
        return ebay_error(2003);
    }
    return std::nullopt;
}

answer fake_ebay::impl::browse(const httplib::Request& req, fake_ebay_request& seen) {
    if (auto denied = authorize(req, public_scope)) {
        return *denied;
    }
    seen.q = req.get_param_value("q");
    auto gtin = req.get_param_value("gtin");
    if (seen.q.empty() && gtin.empty() && req.get_param_value("category_ids").empty() &&
        req.get_param_value("epid").empty()) {
        return ebay_error(12001);
    }
    auto limit_text = req.has_param("limit") ? req.get_param_value("limit") : "50";
    auto offset_text = req.has_param("offset") ? req.get_param_value("offset") : "0";
    auto limit = parse_int(limit_text);
    auto offset = parse_int(offset_text);
    if (!limit) {
        return ebay_error(12007);
    }
    if (*limit < 1 || *limit > 200) {
        return ebay_error(12006);
    }
    if (!offset) {
        return ebay_error(12005);
    }
    if (*offset < 0) {
        return ebay_error(12004);
    }
    if (*offset >= 10'000) {
        return ebay_error(12029);
    }
    if (*offset % *limit != 0) {
        return ebay_error(12515);
    }
    if (auto t = trouble(ebay_endpoint::browse)) {
        return *t;
    }
    auto filter = parse_filter(req.get_param_value("filter"));
    auto groups = parse_fieldgroups(req.get_param_value("fieldgroups"));
    auto key = seen.q.empty() ? "gtin:" + gtin : fold(cut_q(seen.q));
    auto category = req.get_param_value("category_ids");
    std::vector<fake_listing> hits;
    for (const auto& l : active[key]) {
        if (matches(l, filter) && in_category(l, category)) {
            hits.push_back(l);
        }
    }
    result_page page;
    page.groups = groups;
    page.total = hits.size();
    page.limit = *limit;
    page.offset = *offset;
    page.href_query =
        seen.q.empty() ? "gtin=" + gtin : "q=" + httplib::detail::encode_query_param(seen.q);
    page.price_warning = filter.has_price && filter.price_currency.empty();
    page.all = hits;
    for (auto i = static_cast<std::size_t>(*offset);
         i < hits.size() && i < static_cast<std::size_t>(*offset + *limit); ++i) {
        page.items.push_back(hits[i]);
    }
    return answer{200, browse_body(page)};
}

answer fake_ebay::impl::insights(const httplib::Request& req, fake_ebay_request& seen) {
    if (auto denied = authorize(req, insights_scope)) {
        return *denied;
    }
    seen.q = req.get_param_value("q");
    auto limit = parse_int(req.has_param("limit") ? req.get_param_value("limit") : "50");
    auto offset = parse_int(req.has_param("offset") ? req.get_param_value("offset") : "0");
    // The reference documents no error id for a missing category or a bad limit; 2004 is
    // eBay's generic "Invalid request".
    if (req.get_param_value("category_ids").empty() || !limit || *limit < 1 || *limit > 200 ||
        !offset || *offset < 0) {
        return ebay_error(2004);
    }
    if (*offset >= 10'000) {
        return ebay_error(100021);
    }
    if (auto t = trouble(ebay_endpoint::insights)) {
        return *t;
    }
    auto filter = parse_filter(req.get_param_value("filter"));
    auto key = seen.q.empty() ? "gtin:" + req.get_param_value("gtin") : fold(cut_q(seen.q));
    auto category = req.get_param_value("category_ids");
    std::vector<fake_listing> hits;
    for (const auto& l : sold[key]) {
        if (matches(l, filter) && in_category(l, category)) {
            hits.push_back(l);
        }
    }
    result_page page;
    page.total = hits.size();
    page.limit = *limit;
    page.offset = *offset;
    page.href_query = "q=" + httplib::detail::encode_query_param(seen.q);
    for (auto i = static_cast<std::size_t>(*offset);
         i < hits.size() && i < static_cast<std::size_t>(*offset + *limit); ++i) {
        page.items.push_back(hits[i]);
    }
    return answer{200, insights_body(page)};
}

answer fake_ebay::impl::sold_page(const httplib::Request& req, fake_ebay_request& seen) {
    seen.q = req.get_param_value("_nkw");
    if (seen.q.empty()) {
        return answer{400, "<html><body>Bad request</body></html>", "text/html"};
    }
    if (auto t = trouble(ebay_endpoint::sold_page)) {
        t->body = "<html><body>Error</body></html>";
        t->content_type = "text/html";
        return *t;
    }
    auto ipg = parse_int(req.has_param("_ipg") ? req.get_param_value("_ipg") : "60").value_or(60);
    auto pgn = parse_int(req.has_param("_pgn") ? req.get_param_value("_pgn") : "1").value_or(1);
    ipg = std::clamp(ipg, 1, 240);
    pgn = std::max(pgn, 1);
    bool sold_only =
        req.get_param_value("LH_Sold") == "1" && req.get_param_value("LH_Complete") == "1";
    std::vector<fake_listing> hits = sold_only ? sold[fold(seen.q)] : std::vector<fake_listing>{};
    std::vector<fake_listing> items;
    auto first = static_cast<std::size_t>((pgn - 1) * ipg);
    for (auto i = first; i < hits.size() && i < first + static_cast<std::size_t>(ipg); ++i) {
        items.push_back(hits[i]);
    }
    bool next = first + static_cast<std::size_t>(ipg) < hits.size();
    return answer{200, sold_page_html(markup, seen.q, items, hits.size(), next),
                  "text/html; charset=utf-8"};
}

std::string fake_ebay::impl::stats_json() const {
    std::lock_guard lock(mutex);
    static constexpr std::pair<ebay_endpoint, std::string_view> names[] = {
        {ebay_endpoint::token, "token"},
        {ebay_endpoint::browse, "browse"},
        {ebay_endpoint::insights, "insights"},
        {ebay_endpoint::sold_page, "sold_page"}};
    json::object out;
    for (auto [endpoint, name] : names) {
        std::int64_t received = 0;
        std::int64_t answered_ok = 0;
        std::int64_t limited = 0;
        for (const auto& r : log) {
            if (r.endpoint == endpoint) {
                ++received;
                answered_ok += r.status == 200 ? 1 : 0;
                limited += r.status == 429 ? 1 : 0;
            }
        }
        out[name] = json::object{{"received", received}, {"ok", answered_ok}, {"429", limited}};
    }
    out["tokens_issued"] = minted;
    return json::serialize(out);
}

void fake_ebay::impl::serve(ebay_endpoint endpoint, const httplib::Request& req,
                            httplib::Response& res) {
    fake_ebay_request seen;
    seen.endpoint = endpoint;
    seen.marketplace = req.get_header_value("X-EBAY-C-MARKETPLACE-ID");
    seen.target = req.target;
    answer a;
    std::chrono::milliseconds delay{0};
    {
        std::lock_guard lock(mutex);
        switch (endpoint) {
            case ebay_endpoint::token:
                a = token(req, seen);
                break;
            case ebay_endpoint::browse:
                a = browse(req, seen);
                break;
            case ebay_endpoint::insights:
                a = insights(req, seen);
                break;
            case ebay_endpoint::sold_page:
                a = sold_page(req, seen);
                break;
        }
        seen.status = static_cast<unsigned>(a.status);
        if (a.status != 200 && a.content_type == "application/json") {
            auto body = json::parse(a.body).as_object();
            if (auto* errors = body.if_contains("errors")) {
                seen.error_id = static_cast<int>(
                    errors->as_array()[0].as_object()["errorId"].to_number<std::int64_t>());
            } else if (auto* error = body.if_contains("error")) {
                seen.oauth_error = std::string(error->as_string());
            }
        }
        log.push_back(seen);
        delay = latency.sample(rng);
    }
    if (delay.count() > 0) {
        std::this_thread::sleep_for(delay);
    }
    res.status = a.status;
    for (const auto& [name, value] : a.headers) {
        res.set_header(name, value);
    }
    res.set_content(a.body, a.content_type);
}

fake_ebay::fake_ebay(fake_ebay_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
    auto* self = impl_.get();
    // Answers wait out their latency on a server thread (one per open connection): enough
    // threads that load runs with seconds of latency are not limited by the fake.
    self->server.new_task_queue = [] { return new httplib::ThreadPool(1024); };
    auto route = [self](ebay_endpoint endpoint) {
        return [self, endpoint](const httplib::Request& req, httplib::Response& res) {
            self->serve(endpoint, req, res);
        };
    };
    self->server.Post("/identity/v1/oauth2/token", route(ebay_endpoint::token));
    self->server.Get("/buy/browse/v1/item_summary/search", route(ebay_endpoint::browse));
    self->server.Get("/buy/marketplace_insights/v1_beta/item_sales/search",
                     route(ebay_endpoint::insights));
    self->server.Get("/sch/i.html", route(ebay_endpoint::sold_page));
    // Not part of eBay: lets a test or a tool in another process read the counters.
    self->server.Get("/_fake/stats", [self](const httplib::Request&, httplib::Response& res) {
        res.set_content(self->stats_json(), "application/json");
    });
    self->port = bind_listener(self->server, self->options.host, self->options.port, "fake_ebay");
    serve(self->server, self->thread, "fake_ebay");
}

fake_ebay::~fake_ebay() {
    stop();
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

int fake_ebay::port() const {
    return impl_->port;
}

std::string fake_ebay::base_url() const {
    return "http://" + impl_->options.host + ":" + std::to_string(impl_->port);
}

void fake_ebay::add_active(std::string query, fake_listing listing) {
    std::lock_guard lock(impl_->mutex);
    impl_->active[fold(query)].push_back(std::move(listing));
}

void fake_ebay::add_sold(std::string query, fake_listing listing) {
    std::lock_guard lock(impl_->mutex);
    impl_->sold[fold(query)].push_back(std::move(listing));
}

namespace {

fake_listing listing_from_json(const json::value& v) {
    const auto& o = v.as_object();
    auto text = [&o](std::string_view key) -> std::optional<std::string> {
        if (const auto* f = o.if_contains(key); f != nullptr && f->is_string()) {
            return std::string(f->as_string());
        }
        return std::nullopt;
    };
    fake_listing l;
    auto id = text("item_id");
    auto title = text("title");
    auto price = text("price");
    if (!id || !title || !price) {
        throw std::invalid_argument("fake_ebay: a fixture needs item_id, title and price");
    }
    l.item_id = *id;
    l.title = *title;
    l.price = *price;
    l.currency = text("currency").value_or("USD");
    l.shipping = text("shipping");
    l.condition_id = text("condition_id").value_or("3000");
    l.condition = text("condition").value_or("Used");
    l.sold_date = text("sold_date").value_or("");
    l.category_id = text("category_id").value_or("");
    l.category_name = text("category_name").value_or("");
    return l;
}

}  // namespace

void fake_ebay::load_fixtures(std::string_view json_text) {
    json::value root;
    try {
        root = json::parse(json_text);
        for (std::string_view kind : {"active", "sold"}) {
            const auto* group = root.as_object().if_contains(kind);
            if (group == nullptr) {
                continue;
            }
            for (const auto& [query, listings] : group->as_object()) {
                for (const auto& l : listings.as_array()) {
                    auto listing = listing_from_json(l);
                    kind == "active" ? add_active(std::string(query), listing)
                                     : add_sold(std::string(query), listing);
                }
            }
        }
    } catch (const std::invalid_argument&) {
        throw;
    } catch (const std::exception& e) {
        throw std::invalid_argument(std::string("fake_ebay: bad fixtures: ") + e.what());
    }
}

void fake_ebay::inject(ebay_endpoint endpoint, unsigned status) {
    std::lock_guard lock(impl_->mutex);
    impl_->script[endpoint].push_back(status);
}

void fake_ebay::revoke_tokens() {
    std::lock_guard lock(impl_->mutex);
    for (auto& [value, t] : impl_->tokens) {
        t.revoked = true;
    }
}

void fake_ebay::set_latency(latency_distribution latency) {
    std::lock_guard lock(impl_->mutex);
    impl_->latency = latency;
}

void fake_ebay::set_markup(sold_markup markup) {
    std::lock_guard lock(impl_->mutex);
    impl_->markup = markup;
}

void fake_ebay::set_quota(ebay_endpoint endpoint, std::int64_t per_day) {
    std::lock_guard lock(impl_->mutex);
    impl_->quota[endpoint] = per_day;
    impl_->used[endpoint] = 0;
}

std::size_t fake_ebay::requests(ebay_endpoint endpoint) const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<std::size_t>(
        std::count_if(impl_->log.begin(), impl_->log.end(),
                      [&](const fake_ebay_request& r) { return r.endpoint == endpoint; }));
}

std::size_t fake_ebay::ok(ebay_endpoint endpoint) const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<std::size_t>(std::count_if(
        impl_->log.begin(), impl_->log.end(),
        [&](const fake_ebay_request& r) { return r.endpoint == endpoint && r.status == 200; }));
}

std::size_t fake_ebay::tokens_issued(std::string_view scope) const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<std::size_t>(
        std::count_if(impl_->log.begin(), impl_->log.end(), [&](const fake_ebay_request& r) {
            return r.endpoint == ebay_endpoint::token && r.status == 200 &&
                   (scope.empty() || r.scope == scope);
        }));
}

std::vector<fake_ebay_request> fake_ebay::log() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->log;
}

void fake_ebay::wait() {
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

void fake_ebay::stop() {
    impl_->server.stop();
}

}  // namespace boomer::fakes
