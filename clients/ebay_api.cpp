// The authenticated GET of the eBay API sources, the limiter and the search metrics.
#include "clients/ebay_api.hpp"

#include <algorithm>
#include <charconv>

#include "pipeline/market/fan_out.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

std::optional<milliseconds> retry_after_of(const http_response& res) {
    auto value = res.header("retry-after");
    if (!value) {
        return std::nullopt;
    }
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
    if (ec != std::errc{} || end != value->data() + value->size() || seconds < 0) {
        return std::nullopt;
    }
    return milliseconds(seconds * 1000);
}

failure transport_failure(const failure& f) {
    if (f.code == "timeout") {
        return {"source_timeout", "eBay did not answer in time. " + f.message, true};
    }
    return {"source_error", "eBay could not be reached. " + f.message, true};
}

// The failure for a non-200 answer other than a first 401.
failure answer_failure(const http_response& res, const std::string& scope) {
    auto errors = parse_ebay_errors(res.body);
    auto detail = describe_ebay_errors(res.status, errors);
    if (res.status == 401) {
        return {"source_unauthorized", "eBay refused a freshly minted token. " + detail, false};
    }
    if (res.status == 403) {
        return {"source_unauthorized",
                "eBay denied access (scope " + scope_label(scope) +
                    "); the application may lack approval for this API. " + detail,
                false};
    }
    if (res.status == 429) {
        return {"source_limited", "eBay's call limit for this API is reached. " + detail, true};
    }
    if (res.status >= 500) {
        return {"source_error", "eBay failed to answer the search. " + detail, true};
    }
    return {"source_error", "eBay rejected the search request. " + detail, false};
}

http_call make_get(const ebay_context& context, const std::string& url, const std::string& token,
                   milliseconds timeout) {
    http_call call;
    call.method = "GET";
    call.url = url;
    call.timeout = timeout;
    call.headers = {{"Authorization", "Bearer " + token},
                    {"X-EBAY-C-MARKETPLACE-ID", context.options.marketplace_id},
                    {"Accept", "application/json"}};
    return call;
}

std::optional<milliseconds> remaining(steady_deadline deadline) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
        return std::nullopt;
    }
    return left;
}

unexpected<failure> out_of_time() {
    return fail("source_timeout", "eBay did not answer within the source's time budget.", true);
}

}  // namespace

ebay_context::ebay_context(ebay_options o, asio::any_io_executor executor,
                           metrics::registry& registry)
    : options(std::move(o)),
      http(std::move(executor), options.http),
      tokens(options, http, registry),
      metrics(registry),
      time(options.time != nullptr ? *options.time : system_clock::instance()) {}

std::string ebay_context::api_url(std::string_view path_and_query) const {
    std::string url = options.base_url;
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url + std::string(path_and_query);
}

std::shared_ptr<ebay_context> make_ebay_context(ebay_options options,
                                                asio::any_io_executor executor,
                                                metrics::registry& registry) {
    return std::make_shared<ebay_context>(std::move(options), std::move(executor), registry);
}

std::string category_memo::key(const market::market_query& query) {
    market::market_query bare;
    bare.keywords = query.keywords;
    bare.title = query.title;
    bare.barcodes = query.barcodes;
    return market::normalized_query_key(bare);
}

std::optional<std::string> category_memo::get(const std::string& key, std::int64_t now_ms) const {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(key);
    if (found == entries_.end() || found->second.expires_at_ms <= now_ms) {
        return std::nullopt;
    }
    return found->second.category_id;
}

void category_memo::put(const std::string& key, std::string category_id, std::int64_t now_ms,
                        std::int64_t expires_at_ms) {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_) {
        std::erase_if(entries_,
                      [now_ms](const auto& e) { return e.second.expires_at_ms <= now_ms; });
        if (entries_.size() >= max_entries_) {
            entries_.clear();
        }
    }
    entries_[key] = entry{std::move(category_id), expires_at_ms};
}

