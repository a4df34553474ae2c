// The comps and price stages inside the scheduler: every market source asked at once, each
// source's outcome kept in the item's comps and price, the outcome metric, and the fall-back to
// the vision model's own estimate when every source fails.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "pipeline/intake.hpp"
#include "pipeline/scheduler.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct quiet_observer final : pipeline::pipeline_observer {
    std::map<std::string, store::job_state> finished;
    std::vector<std::string> errors;
    void stage_finished(std::string_view, double, bool) override {}
    void job_finished(const store::claimed_job& job, store::job_state state, std::string_view,
                      std::string_view) override {
        finished[job.item_id] = state;
    }
    void job_retry(const store::claimed_job&, std::string_view code, std::string_view, std::int64_t,
                   bool) override {
        errors.push_back("retry:" + std::string(code));
    }
    void lease_lost(const store::claimed_job&) override { errors.emplace_back("lease_lost"); }
    void rescued(int) override {}
    void internal_error(std::string_view where, std::string_view what) override {
        errors.push_back(std::string(where) + ": " + std::string(what));
    }
};

// A market source with a canned answer after a delay.
class canned_source final : public market::comp_source {
public:
    canned_source(std::string name, std::chrono::milliseconds delay,
                  result<std::vector<market::comp>> answer)
        : name_(std::move(name)), delay_(delay), answer_(std::move(answer)) {}
    std::string name() const override { return name_; }
    asio::awaitable<result<std::vector<market::comp>>> search(
        const market::market_query& q) override {
        ++calls;
        seen_keywords = q.keywords;
        asio::steady_timer t(co_await asio::this_coro::executor);
        t.expires_after(delay_);
        co_await t.async_wait(asio::use_awaitable);
        co_return answer_;
    }
    std::string seen_keywords;
    int calls = 0;

private:
    std::string name_;
    std::chrono::milliseconds delay_;
    result<std::vector<market::comp>> answer_;
};

// A vision model that names the item and guesses its price.
class guessing_vision final : public pipeline::vision_model {
public:
    asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request) override {
        pipeline::identification id;
        id.title = "Brown Betty Teapot 6 Cup";
        id.brand = "Cauldon";
        id.search_query = "brown betty teapot";
        id.confidence = 0.75;
        id.source = "fake-model";
        id.price_estimate = market::money{4200, "USD"};
        co_return id;
    }
};

market::comp sold_comp(std::int64_t price, const std::string& source) {
    market::comp c;
    c.title = "Brown Betty Teapot";
    c.price_minor = c.item_price_minor = price;
    c.currency = "USD";
    c.sold_on = "2026-11-20";
    c.match = "title";
    c.score = 0.9;
    c.source = source;
    c.condition_id = "3000";
    return c;
}

struct fixture {
    test::temp_dir dir;
    std::unique_ptr<store::store> db = store::open_sqlite_store((dir.path() / "db").string());
    store::blob_store blobs{dir.path() / "blobs"};
    asio::io_context io;
    asio::thread_pool cpu{2};
    asio::thread_pool store_pool{2};
    quiet_observer events;
    metrics::registry reg;

    std::string submit(const std::string& hint) {
        pipeline::intake_request r;
        r.tenant_id = "default";
        r.source = "api";
        r.title_hint = hint;
        r.condition = "used";
        auto bytes = test::read_file(test::data_dir() / "images/orientation-1-landscape.jpg");
        r.files.push_back({"p.jpg", bytes});
        auto receipt = pipeline::submit(r, {}, *db, blobs, system_clock::instance());
        REQUIRE(receipt);
        return receipt->item_id;
    }

    // run works the queue with a scheduler of its own (a service instance) on `on` (another
    // connection to the same database; null: `db`) until a job finishes.
    void run(std::vector<std::shared_ptr<market::comp_source>> sources,
             pipeline::vision_model* vision = nullptr, store::store* on = nullptr) {
        events.finished.clear();
        pipeline::scheduler_deps deps;
        deps.db = on != nullptr ? on : db.get();
        deps.cpu_pool = &cpu;
        deps.store_pool = &store_pool;
        deps.time = &system_clock::instance();
        deps.env.blobs = &blobs;
        deps.env.today = "2026-12-04";
        deps.observer = &events;
        deps.vision = vision;
        deps.comp_sources = std::move(sources);
        deps.comps.source_timeout = 300ms;
        deps.metrics = &reg;
        pipeline::scheduler_options options;
        options.worker_id = "test:1:boot";
        options.poll_ms = 20;
        auto s = std::make_shared<pipeline::scheduler>(io.get_executor(), deps, options);
        s->start();
        asio::steady_timer check(io);
        auto deadline = std::chrono::steady_clock::now() + 60s;
        std::function<void()> poll = [&] {
            if (!events.finished.empty() || std::chrono::steady_clock::now() > deadline) {
                s->shutdown(5s, [&] { io.stop(); });
                return;
            }
            check.expires_after(20ms);
            check.async_wait([&](auto) { poll(); });
        };
        poll();
        io.run();
        io.restart();
    }

    json::object result_of(const std::string& item_id) {
        auto item = db->find_item("default", item_id);
        REQUIRE(item);
        return json::parse(item->result_json).as_object();
    }
};

