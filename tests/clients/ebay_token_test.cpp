// The eBay token provider against the fake token endpoint: one mint cached and shared by many
// concurrent callers, renewal before expires_in, refused credentials and scopes, timeouts, and
// the refresh metric.
#include "clients/ebay_token.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <set>

#include "tests/clients/ebay_support.hpp"
#include "tests/clients/support.hpp"

using namespace boomer;
namespace asio = boost::asio;
using fakes::ebay_endpoint;

namespace {

const std::string public_scope(clients::ebay_public_scope);
const std::string insights_scope(clients::ebay_insights_scope);

asio::awaitable<result<std::string>> ask(clients::ebay_token_provider& tokens,
                                         const std::string& scope) {
    co_return co_await tokens.token(scope);
}

// Asks for a token and keeps the answer in `out` (co_spawn needs a void coroutine here: result
// has no default value).
asio::awaitable<void> ask_into(clients::ebay_token_provider* tokens, const std::string* scope,
                               std::optional<result<std::string>>* out) {
    auto r = co_await tokens->token(*scope);
    out->emplace(std::move(r));
}

}  // namespace

TEST_CASE("ebay token: minted once with Basic auth and the scope, then cached", "[clients]") {
    test::ebay_rig rig;
    auto context = rig.context();
    auto first = test::run_coro(rig.io, ask(context->tokens, public_scope));
    auto second = test::run_coro(rig.io, ask(context->tokens, public_scope));
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(*first == *second);
    CHECK(rig.fake->tokens_issued() == 1);
    auto log = rig.fake->log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].scope == public_scope);
    CHECK(rig.counter("boomer_market_token_refreshes_total", {"public"}) == 1);
}

TEST_CASE("ebay token: 20 concurrent callers on 4 threads share one mint", "[clients]") {
    test::ebay_rig rig;
    rig.fake->set_latency(std::chrono::milliseconds(100));
    asio::thread_pool pool(4);
    auto context = clients::make_ebay_context(rig.options, pool.get_executor(), rig.registry);
    std::vector<std::optional<result<std::string>>> answers(20);
    for (auto& slot : answers) {
        asio::co_spawn(pool, ask_into(&context->tokens, &public_scope, &slot), asio::detached);
    }
    pool.join();
    std::set<std::string> distinct;
    for (const auto& a : answers) {
        REQUIRE(a.has_value());
        REQUIRE(a->has_value());
        distinct.insert(**a);
    }
    CHECK(distinct.size() == 1);
    CHECK(rig.fake->tokens_issued() == 1);
    CHECK(rig.counter("boomer_market_token_refreshes_total", {"public"}) == 1);
}

TEST_CASE("ebay token: renewed once the margin before expires_in is reached", "[clients]") {
    test::ebay_rig rig;
    rig.options.token_margin = std::chrono::seconds(300);
    auto context = rig.context();
    auto first = test::run_coro(rig.io, ask(context->tokens, public_scope));
    rig.time.advance_ms((7200 - 301) * 1000LL);
    auto still = test::run_coro(rig.io, ask(context->tokens, public_scope));
    CHECK(rig.fake->tokens_issued() == 1);
    rig.time.advance_ms(2000);
    auto renewed = test::run_coro(rig.io, ask(context->tokens, public_scope));
    REQUIRE(renewed.has_value());
    CHECK(*renewed != *first);
    CHECK(*still == *first);
    CHECK(rig.fake->tokens_issued() == 2);
}

TEST_CASE("ebay token: scopes are cached apart", "[clients]") {
    test::ebay_rig rig;
    auto context = rig.context();
    auto a = test::run_coro(rig.io, ask(context->tokens, public_scope));
    auto b = test::run_coro(rig.io, ask(context->tokens, insights_scope));
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(*a != *b);
    CHECK(rig.fake->tokens_issued(public_scope) == 1);
    CHECK(rig.fake->tokens_issued(insights_scope) == 1);
    CHECK(rig.counter("boomer_market_token_refreshes_total", {"insights"}) == 1);
}

TEST_CASE("ebay token: wrong credentials are unauthorized and not cached", "[clients]") {
    test::ebay_rig rig;
    rig.options.client_secret = clients::secret("wrong");
    auto context = rig.context();
    auto r = test::run_coro(rig.io, ask(context->tokens, public_scope));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_unauthorized");
    CHECK_FALSE(r.error().retryable);
    CHECK(r.error().message.find("invalid_client") != std::string::npos);
    CHECK(r.error().message.find("wrong") == std::string::npos);
    auto again = test::run_coro(rig.io, ask(context->tokens, public_scope));
    CHECK_FALSE(again.has_value());
    CHECK(rig.fake->requests(ebay_endpoint::token) == 2);
}

