// Bulk identification through the Message Batches API, against the fake: calls of one window
// share one batch and get their own lines back whatever the order, at exactly half price;
// errored, canceled and expired lines fail the way a synchronous call would and are submitted
// afresh next time; polls wait at least the retry-after; a recorded batch is resumed after a
// crash, never submitted again, and so is a batch made but not yet recorded (found through the
// list endpoint); identical calls share one request; urgent calls stay sync; a bulk call holds
// its photos only until its batch is made, and an escalation loads them again.
#include "clients/claude_batcher.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <sstream>

#include "clients/anthropic_messages.hpp"
#include "clients/claude_answers.hpp"
#include "clients/claude_vision.hpp"
#include "core/clock.hpp"
#include "core/hash.hpp"
#include "pipeline/image/normalize.hpp"
#include "tests/clients/claude_support.hpp"
#include "tests/clients/support.hpp"
#include "tests/clients/thread_heap.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/paths.hpp"

using namespace boomer;
namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

const char* const photo_names[] = {"grayscale-jpeg-concert.jpg", "orientation-1-landscape.jpg",
                                   "orientation-6-landscape.jpg"};

const std::string& photo(int i) {
    static std::map<int, std::string> cache;
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    auto found = cache.find(i);
    if (found == cache.end()) {
        image::normalize_limits limits;
        limits.max_long_edge = 300;
        auto bytes = test::read_file(test::data_dir() / "images" / photo_names[i]);
        found = cache.emplace(i, image::normalize(bytes, limits).value().jpeg).first;
    }
    return found->second;
}

struct recorded_sleeps {
    std::mutex mutex;
    std::vector<milliseconds> waits;
};

asio::awaitable<void> record_sleep(std::shared_ptr<recorded_sleeps> log, milliseconds d) {
    {
        std::lock_guard lock(log->mutex);
        log->waits.push_back(d);
    }
    co_return;
}

pipeline::identify_request bulk_request(const std::string& item_id, int photo_index,
                                        bool bulk = true) {
    pipeline::identify_request r;
    r.item_id = item_id;
    r.jpeg_images = {photo(photo_index)};
    r.title_hint = "photo print";
    r.bulk = bulk;
    return r;
}

// The custom_id the client uses for `r` sent to `model`.
std::string custom_id_for(const pipeline::identify_request& r, const std::string& model) {
    clients::identify_call_params p;
    p.model = model;
    p.max_tokens = 2048;
    return clients::claude_batcher::custom_id_of(
        clients::answer_key(clients::build_identify_body(r, p)));
}

// The batch price of a billed line at `input_usd` / `output_usd` per MTok: pico-dollars at the
// full price, halved and rounded half up to micro-dollars once.
std::int64_t half_cost(const fakes::fake_usage& u, std::int64_t input_usd,
                       std::int64_t output_usd) {
    std::int64_t pico =
        u.input_tokens * input_usd * 1'000'000 + u.cache_write_5m * input_usd * 1'250'000 +
        u.cache_write_1h * input_usd * 2'000'000 + u.cache_read * input_usd * 100'000 +
        u.output_tokens * output_usd * 1'000'000;
    return (pico + 1'000'000) / 2'000'000;
}

using outcome = result<pipeline::identification>;

struct countdown {
    int calls = 0;
    asio::io_context* io = nullptr;
};

// identify_into stores the outcome, and stops the io_context when it was the last one awaited
// (idle pooled connections would keep it running).
asio::awaitable<void> identify_into(clients::claude_vision& vision, pipeline::identify_request r,
                                    std::optional<outcome>* out, countdown* left) {
    out->emplace(co_await vision.identify(std::move(r)));
    if (left != nullptr && --left->calls == 0) {
        left->io->stop();
    }
}

struct harness {
    fakes::fake_anthropic fake;
    metrics::registry registry;
    asio::io_context io;
    std::shared_ptr<recorded_sleeps> sleeps = std::make_shared<recorded_sleeps>();
    std::shared_ptr<test::memory_answers> answers = std::make_shared<test::memory_answers>();
    clients::claude_options options;

    // `time`: the fake's clock (rate limits, processing time); the system clock when null.
    explicit harness(fakes::fake_batch_options batches = {}, const boomer::clock* time = nullptr)
        : fake([&batches, time] {
              fakes::fake_anthropic_options o;
              o.batches = batches;
              o.time = time;
              return o;
          }()) {
        options.api_key = clients::secret("test-key");
        options.base_url = fake.base_url();
        options.attempt_timeout = std::chrono::seconds(10);
        options.jitter = [] { return 0.0; };
        auto log = sleeps;
        options.sleep = [log](milliseconds d) { return record_sleep(log, d); };
        options.answers = answers;
        options.batch.enabled = true;
        // Confident cheap answers by default: no escalation unless a test asks for it.
        for (int i = 0; i < 3; ++i) {
            fake.add_fixture(sha256_hex(photo(i)), "claude-haiku-4-5",
                             test::identification_record("Item " + std::to_string(i), 0.9));
        }
    }

    // identify_all runs every request concurrently on one thread and returns their outcomes.
    std::vector<outcome> identify_all(const std::vector<pipeline::identify_request>& requests) {
        clients::claude_vision vision(options, io.get_executor(), registry);
        std::vector<std::optional<outcome>> slots(requests.size());
        countdown left{static_cast<int>(requests.size()), &io};
        for (std::size_t i = 0; i < requests.size(); ++i) {
            asio::co_spawn(io, identify_into(vision, requests[i], &slots[i], &left),
                           asio::detached);
        }
        io.restart();
        io.run();
        std::vector<outcome> out;
        for (auto& s : slots) {
            REQUIRE(s);
            out.push_back(std::move(*s));
        }
        return out;
    }
    outcome identify(const pipeline::identify_request& r) { return identify_all({r}).at(0); }

    std::vector<milliseconds> waits() {
        std::lock_guard lock(sleeps->mutex);
        return sleeps->waits;
    }
};

}  // namespace

TEST_CASE(
    "claude batcher: one window makes one batch and each item gets its own answer at half price",
    "[clients]") {
    harness h;
    auto out = h.identify_all(
        {bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 2)});

    CHECK(h.fake.batches_created() == 1);
    CHECK(h.fake.received() == 0);  // nothing went to /v1/messages
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 3);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(out[i]);
        CHECK(out[i]->title == "Item " + std::to_string(i));
        REQUIRE(out[i]->calls.size() == 1);
        const auto& call = out[i]->calls[0];
        CHECK(call.outcome == "ok");
        CHECK(call.usage.service_tier == "batch");
        CHECK(call.request_id.rfind("msgbatch_", 0) == 0);
        auto id = custom_id_for(bulk_request("", i), "claude-haiku-4-5");
        auto line = std::find_if(billed.begin(), billed.end(),
                                 [&id](const auto& b) { return b.custom_id == id; });
        REQUIRE(line != billed.end());
        std::int64_t expected = half_cost(line->usage, 1, 5);  // Haiku 4.5: $1 / $5 per MTok
        CHECK(expected > 0);
        CHECK(call.cost_micros == expected);
        CHECK(out[i]->cost_micros == expected);
    }
    // The answers are kept: asking again pays nothing and submits nothing.
    auto again = h.identify(bulk_request("itm_0", 0));
    REQUIRE(again);
    CHECK(again->cost_micros == out[0]->cost_micros);  // the same item counts what it paid
    CHECK(h.fake.batches_created() == 1);
}