const json::object& source_entry(const json::object& doc, const std::string& name) {
    for (const auto& s : doc.at("comps").at("sources").as_array()) {
        if (s.at("source").as_string() == name) {
            return s.as_object();
        }
    }
    FAIL("no source " << name);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("comps stage: every source's outcome is in the item, sold comps set the price",
          "[pipeline]") {
    fixture f;
    auto id = f.submit("Brown Betty teapot");
    auto sold = std::make_shared<canned_source>(
        "ebay_insights", 5ms,
        std::vector{sold_comp(3000, "ebay_insights"), sold_comp(3600, "ebay_insights"),
                    sold_comp(3300, "ebay_insights")});
    auto limited = std::make_shared<canned_source>(
        "ebay_browse", 1ms, fail("source_limited", "eBay's daily call limit is used up", true));
    auto hanging =
        std::make_shared<canned_source>("ebay_sold_page", 1h, std::vector<market::comp>{});
    f.run({sold, limited, hanging});

    CHECK(f.events.errors.empty());
    CHECK(f.events.finished[id] == store::job_state::succeeded);
    auto doc = f.result_of(id);
    CHECK(sold->seen_keywords == "Brown Betty teapot");
    CHECK(source_entry(doc, "ebay_insights").at("outcome") == "ok");
    CHECK(source_entry(doc, "ebay_insights").at("count") == 3);
    CHECK(source_entry(doc, "ebay_browse").at("outcome") == "source_limited");
    CHECK(source_entry(doc, "ebay_sold_page").at("outcome") == "source_timeout");
    CHECK(doc.at("comps").at("comps").as_array().size() == 3);

    const auto& price = doc.at("price").as_object();
    CHECK(price.at("basis") == "sold_comps");
    CHECK(price.at("median_minor") == 3300);
    CHECK(price.at("sources").as_array().size() == 3);
    CHECK(price.at("sell_through").is_null());  // no active listings came back
    CHECK(doc.at("listing").at("price_minor") == 3300);

    auto text = f.reg.render();
    CHECK(text.find("boomer_comps_source_outcomes_total"
                    R"({source="ebay_browse",outcome="source_limited"} 1)") != std::string::npos);
    CHECK(text.find("boomer_comps_source_outcomes_total"
                    R"({source="ebay_sold_page",outcome="source_timeout"} 1)") !=
          std::string::npos);
}

TEST_CASE("comps stage: with every source down the vision estimate prices the item", "[pipeline]") {
    fixture f;
    auto id = f.submit("");
    auto down = std::make_shared<canned_source>(
        "ebay_browse", 1ms, fail("source_unauthorized", "eBay refused the credentials"));
    auto empty = std::make_shared<canned_source>("own_sales", 1ms, std::vector<market::comp>{});
    guessing_vision vision;
    f.run({down, empty}, &vision);

    CHECK(f.events.errors.empty());
    CHECK(f.events.finished[id] == store::job_state::succeeded);
    auto doc = f.result_of(id);
    CHECK(doc.at("identification").at("price_estimate").at("minor") == 4200);
    CHECK(source_entry(doc, "ebay_browse").at("outcome") == "source_unauthorized");
    CHECK(source_entry(doc, "own_sales").at("count") == 0);
    const auto& price = doc.at("price").as_object();
    CHECK(price.at("basis") == "vision_estimate");
    CHECK(price.at("median_minor") == 4200);
    CHECK(price.at("confidence").to_number<double>() == Approx(0.2 * 0.75));
    CHECK(price.at("count") == 0);
    CHECK(doc.at("listing").at("price_minor") == 4200);
}

TEST_CASE("comps stage: no sources and no estimate leaves the item for review", "[pipeline]") {
    fixture f;
    auto id = f.submit("Brown Betty teapot");
    f.run({});
    CHECK(f.events.finished[id] == store::job_state::needs_review);
    auto doc = f.result_of(id);
    CHECK(doc.at("comps").at("sources").as_array().empty());
    CHECK(doc.at("price").is_null());
}

TEST_CASE("comps stage: a second service on the same database takes the comps from its cache",
          "[pipeline]") {
    fixture f;
    auto sold = std::make_shared<canned_source>(
        "ebay_insights", 5ms,
        std::vector{sold_comp(3000, "ebay_insights"), sold_comp(3600, "ebay_insights")});
    auto first = f.submit("Brown Betty teapot");
    f.run({sold});
    CHECK(f.events.finished[first] == store::job_state::succeeded);
    CHECK(sold->calls == 1);
    CHECK(source_entry(f.result_of(first), "ebay_insights").at("cache") == "");

    // Another instance: its own connection, its own (cold) memory cache.
    auto other = store::open_sqlite_store((f.dir.path() / "db").string());
    auto second = f.submit("brown betty  TEAPOT");  // the same normalized query
    f.run({sold}, nullptr, other.get());
    CHECK(f.events.errors.empty());
    CHECK(f.events.finished[second] == store::job_state::succeeded);
    CHECK(sold->calls == 1);
    auto doc = f.result_of(second);
    CHECK(source_entry(doc, "ebay_insights").at("cache") == "store");
    CHECK(source_entry(doc, "ebay_insights").at("count") == 2);
    CHECK(doc.at("price").at("basis") == "sold_comps");
    CHECK(
        f.reg.render().find(R"(boomer_cache_lookups_total{cache="comps_store",outcome="hit"} 1)") !=
        std::string::npos);
}