TEST_CASE("ebay token: a scope the application lacks is invalid_scope", "[clients]") {
    fakes::fake_ebay_options o;
    o.granted_scopes = {public_scope};
    test::ebay_rig rig(o);
    auto context = rig.context();
    auto r = test::run_coro(rig.io, ask(context->tokens, insights_scope));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_unauthorized");
    CHECK(rig.fake->log().back().oauth_error == "invalid_scope");
}

TEST_CASE("ebay token: a slow token endpoint times out every waiter", "[clients]") {
    test::ebay_rig rig;
    rig.options.token_timeout = std::chrono::milliseconds(100);
    rig.fake->set_latency(std::chrono::milliseconds(400));
    auto context = rig.context();
    std::vector<std::optional<result<std::string>>> got(3);
    for (auto& slot : got) {
        asio::co_spawn(rig.io, ask_into(&context->tokens, &public_scope, &slot), asio::detached);
    }
    rig.io.run();
    for (auto& slot : got) {
        REQUIRE(slot.has_value());
        REQUIRE_FALSE(slot->has_value());
        CHECK(slot->error().code == "source_timeout");
        CHECK(slot->error().retryable);
    }
    CHECK(rig.fake->requests(ebay_endpoint::token) == 1);
}

namespace {

asio::awaitable<void> ask_until(clients::ebay_token_provider* tokens, const std::string* scope,
                                std::chrono::milliseconds budget,
                                std::optional<result<std::string>>* out) {
    auto deadline = std::chrono::steady_clock::now() + budget;
    auto r = co_await tokens->token(*scope, deadline);
    out->emplace(std::move(r));
}

}  // namespace

TEST_CASE("ebay token: the request is cut at the calling source's budget", "[clients]") {
    test::ebay_rig rig;
    rig.options.token_timeout = std::chrono::milliseconds(5000);
    rig.fake->set_latency(std::chrono::milliseconds(600));
    auto context = rig.context();
    std::optional<result<std::string>> got;
    asio::co_spawn(rig.io,
                   ask_until(&context->tokens, &public_scope, std::chrono::milliseconds(100), &got),
                   asio::detached);
    rig.io.run();
    REQUIRE(got.has_value());
    REQUIRE_FALSE(got->has_value());
    CHECK(got->error().code == "source_timeout");
    CHECK(got->error().retryable);
}

TEST_CASE("ebay token: a waiter gives up at its own budget, the sender still gets its token",
          "[clients]") {
    test::ebay_rig rig;
    rig.options.token_timeout = std::chrono::milliseconds(5000);
    rig.fake->set_latency(std::chrono::milliseconds(600));
    auto context = rig.context();
    std::optional<result<std::string>> sender;
    std::optional<result<std::string>> waiter;
    asio::co_spawn(rig.io, ask_into(&context->tokens, &public_scope, &sender), asio::detached);
    asio::co_spawn(
        rig.io, ask_until(&context->tokens, &public_scope, std::chrono::milliseconds(100), &waiter),
        asio::detached);
    rig.io.run();
    REQUIRE(sender.has_value());
    CHECK(sender->has_value());
    REQUIRE(waiter.has_value());
    REQUIRE_FALSE(waiter->has_value());
    CHECK(waiter->error().code == "source_timeout");
    CHECK(rig.fake->requests(ebay_endpoint::token) == 1);
}

TEST_CASE("ebay token: a mint cut by its sender's budget is sent again by a waiter with time",
          "[clients]") {
    test::ebay_rig rig;
    rig.options.token_timeout = std::chrono::milliseconds(5000);
    rig.fake->set_latency(std::chrono::milliseconds(400));
    auto context = rig.context();
    std::optional<result<std::string>> sender;
    std::optional<result<std::string>> waiter;
    asio::co_spawn(
        rig.io, ask_until(&context->tokens, &public_scope, std::chrono::milliseconds(100), &sender),
        asio::detached);
    asio::co_spawn(
        rig.io,
        ask_until(&context->tokens, &public_scope, std::chrono::milliseconds(4000), &waiter),
        asio::detached);
    rig.io.run();
    REQUIRE(sender.has_value());
    REQUIRE_FALSE(sender->has_value());
    CHECK(sender->error().code == "source_timeout");
    REQUIRE(waiter.has_value());
    CHECK(waiter->has_value());
    CHECK(rig.fake->requests(ebay_endpoint::token) == 2);
}