TEST_CASE(
    "claude batcher: errored, canceled and expired lines fail like sync calls and are "
    "submitted afresh next time",
    "[clients]") {
    harness h;
    auto overloaded = bulk_request("itm_a", 0);
    auto refused = bulk_request("itm_b", 1);
    auto canceled = bulk_request("itm_c", 2);
    h.fake.inject_batch_line({custom_id_for(overloaded, "claude-haiku-4-5"), "errored",
                              "overloaded_error", "Overloaded"});
    h.fake.inject_batch_line({custom_id_for(refused, "claude-haiku-4-5"), "errored",
                              "invalid_request_error", "messages.0: something is wrong"});
    h.fake.inject_batch_line({custom_id_for(canceled, "claude-haiku-4-5"), "canceled", "", ""});
    auto out = h.identify_all({overloaded, refused, canceled});
    REQUIRE_FALSE(out[0]);
    CHECK(out[0].error().code == "vision_overloaded");
    CHECK(out[0].error().retryable);
    REQUIRE_FALSE(out[1]);
    CHECK(out[1].error().code == "vision_bad_request");
    CHECK_FALSE(out[1].error().retryable);
    CHECK(out[1].error().message.find("something is wrong") != std::string::npos);
    REQUIRE_FALSE(out[2]);
    CHECK(out[2].error().code == "vision_batch_canceled");
    CHECK(out[2].error().retryable);
    CHECK(h.fake.batch_billed().empty());

    h.fake.inject_batch_line({custom_id_for(overloaded, "claude-haiku-4-5"), "expired", "", ""});
    auto expired = h.identify(overloaded);
    REQUIRE_FALSE(expired);
    CHECK(expired.error().code == "vision_batch_expired");
    CHECK(expired.error().retryable);
    CHECK(h.fake.batches_created() == 2);  // the failed line's record was cleared

    auto retried = h.identify(overloaded);
    REQUIRE(retried);
    CHECK(h.fake.batches_created() == 3);
    CHECK(h.fake.batch_billed().size() == 1);
}

// advance_and_record is a sleep that moves the fake's clock on by the wait instead of waiting.
asio::awaitable<void> advance_and_record(manual_clock* time, std::shared_ptr<recorded_sleeps> log,
                                         milliseconds d) {
    time->advance_ms(d.count());
    co_await record_sleep(std::move(log), d);
}

TEST_CASE(
    "claude batcher: 429s, 529s and 500s from the batch endpoints delay calls but lose none "
    "and pay once",
    "[clients]") {
    manual_clock time;
    fakes::fake_batch_options trouble;
    trouble.requests_per_minute = 2;  // create and one retrieve, then 429s with retry-after
    trouble.overloaded_share = 0.2;
    trouble.internal_share = 0.1;
    harness h(trouble, &time);
    h.options.max_attempts = 5;
    auto log = h.sleeps;
    h.options.sleep = [&time, log](milliseconds d) { return advance_and_record(&time, log, d); };
    auto out = h.identify_all(
        {bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 2)});
    for (int i = 0; i < 3; ++i) {
        INFO("item " << i);
        REQUIRE(out[i]);
        CHECK(out[i]->title == "Item " + std::to_string(i));
    }
    CHECK(h.fake.batch_calls_refused() >= 2);  // the trouble was met
    CHECK(h.fake.batches_created() == 1);      // refused creates made nothing
    CHECK(h.fake.batch_billed().size() == 3);
    CHECK(h.fake.received() == 0);
    // Every 429 asked for at least 30 s (one call's share of a minute at 2 a minute): the
    // client waited at least that long at least once.
    auto waits = h.waits();
    CHECK(std::any_of(waits.begin(), waits.end(),
                      [](milliseconds w) { return w >= std::chrono::seconds(30); }));
}

TEST_CASE("claude batcher: refusals of the batch endpoints and refused lines spend no attempt",
          "[clients]") {
    fakes::fake_batch_options down;
    down.internal_share = 1.0;  // every batch call answered 500
    harness h(down);
    h.options.max_attempts = 2;
    auto refused = h.identify(bulk_request("itm_0", 0));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().retryable);
    CHECK_FALSE(refused.error().counts_as_attempt);
    CHECK(h.fake.batches_created() == 0);

    fakes::fake_batch_options failing_lines;
    failing_lines.errored_line_share = 1.0;  // api_error lines, not billed
    harness l(failing_lines);
    auto errored = l.identify(bulk_request("itm_1", 1));
    REQUIRE_FALSE(errored);
    CHECK(errored.error().code == "vision_upstream_error");
    CHECK_FALSE(errored.error().counts_as_attempt);
    CHECK(l.fake.batch_billed().empty());
}

// real_sleep waits for real, a hundredth of the asked time: polls of several batches overlap
// in time as they would in a running service.
asio::awaitable<void> real_sleep(milliseconds d) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, d / 100);
    co_await timer.async_wait(asio::use_awaitable);
}

TEST_CASE("claude batcher: several batches in flight are polled through shared list calls",
          "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 6;
    harness h(slow);
    h.options.batch.max_entries = 1;  // one batch per call
    h.options.batch.poll_min = milliseconds(10'000);
    h.options.batch.poll_max = milliseconds(20'000);
    h.options.sleep = real_sleep;
    auto out = h.identify_all(
        {bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 2)});
    for (int i = 0; i < 3; ++i) {
        INFO("item " << i);
        REQUIRE(out[i]);
    }
    CHECK(h.fake.batches_created() == 3);
    CHECK(h.fake.batch_billed().size() == 3);
    // Alone, each batch would be retrieved 7 times (6 in_progress answers, then ended): 21
    // calls. Shared, each list call answers for all of them.
    const auto calls = h.fake.batch_polls() + h.fake.batch_lists();
    INFO("retrieves " << h.fake.batch_polls() << ", lists " << h.fake.batch_lists());
    CHECK(h.fake.batch_lists() >= 5);
    CHECK(calls <= 12);
}

// gauge_in returns the value of the unlabelled series `name` in a rendered registry, or -1.
double gauge_in(const std::string& text, const std::string& name) {
    auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) {
        return -1;
    }
    return std::stod(text.substr(at + name.size() + 2));
}