std::optional<std::int64_t> source_limiter::limited_until(std::int64_t now_ms) const {
    std::lock_guard lock(mutex_);
    if (now_ms < until_ms_) {
        return until_ms_;
    }
    return std::nullopt;
}

void source_limiter::hit(std::int64_t now_ms, std::optional<milliseconds> retry_after,
                         const ebay_options& options) {
    std::lock_guard lock(mutex_);
    ++strikes_;
    milliseconds wait = retry_after.value_or(milliseconds(0));
    if (!retry_after) {
        milliseconds step = std::chrono::duration_cast<milliseconds>(options.limited_backoff) *
                            (1LL << std::min(strikes_ - 1, 20));
        milliseconds cap = std::chrono::duration_cast<milliseconds>(options.limited_backoff_cap);
        wait = std::min(step, cap);
    }
    until_ms_ = std::max(until_ms_, now_ms + wait.count());
}

void source_limiter::clear() {
    std::lock_guard lock(mutex_);
    strikes_ = 0;
}

asio::awaitable<result<http_response>> ebay_get(ebay_context& context, const std::string& scope,
                                                const std::string& url, steady_deadline deadline,
                                                source_limiter& limiter) {
    for (int attempt = 1;; ++attempt) {
        auto token = co_await context.tokens.token(scope, deadline);
        if (!token) {
            co_return make_unexpected(token.error());
        }
        auto left = remaining(deadline);
        if (!left) {
            co_return out_of_time();
        }
        auto call = make_get(context, url, *token, *left);
        auto res = co_await context.http.send(call);
        if (!res) {
            co_return make_unexpected(transport_failure(res.error()));
        }
        if (res->status == 200) {
            limiter.clear();
            co_return std::move(*res);
        }
        if (res->status == 401 && attempt == 1) {
            // The token expired or was revoked early: mint a new one and try once more.
            context.tokens.invalidate(scope, *token);
            continue;
        }
        if (res->status == 429) {
            limiter.hit(context.time.now_ms(), retry_after_of(*res), context.options);
        }
        co_return make_unexpected(answer_failure(*res, scope));
    }
}

asio::awaitable<result<std::vector<market::comp>>> paged_search(ebay_context& context,
                                                                const paged_plan& plan,
                                                                source_limiter& limiter) {
    std::vector<market::comp> comps;
    int limit = std::clamp(std::min(plan.page_limit, plan.wanted), 1, 200);
    for (int page = 0; page < plan.max_pages; ++page) {
        int offset = page * limit;
        if (offset >= 10'000) {
            break;
        }
        auto url = context.api_url(plan.target(limit, offset));
        auto res = co_await ebay_get(context, plan.scope, url, plan.deadline, limiter);
        auto parsed = res ? plan.parse(res->body) : result<ebay_page>(make_unexpected(res.error()));
        if (!parsed) {
            if (comps.empty()) {
                co_return make_unexpected(parsed.error());
            }
            break;
        }
        if (plan.on_page) {
            plan.on_page(*parsed);
        }
        for (auto& c : parsed->comps) {
            comps.push_back(std::move(c));
        }
        if (!parsed->has_next || static_cast<int>(comps.size()) >= plan.wanted) {
            break;
        }
    }
    if (static_cast<int>(comps.size()) > plan.wanted) {
        comps.resize(static_cast<std::size_t>(std::max(plan.wanted, 0)));
    }
    co_return comps;
}

search_record::search_record(market_source_metrics& metrics, std::string source)
    : metrics_(metrics), source_(std::move(source)), start_(std::chrono::steady_clock::now()) {}

void search_record::finish(const result<std::vector<market::comp>>& outcome) {
    std::string label = outcome ? "ok" : outcome.error().code;
    metrics_.requests.with({source_, label}).inc();
    metrics_.seconds.with({source_}).observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

std::string today_iso(std::int64_t epoch_ms) {
    return iso8601_utc(epoch_ms).substr(0, 10);
}

}  // namespace boomer::clients
