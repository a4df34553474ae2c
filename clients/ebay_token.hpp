// eBay application access tokens (OAuth client-credentials grant): one cached token per scope,
// minted with Basic auth and a form body, kept until shortly before its expires_in runs out,
// and renewed by one request however many searches need it at the same moment (the others wait
// for that request's answer). A search that gets 401 with a token hands it back through
// invalidate(), so the next token() mints a fresh one; other searches holding the same stale
// token share that one refresh.
//
// Thread-safety: one ebay_token_provider may be used by coroutines on any threads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "clients/ebay_common.hpp"
#include "clients/https_client.hpp"

namespace boomer::clients {

class ebay_token_provider {
public:
    // Tokens are minted at `options.base_url` + /identity/v1/oauth2/token through `http`, which
    // must outlive this object, as must `registry` (boomer_market_token_refreshes_total).
    ebay_token_provider(const ebay_options& options, https_client& http,
                        metrics::registry& registry);
    ~ebay_token_provider();
    ebay_token_provider(const ebay_token_provider&) = delete;
    ebay_token_provider& operator=(const ebay_token_provider&) = delete;

    // token returns a valid access token for `scope`, minting one when none is cached or the
    // cached one is within the margin of its expiry. While a mint is in flight, further callers
    // wait for its answer instead of sending their own. Nothing waits beyond `deadline` (the
    // calling source's budget): the mint is cut at the earlier of it and token_timeout, and a
    // waiter gives up at its own. Errors (a failed mint is not cached; the next call tries
    // again):
    //   source_unauthorized  wrong client id or secret (invalid_client), or a scope the
    //                        application was not granted (invalid_scope) — not retryable;
    //   source_timeout       the token endpoint did not answer within token_timeout, or not
    //                        before `deadline`;
    //   source_limited       the token endpoint answered 429 (retryable);
    //   source_error         anything else: unreachable, 5xx, an unreadable answer.
    // `scope` must outlive the call. Cancelling a caller that waits for another's mint does
    // not end the mint; the waiter resumes when the mint answers or its deadline passes.
    // Cancelling the caller that sends the mint ends it; its waiters then send their own.
    boost::asio::awaitable<result<std::string>> token(
        const std::string& scope, std::chrono::steady_clock::time_point deadline =
                                      std::chrono::steady_clock::time_point::max());

    // invalidate drops the cached token of `scope` if it is still `stale` (a 401 answered it);
    // a newer token is kept. Never blocks on the network.
    void invalidate(const std::string& scope, const std::string& stale);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace boomer::clients