TEST_CASE("claude batcher: gauges show the batches in flight and the calls waiting on them",
          "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 2;
    harness h(slow);
    struct seen {
        std::mutex mutex;
        std::vector<std::pair<double, double>> samples;  // batches, calls
    };
    auto samples = std::make_shared<seen>();
    auto* registry = &h.registry;
    h.options.sleep = [samples, registry](milliseconds) -> asio::awaitable<void> {
        auto text = registry->render();
        std::lock_guard lock(samples->mutex);
        samples->samples.emplace_back(gauge_in(text, "boomer_vision_batches_in_flight"),
                                      gauge_in(text, "boomer_vision_batch_calls_waiting"));
        co_return;
    };
    // Two calls for the same photos are one call by then (the answer cache joins identical
    // calls): three items, two calls waiting, one batch.
    auto out = h.identify_all(
        {bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 1)});
    for (const auto& o : out) {
        REQUIRE(o);
    }
    std::lock_guard lock(samples->mutex);
    REQUIRE(samples->samples.size() >= 3);
    // The window's sleep: two calls waiting in it, no batch yet.
    CHECK(samples->samples.front().first == 0);
    CHECK(samples->samples.front().second == 2);
    // The polls: one batch, the two calls in it.
    CHECK(samples->samples.back().first == 1);
    CHECK(samples->samples.back().second == 2);
}

TEST_CASE("claude batcher: lines that come back errored or expired are paid once when retried",
          "[clients]") {
    fakes::fake_batch_options trouble;
    trouble.errored_line_share = 0.5;
    trouble.expired_line_share = 0.5;
    harness h(trouble);
    std::vector<pipeline::identify_request> calls = {
        bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 2)};
    auto first = h.identify_all(calls);
    for (const auto& o : first) {
        REQUIRE_FALSE(o);
        CHECK(o.error().retryable);
        CHECK((o.error().code == "vision_upstream_error" ||
               o.error().code == "vision_batch_expired"));
    }
    CHECK(h.fake.batch_billed().empty());

    fakes::fake_batch_options calm;
    h.fake.set_batch_options(calm);
    auto second = h.identify_all(calls);
    for (const auto& o : second) {
        REQUIRE(o);
    }
    CHECK(h.fake.batches_created() == 2);
    CHECK(h.fake.batch_billed().size() == 3);
}

// listen_for_ends keeps the ids of the batches that ended with parked calls, and stops the
// io_context at each (the test runs it on one thread).
void listen_for_ends(harness& h, clients::claude_vision& vision, std::vector<std::string>& ended) {
    vision.on_batch_ended([&h, &ended](const std::string& id) {
        ended.push_back(id);
        h.io.stop();
    });
}

// parked_run identifies `requests` (each allowed to park) concurrently with one vision client,
// and returns their outcomes.
std::vector<outcome> parked_run(harness& h, clients::claude_vision& vision,
                                std::vector<pipeline::identify_request> requests) {
    std::vector<std::optional<outcome>> slots(requests.size());
    countdown left{static_cast<int>(requests.size()), &h.io};
    for (std::size_t i = 0; i < requests.size(); ++i) {
        requests[i].may_park = true;
        asio::co_spawn(h.io, identify_into(vision, requests[i], &slots[i], &left), asio::detached);
    }
    h.io.restart();
    h.io.run();
    std::vector<outcome> out;
    for (auto& s : slots) {
        REQUIRE(s);
        out.push_back(std::move(*s));
    }
    return out;
}

TEST_CASE(
    "claude batcher: a parking call returns once its batch is made and collects its "
    "answer after the batch ended",
    "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 3;
    harness h(slow);
    h.fake.add_fixture(sha256_hex(photo(0)), "claude-haiku-4-5",
                       test::identification_record("Parked", 0.9));
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::string> ended;
    listen_for_ends(h, vision, ended);

    // Two items with identical calls, and one of its own: all three park on one batch.
    auto parked = parked_run(
        h, vision, {bulk_request("itm_a", 0), bulk_request("itm_b", 0), bulk_request("itm_c", 1)});
    REQUIRE(h.fake.batches_created() == 1);
    for (const auto& o : parked) {
        REQUIRE(o);
        CHECK(o->parked_in.rfind("msgbatch_", 0) == 0);
        CHECK(o->parked_in == parked[0]->parked_in);
        CHECK(o->title.empty());
        CHECK(o->calls.empty());
    }
    CHECK(ended.empty());
    CHECK(h.fake.batch_polls() < 3);  // none of them waited for the batch's end

    // An item asking again while its batch runs (a recheck, a restart) parks again, once.
    auto rechecked = parked_run(h, vision, {bulk_request("itm_c", 1)});
    REQUIRE(rechecked[0]);
    CHECK(rechecked[0]->parked_in == parked[0]->parked_in);
    CHECK(gauge_in(h.registry.render(), "boomer_vision_batch_calls_waiting") == 3);

    // The batch goes on with nobody waiting, and says when it has ended.
    h.io.restart();
    h.io.run();
    REQUIRE(ended == std::vector<std::string>{parked[0]->parked_in});
    const auto polls = h.fake.batch_polls();

    // Asked again: each gets its own outcome at once, no batch made or polled.
    auto again = parked_run(
        h, vision, {bulk_request("itm_a", 0), bulk_request("itm_b", 0), bulk_request("itm_c", 1)});
    CHECK(h.fake.batches_created() == 1);
    CHECK(h.fake.batch_polls() == polls);
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 2);
    for (const auto& o : again) {
        REQUIRE(o);
        CHECK(o->parked_in.empty());
    }
    CHECK(again[0]->title == "Parked");
    CHECK(again[0]->calls.at(0).outcome == "ok");  // the first of the identical calls pays
    CHECK(again[0]->cost_micros > 0);
    CHECK(again[1]->title == "Parked");
    CHECK(again[1]->calls.at(0).outcome == "cached");
    CHECK(again[1]->cost_micros == 0);
    CHECK(again[2]->calls.at(0).outcome == "ok");
}

// series_sum adds the samples of metric `name` in a rendered registry whose labels contain
// `labels` (every series of it with an empty `labels`).
double series_sum(const std::string& text, const std::string& name, const std::string& labels) {
    double sum = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(name + "{", 0) == 0 && line.find(labels) != std::string::npos) {
            sum += std::stod(line.substr(line.rfind(' ') + 1));
        }
    }
    return sum;
}

