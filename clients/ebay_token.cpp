// Minting, caching and sharing eBay application tokens.
#include "clients/ebay_token.hpp"

#include <simdjson.h>

#include <algorithm>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "core/base64.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
namespace dom = simdjson::dom;
using token_result = result<std::string>;
using steady = std::chrono::steady_clock;

// The code a waiter gets when the mint it waited for was cut short by its sender's own budget
// (or the sender was cancelled): the waiter, with its own budget, sends another. Never returned
// from token().
constexpr std::string_view cut_short = "token_mint_cut_short";

// A caller waiting for another's mint, where to resume it, and its deadline's timer (none for
// a caller without a deadline). The timer is started and cancelled only under the provider's
// mutex, so that threads of a pool never touch it at once.
struct waiter {
    std::uint64_t id = 0;
    asio::any_io_executor executor;
    asio::any_completion_handler<void(token_result)> handler;
    std::shared_ptr<asio::steady_timer> timer;
};

void resume(waiter w, const token_result& outcome) {
    auto executor = w.executor;
    asio::post(executor, [h = std::move(w.handler), outcome]() mutable { std::move(h)(outcome); });
}

token_result out_of_budget() {
    return fail("source_timeout", "No eBay token could be had within the source's time budget.",
                true);
}

// The cache and the mint in flight of one scope.
struct scope_state {
    std::string token;
    std::int64_t renew_at_ms = 0;
    bool minting = false;
    std::optional<token_result> last;  // the outcome of the last finished mint
    std::list<waiter> waiters;         // a list: erasing never move-assigns a handler
};

// A minted token and when to renew it.
struct minted {
    std::string token;
    std::int64_t lifetime_ms = 0;
};

failure token_error(unsigned status, std::string_view body) {
    dom::parser parser;
    dom::element root;
    std::string_view code;
    std::string_view description;
    if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
        if (root["error"].get(code) != simdjson::SUCCESS) {
            code = {};
        }
        if (root["error_description"].get(description) != simdjson::SUCCESS) {
            description = {};
        }
    }
    std::string detail = code.empty() ? "HTTP " + std::to_string(status)
                                      : std::string(code) + ": " + std::string(description);
    if (code == "invalid_client") {
        return {"source_unauthorized",
                "eBay refused the application's credentials (" + detail +
                    "); check EBAY_CLIENT_ID and EBAY_CLIENT_SECRET.",
                false};
    }
    if (code == "invalid_scope") {
        return {"source_unauthorized",
                "eBay did not grant this application the scope it asked for (" + detail + ").",
                false};
    }
    if (status == 429) {
        return {"source_limited", "eBay's token endpoint is rate limited (" + detail + ").", true};
    }
    return {"source_error", "eBay's token endpoint failed (" + detail + ").", status >= 500};
}

result<minted> read_token(std::string_view body) {
    dom::parser parser;
    dom::element root;
    std::string_view token;
    std::int64_t expires_in = 0;
    if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
        root["access_token"].get(token) != simdjson::SUCCESS || token.empty() ||
        root["expires_in"].get(expires_in) != simdjson::SUCCESS || expires_in <= 0) {
        return fail("source_error",
                    "eBay's token endpoint answered 200 without an access token and expires_in.",
                    true);
    }
    return minted{std::string(token), expires_in * 1000};
}

}  // namespace

struct ebay_token_provider::impl : std::enable_shared_from_this<impl> {
    ebay_options options;
    https_client& http;
    metrics::family<metrics::counter>& refreshes;
    const clock& time;
    std::string url;
    std::string basic;

    std::mutex mutex;
    std::map<std::string, scope_state, std::less<>> scopes;  // guarded by mutex
    std::uint64_t next_waiter = 0;                           // guarded by mutex

    impl(const ebay_options& o, https_client& h, metrics::registry& registry)
        : options(o),
          http(h),
          refreshes(market_source_metrics(registry).token_refreshes),
          time(o.time != nullptr ? *o.time : system_clock::instance()) {
        url = options.base_url;
        while (!url.empty() && url.back() == '/') {
            url.pop_back();
        }
        url += "/identity/v1/oauth2/token";
        basic = "Basic " + base64_encode(options.client_id + ":" + options.client_secret.reveal());
    }

    asio::awaitable<token_result> mint(const std::string& scope, steady::time_point deadline);
    void finish(const std::string& scope, const token_result& outcome, std::int64_t lifetime_ms);
    asio::awaitable<token_result> wait_for(const std::string& scope, steady::time_point deadline);
    void expire(const std::string& scope, std::uint64_t id);
};