TEST_CASE("claude batcher: the payer of a parked line is charged whichever copy asks first",
          "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 3;
    harness h(slow);
    asio::thread_pool store_thread(1);  // lookups wait, as with a database
    h.answers->lookups = &store_thread;
    h.fake.add_fixture(sha256_hex(photo(0)), "claude-haiku-4-5",
                       test::identification_record("Parked", 0.9));
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::string> ended;
    listen_for_ends(h, vision, ended);
    auto parked = parked_run(h, vision, {bulk_request("itm_a", 0), bulk_request("itm_b", 0)});
    REQUIRE(parked[0]);
    REQUIRE_FALSE(parked[0]->parked_in.empty());
    h.io.restart();
    h.io.run();
    REQUIRE(ended.size() == 1);

    // The copy that did not pay asks first, and the payer waits for its answer.
    auto again = parked_run(h, vision, {bulk_request("itm_b", 0), bulk_request("itm_a", 0)});
    REQUIRE(again[0]);
    REQUIRE(again[1]);
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 1);
    CHECK(again[0]->calls.at(0).outcome == "cached");
    CHECK(again[0]->cost_micros == 0);
    CHECK(again[1]->calls.at(0).outcome == "ok");
    CHECK(again[1]->cost_micros == half_cost(billed[0].usage, 1, 5));
    const auto text = h.registry.render();
    CHECK(series_sum(text, "boomer_vision_calls_total", "outcome=\"ok\"") == 1);
    CHECK(series_sum(text, "boomer_vision_cost_dollars_total", "") ==
          Approx(static_cast<double>(again[1]->cost_micros) / 1e6));
}

TEST_CASE("claude batcher: a parked call whose line failed gets the failure when it asks again",
          "[clients]") {
    fakes::fake_batch_options trouble;
    trouble.errored_line_share = 1.0;
    harness h(trouble);
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::string> ended;
    listen_for_ends(h, vision, ended);
    auto parked = parked_run(h, vision, {bulk_request("itm_a", 0)});
    REQUIRE(parked[0]);
    REQUIRE_FALSE(parked[0]->parked_in.empty());
    h.io.restart();
    h.io.run();
    REQUIRE(ended.size() == 1);

    // The failure, once (an attempt spent by the caller); the next ask submits afresh.
    auto again = parked_run(h, vision, {bulk_request("itm_a", 0)});
    REQUIRE_FALSE(again[0]);
    CHECK(again[0].error().code == "vision_upstream_error");
    CHECK(again[0].error().retryable);
    CHECK(h.fake.batch_billed().empty());
    fakes::fake_batch_options calm;
    h.fake.set_batch_options(calm);
    auto third = parked_run(h, vision, {bulk_request("itm_a", 0)});
    REQUIRE(third[0]);
    CHECK_FALSE(third[0]->parked_in.empty());
    CHECK(h.fake.batches_created() == 2);
}

// park_elsewhere parks `request` in a batch through a process that then stops before the batch
// ends (its io never runs again), and returns the batch's id.
std::string park_elsewhere(harness& h, pipeline::identify_request request) {
    asio::io_context gone_io;
    clients::claude_vision gone(h.options, gone_io.get_executor(), h.registry);
    std::optional<outcome> parked;
    request.may_park = true;
    asio::co_spawn(gone_io, identify_into(gone, request, &parked, nullptr), asio::detached);
    while (!parked && gone_io.run_one() > 0) {
    }
    REQUIRE(parked);
    REQUIRE(*parked);
    const auto batch_id = (*parked)->parked_in;
    REQUIRE(batch_id.rfind("msgbatch_", 0) == 0);
    return batch_id;
}

TEST_CASE("claude batcher: a batch watched and polled for a call at once gets both polls answered",
          "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 8;
    harness h(slow);
    const auto batch_id = park_elsewhere(h, bulk_request("itm_a", 0));
    clients::claude_vision other(h.options, h.io.get_executor(), h.registry);
    std::vector<std::string> ended;
    listen_for_ends(h, other, ended);
    other.watch_batch(batch_id);
    // An identical call of another item joins the same batch here: a second poll of it, whose
    // looks share list rounds with the watch's.
    auto joined = parked_run(h, other, {bulk_request("itm_b", 0)});
    REQUIRE(joined[0]);
    REQUIRE(joined[0]->parked_in == batch_id);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (ended.size() < 2 && std::chrono::steady_clock::now() < give_up) {
        h.io.restart();
        h.io.run_for(std::chrono::seconds(1));
    }
    // Both saw the end: the watch and the poll that keeps the joined call's outcome.
    CHECK(ended == std::vector<std::string>{batch_id, batch_id});
    auto again = parked_run(h, other, {bulk_request("itm_b", 0)});
    REQUIRE(again[0]);
    CHECK(again[0]->parked_in.empty());
    CHECK(again[0]->title == "Item 0");
}

TEST_CASE(
    "claude batcher: a batch watched for calls another process parked is told when it ends, "
    "and the calls collect their answers from it",
    "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 3;
    harness h(slow);
    const auto batch_id = park_elsewhere(h, bulk_request("itm_a", 0));
    const auto polls = h.fake.batch_polls();

    clients::claude_vision other(h.options, h.io.get_executor(), h.registry);
    std::vector<std::string> ended;
    listen_for_ends(h, other, ended);
    other.watch_batch(batch_id);
    other.watch_batch(batch_id);  // one watch
    h.io.restart();
    h.io.run();
    REQUIRE(ended == std::vector<std::string>{batch_id});
    CHECK(h.fake.batch_polls() > polls);  // polled here until it ended

    // The item runs again here and gets its line at once, without parking again or paying.
    auto again = parked_run(h, other, {bulk_request("itm_a", 0)});
    REQUIRE(again[0]);
    CHECK(again[0]->parked_in.empty());
    CHECK(again[0]->title == "Item 0");
    CHECK(again[0]->calls.at(0).outcome == "ok");
    CHECK(h.fake.batches_created() == 1);
    CHECK(h.fake.batch_billed().size() == 1);

    // A batch the API does not know is told too: its jobs run again and submit afresh.
    other.watch_batch("msgbatch_0000000000000000000000");
    h.io.restart();
    h.io.run();
    CHECK(ended.back() == "msgbatch_0000000000000000000000");
}

TEST_CASE(
    "claude batcher: on the item's last attempt a bulk call no batch holds is made synchronously, "
    "and one a batch holds joins it",
    "[clients]") {
    fakes::fake_batch_options trouble;
    trouble.errored_line_share = 1.0;  // batches fail every line: only a sync call answers
    harness h(trouble);
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);

    // Not the last attempt: through a batch, whose line comes back errored (and unbilled).
    auto first = parked_run(h, vision, {bulk_request("itm_a", 0)});
    REQUIRE(first[0]);
    REQUIRE_FALSE(first[0]->parked_in.empty());
    std::vector<std::string> ended;
    listen_for_ends(h, vision, ended);
    h.io.restart();
    h.io.run();
    auto failed = parked_run(h, vision, {bulk_request("itm_a", 0)});
    REQUIRE_FALSE(failed[0]);
    CHECK(h.fake.batch_billed().empty());
    CHECK(h.fake.paid() == 0);

    // The last attempt: its failed line's record is cleared, so nothing can still pay for it.
    auto last = bulk_request("itm_a", 0);
    last.last_attempt = true;
    auto answered = parked_run(h, vision, {last});
    REQUIRE(answered[0]);
    CHECK(answered[0]->parked_in.empty());
    CHECK(answered[0]->title == "Item 0");
    CHECK(h.fake.paid() == 1);  // synchronous, at full price
    CHECK(h.fake.batches_created() == 1);

    // Another item's call sits in a batch made for it: a last attempt of an identical call
    // joins that batch instead of paying beside it.
    fakes::fake_batch_options calm;
    calm.in_progress_polls = 2;
    h.fake.set_batch_options(calm);
    auto held = parked_run(h, vision, {bulk_request("itm_b", 1)});
    REQUIRE(held[0]);
    REQUIRE_FALSE(held[0]->parked_in.empty());
    auto joining = bulk_request("itm_c", 1);
    joining.last_attempt = true;
    auto joined = parked_run(h, vision, {joining});
    REQUIRE(joined[0]);
    CHECK(joined[0]->parked_in == held[0]->parked_in);
    CHECK(h.fake.paid() == 1);
    CHECK(h.fake.batches_created() == 2);
}

TEST_CASE("claude batcher: results larger than an answer the client holds are read line by line",
          "[clients]") {
    harness h;
    // Smaller than the three lines together, larger than any other answer of the exchange.
    h.options.http.max_response_bytes = 2'000;
    auto out = h.identify_all(
        {bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 2)});
    CHECK(h.fake.batches_created() == 1);
    CHECK(h.fake.batch_billed().size() == 3);
    for (int i = 0; i < 3; ++i) {
        INFO("item " << i);
        REQUIRE(out[i]);
        CHECK(out[i]->title == "Item " + std::to_string(i));
    }
}

TEST_CASE("claude batcher: a window over the create size limit is split into several batches",
          "[clients]") {
    // A create body of any one request fits the limit, of two does not (each photo is KBs).
    std::size_t largest = 0;
    for (int i = 0; i < 3; ++i) {
        clients::identify_call_params p;
        p.model = "claude-haiku-4-5";
        p.max_tokens = 2048;
        largest = std::max(largest, clients::build_identify_body(bulk_request("", i), p).size());
    }
    fakes::fake_batch_options small;
    small.max_create_bytes = largest + 200;
    harness h(small);
    h.options.batch.max_bytes = small.max_create_bytes;
    auto out = h.identify_all(
        {bulk_request("itm_0", 0), bulk_request("itm_1", 1), bulk_request("itm_2", 2)});
    CHECK(h.fake.batches_created() == 3);
    CHECK(h.fake.batch_billed().size() == 3);
    for (int i = 0; i < 3; ++i) {
        INFO("item " << i);
        REQUIRE(out[i]);
        CHECK(out[i]->title == "Item " + std::to_string(i));
    }
}