// Sends the token request, cut at the earlier of token_timeout and the sender's `deadline`.
asio::awaitable<token_result> ebay_token_provider::impl::mint(const std::string& scope,
                                                              steady::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    bool budget_bound = left < options.token_timeout;
    if (left.count() <= 0) {
        finish(scope, fail(std::string(cut_short), "", true), 0);
        co_return out_of_budget();
    }
    refreshes.with({scope_label(scope)}).inc();
    http_call call;
    call.method = "POST";
    call.url = url;
    call.timeout = budget_bound ? left : std::chrono::milliseconds(options.token_timeout);
    call.headers = {{"Authorization", basic},
                    {"Content-Type", "application/x-www-form-urlencoded"},
                    {"Accept", "application/json"}};
    call.body = "grant_type=client_credentials&scope=" + url_encode(scope);
    std::optional<result<http_response>> sent;
    try {
        sent.emplace(co_await http.send(call));
    } catch (...) {
        // Cancelled: the waiters send their own request, each within its own budget.
        finish(scope, fail(std::string(cut_short), "", true), 0);
        throw;
    }
    const auto& res = *sent;

    std::int64_t lifetime_ms = 0;
    token_result outcome = fail("source_error", "", true);
    if (!res && res.error().code == "timeout" && budget_bound) {
        // Our budget ran out, not the endpoint's allowance: others may still have time.
        finish(scope, fail(std::string(cut_short), "", true), 0);
        co_return out_of_budget();
    }
    if (!res) {
        bool late = res.error().code == "timeout";
        outcome = fail(late ? "source_timeout" : "source_error",
                       "eBay's token endpoint could not be used: " + res.error().message, true);
    } else if (res->status != 200) {
        outcome = make_unexpected(token_error(res->status, res->body));
    } else if (auto m = read_token(res->body); !m) {
        outcome = make_unexpected(m.error());
    } else {
        outcome = m->token;
        lifetime_ms = m->lifetime_ms;
    }
    finish(scope, outcome, lifetime_ms);
    co_return outcome;
}

void ebay_token_provider::impl::finish(const std::string& scope, const token_result& outcome,
                                       std::int64_t lifetime_ms) {
    std::list<waiter> woken;
    {
        std::lock_guard lock(mutex);
        auto& s = scopes[scope];
        s.minting = false;
        s.last = outcome;
        if (outcome) {
            // Renew `token_margin` early; a lifetime shorter than twice the margin uses half.
            std::int64_t margin = std::chrono::milliseconds(options.token_margin).count();
            std::int64_t usable = lifetime_ms > 2 * margin ? lifetime_ms - margin : lifetime_ms / 2;
            s.token = *outcome;
            s.renew_at_ms = time.now_ms() + usable;
        }
        woken.swap(s.waiters);
        for (auto& w : woken) {
            if (w.timer) {
                w.timer->cancel();
            }
        }
    }
    for (auto& w : woken) {
        resume(std::move(w), outcome);
    }
}

// Waits for the mint in flight, or until `deadline`, whichever comes first.
asio::awaitable<token_result> ebay_token_provider::impl::wait_for(const std::string& scope,
                                                                  steady::time_point deadline) {
    auto self = shared_from_this();
    auto initiate = [self, &scope, deadline](auto handler) {
        auto executor = asio::get_associated_executor(handler);
        std::unique_lock lock(self->mutex);
        auto& s = self->scopes[scope];
        if (!s.minting) {
            // The mint finished between our look and now: hand over its outcome.
            token_result outcome = s.last ? *s.last : token_result(s.token);
            lock.unlock();
            resume(waiter{0, executor, std::move(handler), nullptr}, outcome);
            return;
        }
        auto id = ++self->next_waiter;
        std::shared_ptr<asio::steady_timer> timer;
        if (deadline != steady::time_point::max()) {
            timer = std::make_shared<asio::steady_timer>(executor, deadline);
            // The handler keeps the timer alive until it runs (fired or cancelled).
            timer->async_wait([self, timer, scope, id](boost::system::error_code ec) {
                if (!ec) {
                    self->expire(scope, id);
                }
            });
        }
        s.waiters.push_back(waiter{id, executor, std::move(handler), std::move(timer)});
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(token_result)>(
        initiate, asio::use_awaitable);
}

// Ends the wait of waiter `id` with a timeout, unless the mint already woke it.
void ebay_token_provider::impl::expire(const std::string& scope, std::uint64_t id) {
    std::optional<waiter> late;
    {
        std::lock_guard lock(mutex);
        auto& list = scopes[scope].waiters;
        auto found = std::find_if(list.begin(), list.end(), [id](auto& w) { return w.id == id; });
        if (found == list.end()) {
            return;
        }
        late.emplace(std::move(*found));
        list.erase(found);
    }
    resume(std::move(*late), out_of_budget());
}

ebay_token_provider::ebay_token_provider(const ebay_options& options, https_client& http,
                                         metrics::registry& registry)
    : impl_(std::make_shared<impl>(options, http, registry)) {}

ebay_token_provider::~ebay_token_provider() = default;

asio::awaitable<result<std::string>> ebay_token_provider::token(const std::string& scope,
                                                                steady::time_point deadline) {
    auto self = impl_;
    while (true) {
        if (steady::now() >= deadline) {
            co_return out_of_budget();
        }
        bool mine = false;
        {
            std::lock_guard lock(self->mutex);
            auto& s = self->scopes[scope];
            if (!s.token.empty() && self->time.now_ms() < s.renew_at_ms) {
                co_return s.token;
            }
            if (!s.minting) {
                s.minting = true;
                mine = true;
            }
        }
        if (mine) {
            co_return co_await self->mint(scope, deadline);
        }
        auto outcome = co_await self->wait_for(scope, deadline);
        if (outcome || outcome.error().code != cut_short) {
            co_return outcome;
        }
        // The sender ran out of its own budget; with time left, send one ourselves.
    }
}

void ebay_token_provider::invalidate(const std::string& scope, const std::string& stale) {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->scopes.find(scope);
    if (it != impl_->scopes.end() && it->second.token == stale) {
        it->second.token.clear();
        it->second.renew_at_ms = 0;
    }
}

}  // namespace boomer::clients