TEST_CASE("claude batcher: polls wait at least the batch's retry-after", "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 3;
    slow.retry_after_seconds = 10;
    harness h(slow);
    h.options.batch.window = milliseconds(250);
    h.options.batch.poll_min = milliseconds(500);
    h.options.batch.poll_max = milliseconds(4'000);
    auto out = h.identify(bulk_request("itm_1", 1));
    REQUIRE(out);
    CHECK(h.fake.batch_polls() == 4);
    auto waits = h.waits();
    // The window, the first poll's wait, then after each in_progress answer its retry-after.
    REQUIRE(waits.size() == 5);
    CHECK(waits[0] == milliseconds(250));
    CHECK(waits[1] == milliseconds(500));
    for (std::size_t i = 2; i < waits.size(); ++i) {
        CHECK(waits[i] == milliseconds(10'000));
    }

    // Without a retry-after the waits double up to the bound.
    fakes::fake_batch_options quiet;
    quiet.in_progress_polls = 4;
    quiet.retry_after_seconds = 0;
    harness q(quiet);
    q.options.batch.window = milliseconds(0);
    q.options.batch.poll_min = milliseconds(1'000);
    q.options.batch.poll_max = milliseconds(3'000);
    REQUIRE(q.identify(bulk_request("itm_1", 1)));
    CHECK(q.waits() == std::vector<milliseconds>{milliseconds(0), milliseconds(1'000),
                                                 milliseconds(2'000), milliseconds(3'000),
                                                 milliseconds(3'000), milliseconds(3'000)});
}

TEST_CASE("claude batcher: a recorded pending batch is resumed after a crash, not resubmitted",
          "[clients]") {
    fakes::fake_batch_options slow;
    slow.in_progress_polls = 3;
    harness h(slow);
    h.fake.add_fixture(sha256_hex(photo(1)), "claude-haiku-4-5",
                       test::identification_record("Resumed", 0.9));
    {
        // The first process: submits, records, polls once, and dies mid-wait.
        asio::io_context crashed;
        clients::claude_vision vision(h.options, crashed.get_executor(), h.registry);
        std::optional<outcome> never;
        asio::co_spawn(crashed, identify_into(vision, bulk_request("itm_1", 1), &never, nullptr),
                       asio::detached);
        while (h.fake.batch_polls() < 1) {
            crashed.run_one();
        }
        CHECK_FALSE(never);
    }
    REQUIRE(h.fake.batches_created() == 1);
    CHECK(h.answers->entries.size() == 1);  // the batch record

    auto out = h.identify(bulk_request("itm_1", 1));
    REQUIRE(out);
    CHECK(out->title == "Resumed");
    CHECK(h.fake.batches_created() == 1);
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 1);
    CHECK(out->calls.at(0).outcome == "ok");  // the same item: it paid, at the batch price
    CHECK(out->cost_micros == half_cost(billed[0].usage, 1, 5));
}

TEST_CASE("claude batcher: identical calls share one request and only the first item pays",
          "[clients]") {
    harness h;
    h.fake.add_fixture(sha256_hex(photo(0)), "claude-haiku-4-5",
                       test::identification_record("Shared", 0.9));
    auto out = h.identify_all({bulk_request("itm_first", 0), bulk_request("itm_second", 0)});
    REQUIRE(out[0]);
    REQUIRE(out[1]);
    CHECK(h.fake.batch_billed().size() == 1);
    CHECK(out[0]->calls.at(0).outcome == "ok");
    CHECK(out[0]->cost_micros > 0);
    CHECK(out[1]->calls.at(0).outcome == "cached");
    CHECK(out[1]->cost_micros == 0);
}

TEST_CASE("claude batcher: calls given up before their window closes are not submitted",
          "[clients]") {
    harness h;
    // Canceled items (or ones whose lease was lost) while the window was open: one alone on
    // its photo, one with a copy that is still wanted.
    auto given_up = [](pipeline::identify_request r) {
        r.wanted = [] { return false; };
        return r;
    };
    auto out =
        h.identify_all({given_up(bulk_request("itm_alone", 1)),
                        given_up(bulk_request("itm_leader", 0)), bulk_request("itm_copy", 0)});
    for (int i : {0, 1}) {
        REQUIRE_FALSE(out[i]);
        CHECK(out[i].error().code == pipeline::abandoned_code);
        CHECK_FALSE(out[i].error().counts_as_attempt);
    }
    REQUIRE(out[2]);
    CHECK(out[2]->title == "Item 0");
    CHECK(out[2]->calls.at(0).outcome == "ok");  // the copy paid the line it still wanted
    CHECK(out[2]->cost_micros > 0);
    const auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 1);  // photo 1's line was never sent
    CHECK(h.fake.received() == 0);
}

TEST_CASE("claude batcher: escalation of an unsure bulk answer goes through a batch too",
          "[clients]") {
    harness h;
    h.fake.add_fixture(sha256_hex(photo(2)), "claude-haiku-4-5",
                       test::identification_record("Print", 0.3));
    h.fake.add_fixture(sha256_hex(photo(2)), "claude-sonnet-4-5",
                       test::identification_record("Acme X1 print", 0.9));
    auto out = h.identify(bulk_request("itm_1", 2));
    REQUIRE(out);
    CHECK(out->escalated);
    CHECK(out->title == "Acme X1 print");
    CHECK(h.fake.batches_created() == 2);
    CHECK(h.fake.received() == 0);
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 2);
    CHECK(billed[1].model == "claude-sonnet-4-5");
    CHECK(out->cost_micros == half_cost(billed[0].usage, 1, 5) + half_cost(billed[1].usage, 3, 15));
}

TEST_CASE("claude batcher: a parked escalation counts once, when it ends", "[clients]") {
    harness h;
    h.fake.add_fixture(sha256_hex(photo(2)), "claude-haiku-4-5",
                       test::identification_record("Print", 0.3));
    h.fake.add_fixture(sha256_hex(photo(2)), "claude-sonnet-4-5",
                       test::identification_record("Acme X1 print", 0.9));
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::string> ended;
    listen_for_ends(h, vision, ended);
    auto escalations = [&h] {
        return gauge_in(h.registry.render(), "boomer_vision_escalations_total");
    };
    // The cheap call parks, then the stronger one: the item runs three times.
    auto run = [&] {
        auto out = parked_run(h, vision, {bulk_request("itm_1", 2)});
        REQUIRE(out[0]);
        return std::move(*out[0]);
    };
    CHECK_FALSE(run().parked_in.empty());
    h.io.restart();
    h.io.run();
    CHECK_FALSE(run().parked_in.empty());
    CHECK(escalations() == 0);
    h.io.restart();
    h.io.run();
    REQUIRE(ended.size() == 2);
    auto last = run();
    CHECK(last.parked_in.empty());
    CHECK(last.title == "Acme X1 print");
    CHECK(escalations() == 1);
}

namespace {

// The photo holds a test hands out, and how many were alive at each of the batcher's sleeps:
// the collection window (before the batch is made) and the polls (after).
struct hold_watch {
    std::mutex mutex;
    std::vector<std::weak_ptr<void>> holds;
    std::vector<std::pair<milliseconds, int>> alive_at_sleeps;
    int reloads = 0;

    pipeline::photo_hold make_hold() {
        auto hold = std::make_shared<int>(0);
        std::lock_guard lock(mutex);
        holds.push_back(hold);
        return hold;
    }
    void note_sleep(milliseconds d) {
        std::lock_guard lock(mutex);
        int alive = 0;
        for (const auto& h : holds) {
            alive += h.expired() ? 0 : 1;
        }
        alive_at_sleeps.emplace_back(d, alive);
    }
};

asio::awaitable<void> watched_sleep(std::shared_ptr<hold_watch> watch, milliseconds d) {
    watch->note_sleep(d);
    co_return;
}

asio::awaitable<result<pipeline::loaded_photos>> reload_photo(std::shared_ptr<hold_watch> watch,
                                                              int photo_index) {
    pipeline::loaded_photos out;
    out.jpeg_images = {photo(photo_index)};
    out.hold = watch->make_hold();
    {
        std::lock_guard lock(watch->mutex);
        ++watch->reloads;
    }
    co_return out;
}

// A bulk request whose photos can be reloaded, each load with a watched hold.
pipeline::identify_request reloadable_request(const std::shared_ptr<hold_watch>& watch,
                                              int photo_index) {
    auto r = bulk_request("itm_1", photo_index);
    r.hold = watch->make_hold();
    r.reload_photos = [watch, photo_index] { return reload_photo(watch, photo_index); };
    return r;
}

// identify_alone runs one request, handing it over so that nothing but the model keeps it.
outcome identify_alone(harness& h, pipeline::identify_request r) {
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::optional<outcome> out;
    countdown left{1, &h.io};
    asio::co_spawn(h.io, identify_into(vision, std::move(r), &out, &left), asio::detached);
    h.io.restart();
    h.io.run();
    REQUIRE(out);
    return std::move(*out);
}

}  // namespace

TEST_CASE(
    "claude batcher: a bulk call holds its photos only until its batch is made, and an "
    "escalation loads them again",
    "[clients]") {
    harness h;
    auto watch = std::make_shared<hold_watch>();
    h.options.batch.window = milliseconds(250);
    h.options.sleep = [watch](milliseconds d) { return watched_sleep(watch, d); };
    h.fake.add_fixture(sha256_hex(photo(2)), "claude-haiku-4-5",
                       test::identification_record("Print", 0.3));
    h.fake.add_fixture(sha256_hex(photo(2)), "claude-sonnet-4-5",
                       test::identification_record("Acme X1 print", 0.9));

    auto out = identify_alone(h, reloadable_request(watch, 2));
    REQUIRE(out);
    CHECK(out->escalated);
    CHECK(out->title == "Acme X1 print");  // the strong call carried the reloaded photo
    CHECK(h.fake.batches_created() == 2);
    CHECK(h.fake.received() == 0);
    CHECK(watch->reloads == 1);
    // Each window saw its call's photos held; no poll of a made batch saw any.
    int windows = 0;
    for (const auto& [wait, alive] : watch->alive_at_sleeps) {
        if (wait == h.options.batch.window) {
            ++windows;
            CHECK(alive == 1);
        } else {
            CHECK(alive == 0);
        }
    }
    CHECK(windows == 2);
    CHECK(watch->alive_at_sleeps.size() > 2);  // the polls were watched too

    // A confident cheap answer needs the photos no more: nothing is loaded again.
    auto sure = std::make_shared<hold_watch>();
    h.options.sleep = [sure](milliseconds d) { return watched_sleep(sure, d); };
    auto confident = identify_alone(h, reloadable_request(sure, 0));
    REQUIRE(confident);
    CHECK_FALSE(confident->escalated);
    CHECK(sure->reloads == 0);
    CHECK(h.fake.batches_created() == 3);
}

TEST_CASE("claude batcher: urgent and normal items stay on the synchronous path", "[clients]") {
    harness h;
    auto out = h.identify(bulk_request("itm_1", 1, false));
    REQUIRE(out);
    CHECK(h.fake.batches_created() == 0);
    CHECK(h.fake.paid() == 1);
    CHECK(out->calls.at(0).usage.service_tier == "standard");

    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    CHECK(vision.defers_bulk());
    h.options.batch.enabled = false;
    clients::claude_vision off(h.options, h.io.get_executor(), h.registry);
    CHECK_FALSE(off.defers_bulk());
    REQUIRE(h.identify(bulk_request("itm_2", 2)));
    CHECK(h.fake.batches_created() == 0);
}

TEST_CASE("claude batcher: settings from the environment", "[clients]") {
    std::map<std::string, std::string> env{{"ANTHROPIC_API_KEY", "k"},
                                           {"BOOMER_CLAUDE_BATCHES", "1"},
                                           {"BOOMER_CLAUDE_BATCH_MAX", "50"},
                                           {"BOOMER_CLAUDE_BATCH_WINDOW_MS", "300"},
                                           {"BOOMER_CLAUDE_BATCH_POLL_MIN_MS", "200"},
                                           {"BOOMER_CLAUDE_BATCH_POLL_MAX_MS", "9000"}};
    auto lookup = [&env](std::string_view name) -> std::optional<std::string> {
        auto found = env.find(std::string(name));
        return found == env.end() ? std::nullopt : std::optional(found->second);
    };
    auto o = clients::claude_options_from_env(lookup);
    REQUIRE(o);
    CHECK(o->batch.enabled);
    CHECK(o->batch.max_entries == 50);
    CHECK(o->batch.window == milliseconds(300));
    CHECK(o->batch.poll_min == milliseconds(200));
    CHECK(o->batch.poll_max == milliseconds(9'000));

    for (auto [name, value] :
         {std::pair{"BOOMER_CLAUDE_BATCHES", "maybe"}, std::pair{"BOOMER_CLAUDE_BATCH_MAX", "0"},
          std::pair{"BOOMER_CLAUDE_BATCH_MAX", "10001"},
          std::pair{"BOOMER_CLAUDE_BATCH_POLL_MIN_MS", "10000"},
          std::pair{"BOOMER_CLAUDE_BATCH_WINDOW_MS", "soon"},
          // Beyond 24 hours, up to values whose nanoseconds would overflow the timers.
          std::pair{"BOOMER_CLAUDE_BATCH_WINDOW_MS", "86400001"},
          std::pair{"BOOMER_CLAUDE_BATCH_WINDOW_MS", "9223372036854775807"},
          std::pair{"BOOMER_CLAUDE_BATCH_POLL_MAX_MS", "0"},
          std::pair{"BOOMER_CLAUDE_BATCH_POLL_MAX_MS", "9223372036854775807"}}) {
        auto saved = env;
        env[name] = value;
        auto bad = clients::claude_options_from_env(lookup);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == "bad_config");
        CHECK(bad.error().message.find(name) != std::string::npos);
        env = saved;
    }
}

namespace {

// An answer store whose process dies right after a batch is created: the record that names the
// batch is never written (the intents before it are kept); the test stops the process there.
class dying_answers final : public clients::answer_store {
public:
    explicit dying_answers(std::shared_ptr<test::memory_answers> kept) : kept_(std::move(kept)) {}

    std::optional<std::string> get(std::string_view key, std::int64_t now_ms) override {
        return kept_->get(key, now_ms);
    }
    void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) override {
        auto record = clients::decode_batch_record(value);
        if (record && !record->intent()) {
            died = true;
            throw std::runtime_error("the process died before recording the batch");
        }
        kept_->put(key, value, expires_at_ms);
    }
    boost::asio::thread_pool* pool() override { return nullptr; }

    std::atomic<bool> died = false;

private:
    std::shared_ptr<test::memory_answers> kept_;
};

}  // namespace

TEST_CASE("claude batcher: a batch made but not recorded before a crash is found, not paid again",
          "[clients]") {
    harness h;
    h.fake.add_fixture(sha256_hex(photo(1)), "claude-haiku-4-5",
                       test::identification_record("Found again", 0.9));
    auto dying = std::make_shared<dying_answers>(h.answers);
    {
        // The first process: writes the intent, creates the batch, and dies before recording it.
        auto options = h.options;
        options.answers = dying;
        asio::io_context crashed;
        clients::claude_vision vision(options, crashed.get_executor(), h.registry);
        std::optional<outcome> never;
        asio::co_spawn(crashed, identify_into(vision, bulk_request("itm_1", 1), &never, nullptr),
                       asio::detached);
        while (!dying->died) {
            crashed.run_one();
        }
        CHECK_FALSE(never);
    }
    REQUIRE(h.fake.batches_created() == 1);
    const auto key = clients::batch_record_key(
        "claude:" + custom_id_for(bulk_request("", 1), "claude-haiku-4-5"));
    REQUIRE(h.answers->entries.count(key) == 1);
    auto left = clients::decode_batch_record(h.answers->entries[key]);
    REQUIRE(left);
    CHECK(left->intent());

    // The restarted process finds the intent, lists the batches, and waits for the one it made.
    auto out = h.identify(bulk_request("itm_1", 1));
    REQUIRE(out);
    CHECK(out->title == "Found again");
    CHECK(h.fake.batches_created() == 1);
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 1);
    CHECK(out->calls.at(0).outcome == "ok");  // the same item paid for it, once
    CHECK(out->cost_micros == half_cost(billed[0].usage, 1, 5));
    auto recorded = clients::decode_batch_record(h.answers->entries[key]);
    REQUIRE(recorded);
    CHECK(recorded->batch_id == billed[0].batch_id);  // the search recorded what it found
}

TEST_CASE(
    "claude batcher: an intent whose batch was never made is submitted once the search "
    "finds no line for it",
    "[clients]") {
    harness h;
    // Another batch made since the intent's time, without the call's line: read, not joined.
    REQUIRE(h.identify(bulk_request("itm_0", 0)));
    REQUIRE(h.fake.batches_created() == 1);
    const auto custom_id = custom_id_for(bulk_request("", 1), "claude-haiku-4-5");
    const auto key = clients::batch_record_key("claude:" + custom_id);
    h.answers->entries[key] = clients::encode_batch_record(
        {"", custom_id, "itm_1", boomer::system_clock::instance().now_ms() - 60'000});

    auto first = h.identify_all({bulk_request("itm_1", 1)});
    REQUIRE(first[0]);
    CHECK(first[0]->title == "Item 1");
    CHECK(h.fake.batches_created() == 2);
    CHECK(h.fake.batch_billed().size() == 2);
    auto recorded = clients::decode_batch_record(h.answers->entries[key]);
    REQUIRE(recorded);
    CHECK_FALSE(recorded->intent());
}

TEST_CASE(
    "claude batcher: a create request that got no answer is not sent again: the search "
    "finds its batch",
    "[clients]") {
    fakes::fake_batch_options late;
    late.create_answer_delay = milliseconds(1'500);
    harness h(late);
    h.options.attempt_timeout = milliseconds(300);
    auto out = h.identify(bulk_request("itm_2", 2));
    REQUIRE(out);
    CHECK(out->title == "Item 2");
    CHECK(h.fake.batches_created() == 1);
    CHECK(h.fake.batch_billed().size() == 1);
    // The search waited out one attempt's time before listing.
    auto waits = h.waits();
    CHECK(std::find(waits.begin(), waits.end(), milliseconds(300)) != waits.end());
}

TEST_CASE(
    "claude batcher: a create request that got no answer and made no batch fails its calls "
    "retryably, and the next attempt submits them again",
    "[clients]") {
    fakes::fake_batch_options lost;
    lost.create_answer_delay = milliseconds(1'500);
    lost.create_lost = true;
    harness h(lost);
    h.options.attempt_timeout = milliseconds(300);
    auto out = h.identify(bulk_request("itm_2", 2));
    REQUIRE_FALSE(out);
    CHECK(out.error().code == "vision_batch_unavailable");
    CHECK(out.error().retryable);
    CHECK(h.fake.batches_created() == 0);

    fakes::fake_batch_options calm;
    h.fake.set_batch_options(calm);
    auto again = h.identify(bulk_request("itm_2", 2));
    REQUIRE(again);
    CHECK(again->title == "Item 2");
    CHECK(h.fake.batches_created() == 1);
    CHECK(h.fake.batch_billed().size() == 1);
}

TEST_CASE("claude batcher: batch records round-trip, cleared or foreign text reads as none",
          "[clients]") {
    clients::batch_record r{"msgbatch_01abc", std::string(64, 'f'), "itm_1"};
    auto back = clients::decode_batch_record(clients::encode_batch_record(r));
    REQUIRE(back);
    CHECK(back->batch_id == r.batch_id);
    CHECK(back->custom_id == r.custom_id);
    CHECK(back->paid_by == r.paid_by);
    CHECK_FALSE(clients::decode_batch_record(clients::cleared_batch_record()));
    CHECK_FALSE(clients::decode_batch_record("not json"));
    CHECK_FALSE(clients::decode_batch_record(R"({"v":1,"batch_id":"","custom_id":"x"})"));

    // An intent: no batch yet, the time its submission began.
    clients::batch_record intent{"", std::string(64, 'e'), "itm_2", 1'796'400'635'123};
    auto read = clients::decode_batch_record(clients::encode_batch_record(intent));
    REQUIRE(read);
    CHECK(read->intent());
    CHECK(read->custom_id == intent.custom_id);
    CHECK(read->paid_by == "itm_2");
    CHECK(read->submitted_at_ms == intent.submitted_at_ms);
    CHECK_FALSE(back->intent());
    CHECK_FALSE(clients::decode_batch_record(
        R"({"v":1,"batch_id":"","custom_id":"x","paid_by":"i","submitted_at_ms":"soon"})"));
    CHECK(clients::batch_record_key("claude:abc") == "batch:claude:abc");
    CHECK(clients::claude_batcher::custom_id_of("claude:" + std::string(70, 'a')) ==
          std::string(64, 'a'));
}

namespace {

// The heap the client's thread holds at the first poll of a made batch, when every call of it
// waits for its line (the fakes answer on threads of their own).
struct heap_probe {
    milliseconds poll_wait{0};
    std::optional<std::int64_t> at_first_poll;
};

asio::awaitable<void> probed_sleep(std::shared_ptr<heap_probe> probe, milliseconds d) {
    if (d == probe->poll_wait && !probe->at_first_poll) {
        probe->at_first_poll = test::thread_heap();
    }
    co_return;
}

// A photo small enough that what the fake keeps of each request stays small next to what the
// client keeps.
const std::string& tiny_photo() {
    static const std::string jpeg = [] {
        image::normalize_limits limits;
        limits.max_long_edge = 24;
        auto bytes = test::read_file(test::data_dir() / "images" / photo_names[0]);
        return image::normalize(bytes, limits).value().jpeg;
    }();
    return jpeg;
}

asio::awaitable<result<pipeline::loaded_photos>> load_tiny_photo() {
    pipeline::loaded_photos out;
    out.jpeg_images = {tiny_photo()};
    co_return out;
}

// heap_while_waiting sends `n` distinct bulk calls (one photo each, loadable again, so the
// model need not keep it) through one batch and returns the heap in use while they all wait.
std::int64_t heap_while_waiting(int n) {
    harness h;
    h.fake.add_fixture(sha256_hex(tiny_photo()), "claude-haiku-4-5",
                       test::identification_record("Tiny print", 0.9));
    h.options.batch.max_entries = static_cast<std::size_t>(n);  // made once all are queued
    auto probe = std::make_shared<heap_probe>();
    probe->poll_wait = h.options.batch.poll_min;
    h.options.sleep = [probe](milliseconds d) { return probed_sleep(probe, d); };

    const auto before = test::thread_heap();
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::optional<outcome>> out(static_cast<std::size_t>(n));
    countdown left{n, &h.io};
    for (int i = 0; i < n; ++i) {
        pipeline::identify_request r;
        r.item_id = "itm_" + std::to_string(i);
        r.jpeg_images = {tiny_photo()};
        r.title_hint = "print " + std::to_string(i);  // a body, and a line, of its own
        r.bulk = true;
        r.reload_photos = load_tiny_photo;
        asio::co_spawn(h.io, identify_into(vision, std::move(r), &out[i], &left), asio::detached);
    }
    h.io.restart();
    h.io.run();
    for (const auto& o : out) {
        REQUIRE(o);
        REQUIRE(*o);
        CHECK((*o)->title == "Tiny print");
    }
    CHECK(h.fake.batches_created() == 1);
    REQUIRE(probe->at_first_poll);
    return *probe->at_first_poll - before;
}

}  // namespace

// What each waiting call keeps is the slope between two batch sizes, so that what the client
// holds whatever the number of calls (connections, the batch's poll) cancels out. Counted on
// the client's thread only: the in-process fake keeps every request on its own threads. A call
// kept about 36 KB here while it waited inside the answer cache's coroutines (single flight,
// fill, loader, pay, call_batch); about 15 KB since it waits in one frame of claude_vision's.
TEST_CASE("claude batcher: a bulk call waiting on its batch keeps little memory", "[clients]") {
    if (!test::thread_heap_counted()) {
        WARN("malloc belongs to a sanitizer in this build: the heap is not counted");
        return;
    }
    const auto few = heap_while_waiting(40);
    const auto many = heap_while_waiting(240);
    const double per_call = static_cast<double>(many - few) / 200.0;
    INFO("heap per waiting call: " << per_call << " bytes");
    CHECK(per_call > 0);
    CHECK(per_call < 20'000);
}
