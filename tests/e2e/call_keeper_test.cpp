// The call keeper: the process that makes Claude's synchronous calls for the service and journals
// each paid answer, so that a crash of the service does not pay for its calls in flight again.
// Its client against a real keeper (the boomer binary) and the strict fake Anthropic API, then the
// whole service killed with a call in flight and restarted.
#include "clients/call_keeper.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "clients/anthropic_messages.hpp"
#include "clients/claude_answers.hpp"
#include "pipeline/image/analyze.hpp"
#include "tests/clients/claude_support.hpp"
#include "tests/clients/support.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace asio = boost::asio;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

namespace {

// A fake, a data folder and a client whose keeper calls that fake.
struct keeper_rig {
    explicit keeper_rig(milliseconds latency = milliseconds(0)) {
        if (latency.count() > 0) {
            fake.set_latency(latency);
        }
    }

    fakes::fake_anthropic fake;
    temp_dir dir;
    scoped_env env{{{"ANTHROPIC_BASE_URL", fake.base_url()}}};
    asio::io_context io;
    clients::call_keeper_client keeper{io.get_executor(),
                                       {.dir = dir.path().string(),
                                        .program = boomer_binary().string(),
                                        .url = fake.base_url() + "/v1/messages"}};

    // call is the request of `item_id`, whose title hint names it: items' calls differ.
    clients::http_call call(const std::string& item_id = "item-1") const {
        clients::http_call c;
        c.url = fake.base_url() + "/v1/messages";
        c.headers = {{"x-api-key", "test-key"},
                     {"anthropic-version", std::string(clients::anthropic_version)},
                     {"content-type", "application/json"}};
        clients::identify_call_params params;
        params.model = "claude-haiku-4-5";
        auto request = tiny_request(item_id);
        request.title_hint = "camera of " + item_id;
        c.body = clients::build_identify_body(request, params);
        c.timeout = milliseconds(10'000);
        return c;
    }

    // warm starts the keeper with a request it refuses (for another endpoint): nothing is called,
    // and a request sent next reaches a keeper already listening, however slow its start.
    void warm() {
        auto c = call("warm-up");
        c.url = "http://127.0.0.1:1/v1/messages";
        auto got = run_coro(io, keeper.send(c, key(c)));
        REQUIRE_FALSE(got);
        REQUIRE(got.error().code == "keeper_refused");
    }

    std::string key(const clients::http_call& c) const {
        return clients::call_keeper_key(clients::answer_key(c.body));
    }

    result<clients::kept_response> send(const clients::http_call& c) {
        auto got = run_coro(io, keeper.send(c, key(c)));
        if (!got) {
            UNSCOPED_INFO(got.error().code << ": " << got.error().message);
        }
        return got;
    }

    // keeper_pid reads the pid the keeper logged when it began to listen (0: none yet).
    pid_t keeper_pid() const {
        std::ifstream log(dir.path() / "call-keeper.log");
        std::string line;
        pid_t pid = 0;
        while (std::getline(log, line)) {
            if (line.find("call_keeper_listening") != std::string::npos) {
                auto at = line.find("\"pid\":");
                pid = static_cast<pid_t>(std::stol(line.substr(at + 6)));
            }
        }
        return pid;
    }

    std::size_t journaled() const {
        std::size_t n = 0;
        for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "calls")) {
            n += entry.is_regular_file() ? 1 : 0;
        }
        return n;
    }
};

// Sends `call` and drops the socket after `after`: what the keeper sees of a service killed
// while its call is in flight.
asio::awaitable<bool> send_and_vanish(clients::call_keeper_client& keeper, clients::http_call call,
                                      std::string key, milliseconds after) {
    asio::steady_timer timer(co_await asio::this_coro::executor, after);
    auto raced = co_await (keeper.send(std::move(call), std::move(key)) ||
                           timer.async_wait(asio::use_awaitable));
    co_return raced.index() == 1;  // true: the send was cut off
}

// wait_until polls `done` for up to ten seconds.
template <class F>
bool wait_until(F done) {
    for (int i = 0; i < 1'000; ++i) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(milliseconds(10));
    }
    return done();
}

}  // namespace

TEST_CASE("call keeper: a call whose caller vanished is paid once and answered from the journal",
          "[e2e][call_keeper]") {
    keeper_rig t(milliseconds(600));
    const auto call = t.call();
    t.warm();
    REQUIRE(run_coro(t.io, send_and_vanish(t.keeper, call, t.key(call), milliseconds(150))));
    // The keeper finishes the call on its own and journals the answer.
    REQUIRE(wait_until([&] { return t.fake.paid() == 1 && t.journaled() == 1; }));

    auto again = t.send(call);
    REQUIRE(again);
    CHECK(again->replayed);
    CHECK(again->response.status == 200);
    auto reply = clients::parse_messages_reply(again->response.body);
    REQUIRE(reply);
    CHECK(reply->has_tool_use);
    CHECK(t.fake.received() == 1);

    // Forgotten once the caller keeps the answer: the same call is made again.
    auto forget = [&]() -> asio::awaitable<bool> {
        co_await t.keeper.forget(t.key(call));
        co_return true;
    };
    run_coro(t.io, forget());
    CHECK(t.journaled() == 0);
    auto fresh = t.send(call);
    REQUIRE(fresh);
    CHECK_FALSE(fresh->replayed);
    CHECK(fresh->response.status == 200);
    CHECK(t.fake.received() == 2);
}

TEST_CASE("call keeper: a caller that asks while the call runs joins it", "[e2e][call_keeper]") {
    keeper_rig t(milliseconds(800));
    const auto call = t.call();
    t.warm();
    REQUIRE(run_coro(t.io, send_and_vanish(t.keeper, call, t.key(call), milliseconds(200))));
    REQUIRE(t.fake.received() == 1);
    auto joined = t.send(call);  // asked while the first call is still running
    REQUIRE(joined);
    CHECK(joined->replayed);
    CHECK(joined->response.status == 200);
    CHECK(t.fake.received() == 1);
    CHECK(t.fake.paid() == 1);
}

TEST_CASE("call keeper: many calls at once each get their own answer", "[e2e][call_keeper]") {
    keeper_rig t(milliseconds(100));
    constexpr int calls = 40;
    std::vector<std::optional<result<clients::kept_response>>> got(calls);
    using answers = std::vector<std::optional<result<clients::kept_response>>>;
    // Captureless: each call's frame holds its own arguments.
    auto one = [](keeper_rig& rig, answers& out, int i, int& left,
                  asio::steady_timer& done) -> asio::awaitable<void> {
        const auto id = "item-" + std::to_string(i);
        auto c = rig.call(id);
        auto key = rig.key(c);
        out[static_cast<std::size_t>(i)].emplace(co_await rig.keeper.send(std::move(c), key));
        if (--left == 0) {
            done.cancel();
        }
    };
    auto all = [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        int left = calls;
        asio::steady_timer done(ex, asio::steady_timer::time_point::max());
        for (int i = 0; i < calls; ++i) {
            asio::co_spawn(ex, one(t, got, i, left, done), asio::detached);
        }
        co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return left;
    };
    REQUIRE(run_coro(t.io, all()) == 0);
    for (const auto& g : got) {
        REQUIRE(g);
        INFO((*g ? std::string("ok") : g->error().code + ": " + g->error().message));
        REQUIRE(*g);
        CHECK((*g)->response.status == 200);
        CHECK_FALSE((*g)->replayed);
    }
    CHECK(t.fake.paid() == calls);
    CHECK(t.journaled() == calls);
}

TEST_CASE("call keeper: an error answer is not journaled, so the call is made again",
          "[e2e][call_keeper]") {
    keeper_rig t;
    t.fake.inject(fakes::injected_error::internal());
    const auto call = t.call();
    auto first = t.send(call);
    REQUIRE(first);
    CHECK(first->response.status == 500);
    CHECK(t.journaled() == 0);
    auto second = t.send(call);
    REQUIRE(second);
    CHECK(second->response.status == 200);
    CHECK_FALSE(second->replayed);
    CHECK(t.fake.received() == 2);
}

TEST_CASE("call keeper: it calls only the Messages endpoint its environment names",
          "[e2e][call_keeper]") {
    keeper_rig t;
    auto elsewhere = t.call();
    elsewhere.url = "http://127.0.0.1:1/v1/messages";
    auto refused = t.send(elsewhere);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == "keeper_refused");
    CHECK_FALSE(refused.error().retryable);

    auto call = t.call();
    auto bad_key = run_coro(t.io, t.keeper.send(call, "../../etc/passwd"));
    REQUIRE_FALSE(bad_key);
    CHECK(bad_key.error().code == "keeper_refused");
    CHECK(t.fake.received() == 0);
}

namespace {

struct crash_outcome {
    std::string state;     // the item's job, after the restart
    std::size_t paid = 0;  // calls the fake answered 200
    std::string metrics;   // the restarted service's /metrics
    std::string log;       // both processes' logs, for failures
};

// kill_mid_call submits one item, kills the service with SIGKILL once its vision call has reached
// the fake (whose answers take 1.5 s), restarts it on the same folder and waits for the item.
// With `copy`, a second item with the same photo is submitted at once after the restart, while
// the first waits for its lease (6 s) to end: the copy asks for the answer first.
crash_outcome kill_mid_call(bool keeper, bool copy = false) {
    fakes::fake_anthropic fake;
    fake.set_latency(milliseconds(1'500));
    const std::string photo = "orientation-1-landscape.jpg";
    image::normalize_limits limits;
    limits.max_pixels = 50'000'000;  // the service's default --max-megapixels
    auto normalized = image::process(read_file(data_dir() / "images" / photo), limits);
    REQUIRE(normalized);
    fake.add_fixture(
        normalized->image.sha256, "claude-haiku-4-5",
        {{"title", "Canon AE-1 Program 35mm SLR Film Camera"},
         {"brand", "Canon"},
         {"model", "AE-1 Program"},
         {"category_path", json::array{"Cameras & Photo", "Film Photography", "Film Cameras"}},
         {"condition_guess", "used"},
         {"search_query", "canon ae-1 program 35mm slr"},
         {"price_estimate", {{"amount", 149.0}, {"currency", "USD"}}},
         {"overall_confidence", 0.92}});
    temp_dir dir;
    scoped_env env({{"ANTHROPIC_API_KEY", "test-key"},
                    {"ANTHROPIC_BASE_URL", fake.base_url()},
                    {"BOOMER_CLAUDE_STRONG_MODEL", ""}});
    const std::vector<std::string> args = {
        "--lease-seconds", copy ? "6" : "2",
        "--call-keeper",   keeper ? "true" : "false",
        "--sales-csv",     (source_dir() / "examples/sales/ebay-orders-sample.csv").string()};
    crash_outcome out;
    std::string job;
    {
        service_process first(dir.path(), args);
        api_client api(first.port());
        auto res = api.post_item(
            {{"photo", photo, read_file(data_dir() / "images" / photo), "image/jpeg"}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        job = std::string(parse_object(res->body).at("job_id").as_string());
        REQUIRE(wait_until([&] { return fake.received() >= 1; }));
        first.kill9();
        out.log = first.log_text();
    }
    service_process second(dir.path(), args);
    api_client api(second.port());
    if (copy) {
        auto res = api.post_item(
            {{"photo", photo, read_file(data_dir() / "images" / photo), "image/jpeg"}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        auto copied = api.wait_final(std::string(parse_object(res->body).at("job_id").as_string()));
        CHECK(std::string(copied.at("state").as_string()) == "succeeded");
    }
    auto done = api.wait_final(job);
    out.state = std::string(done.at("state").as_string());
    out.paid = fake.paid();
    out.metrics = api.get("/metrics")->body;
    out.log += second.log_text();
    return out;
}

}  // namespace

TEST_CASE("service: killed with a vision call in flight, it does not pay for that call again",
          "[e2e][call_keeper]") {
    auto crash = kill_mid_call(true);
    INFO(crash.log);
    CHECK(crash.state == "succeeded");
    CHECK(crash.paid == 1);
    CHECK_THAT(crash.metrics, Catch::Contains("boomer_vision_calls_replayed_total{model=\"claude-"
                                              "haiku-4-5\"} 1"));
    // The restarted service took the dead one's claim on the answer at once, rather than wait
    // up to 15 s for it to lapse.
    CHECK_THAT(crash.log, Catch::Contains(
                              "\"event\":\"cache_claim_taken_over\",\"cache\":\"vision_answers\""));
}

TEST_CASE("service: after a crash, an item with the same photos asking first gets the answer paid",
          "[e2e][call_keeper]") {
    // The copy takes the dead process's claim on the answer; the keeper names the call by its
    // request, not its item, so the copy gets the answer the dead process's item paid for.
    auto crash = kill_mid_call(true, true);
    INFO(crash.log);
    CHECK(crash.state == "succeeded");
    CHECK(crash.paid == 1);
}

TEST_CASE("service: without the call keeper, a call in flight at a kill is paid again",
          "[e2e][call_keeper]") {
    // What the keeper is for: the same crash, with calls made directly.
    auto crash = kill_mid_call(false);
    INFO(crash.log);
    CHECK(crash.state == "succeeded");
    CHECK(crash.paid == 2);
    CHECK_THAT(crash.metrics, !Catch::Contains("boomer_vision_calls_replayed_total{"));
}

TEST_CASE("call keeper: when none can be started, calls go directly without waiting each time",
          "[e2e][call_keeper]") {
    fakes::fake_anthropic fake;
    temp_dir dir;
    asio::io_context io;
    clients::call_keeper_client keeper(io.get_executor(),
                                       {.dir = dir.path().string(),
                                        .program = (dir.path() / "no-such-boomer").string(),
                                        .url = fake.base_url() + "/v1/messages",
                                        .start_wait = milliseconds(1'000)});
    clients::http_call call;
    call.url = fake.base_url() + "/v1/messages";
    const auto key = clients::call_keeper_key("{}");
    const auto timed = [&] {
        const auto start = std::chrono::steady_clock::now();
        auto got = run_coro(io, keeper.send(call, key));
        REQUIRE_FALSE(got);
        CHECK(got.error().code == "keeper_unavailable");
        CHECK(got.error().retryable);
        return std::chrono::steady_clock::now() - start;
    };
    CHECK(timed() >= milliseconds(1'000));  // it waited for a keeper to come up
    CHECK(timed() < milliseconds(500));     // then it no longer does
    CHECK(fake.received() == 0);
}

TEST_CASE("service: with no call keeper to be had, its calls go directly", "[e2e][call_keeper]") {
    fakes::fake_anthropic fake;
    temp_dir dir;
    // A file where the keeper's journal folder belongs: the keeper cannot start.
    std::ofstream(dir.path() / "calls") << "not a folder";
    scoped_env env({{"ANTHROPIC_API_KEY", "test-key"},
                    {"ANTHROPIC_BASE_URL", fake.base_url()},
                    {"BOOMER_CLAUDE_STRONG_MODEL", ""}});
    service_process svc(dir.path());
    api_client api(svc.port());
    std::vector<std::string> jobs;
    for (const auto* photo : {"orientation-1-landscape.jpg", "grayscale-jpeg-concert.jpg"}) {
        auto res = api.post_item(
            {{"photo", photo, read_file(data_dir() / "images" / photo), "image/jpeg"}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        jobs.emplace_back(parse_object(res->body).at("job_id").as_string());
    }
    for (const auto& job : jobs) {
        auto done = api.wait_final(job);
        INFO(svc.log_text());
        CHECK(std::string(done.at("state").as_string()) != "failed");
    }
    CHECK(fake.paid() == 2);
    CHECK_THAT(svc.log_text(), Catch::Contains("call_keeper_unavailable"));
}

TEST_CASE("call keeper: a journal entry that is not a 200 answer is not replayed",
          "[e2e][call_keeper]") {
    keeper_rig t;
    const auto call = t.call();
    // What a 529 would look like in the journal, had anything written one: the outcome kind (0:
    // a response), the status, no headers, a body; numbers 4 bytes little-endian, texts
    // length-prefixed.
    std::string entry;
    const auto number = [&entry](std::uint32_t v) {
        for (int i = 0; i < 4; ++i) {
            entry.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
        }
    };
    number(0);
    number(529);
    number(0);
    number(2);
    entry += "{}";
    std::filesystem::create_directories(t.dir.path() / "calls");
    std::ofstream(t.dir.path() / "calls" / t.key(call), std::ios::binary) << entry;

    auto got = t.send(call);
    REQUIRE(got);
    CHECK_FALSE(got->replayed);
    CHECK(got->response.status == 200);
    CHECK(t.fake.received() == 1);
}

TEST_CASE("call keeper: stopped with SIGTERM, it finishes its calls in flight first",
          "[e2e][call_keeper]") {
    keeper_rig t(milliseconds(1'000));
    const auto call = t.call();
    t.warm();
    REQUIRE(run_coro(t.io, send_and_vanish(t.keeper, call, t.key(call), milliseconds(200))));
    const pid_t pid = t.keeper_pid();
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGTERM) == 0);
    // It ends once the call is answered and journaled, not before.
    REQUIRE(wait_until([&] { return ::kill(pid, 0) != 0; }));
    CHECK(t.fake.paid() == 1);
    CHECK(t.journaled() == 1);
    // The next keeper has the answer.
    auto again = t.send(call);
    REQUIRE(again);
    CHECK(again->replayed);
    CHECK(t.fake.received() == 1);
}

TEST_CASE("call keeper: a keeper killed during a call is lost, not bypassed",
          "[e2e][call_keeper]") {
    keeper_rig t(milliseconds(1'500));
    const auto call = t.call();
    auto kill_soon = [&t]() -> asio::awaitable<bool> {
        asio::steady_timer wait(co_await asio::this_coro::executor, milliseconds(300));
        co_await wait.async_wait(asio::use_awaitable);
        co_return ::kill(t.keeper_pid(), SIGKILL) == 0;
    };
    auto both = [&]() -> asio::awaitable<result<clients::kept_response>> {
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, kill_soon(), asio::detached);
        co_return co_await t.keeper.send(call, t.key(call));
    };
    auto got = run_coro(t.io, both());
    REQUIRE_FALSE(got);
    // The call reached Claude through the keeper: making it again at once would pay twice.
    CHECK(got.error().code == "keeper_lost");
    CHECK(got.error().retryable);
    CHECK(t.fake.received() == 1);
}

TEST_CASE("call keeper: a socket of another user is not trusted with a call",
          "[e2e][call_keeper]") {
    if (::geteuid() != 0) {
        WARN("not run: acting as another user needs root");
        return;
    }
    keeper_rig t;
    const auto name =
        clients::call_keeper_socket_name(t.dir.path().string(), t.fake.base_url() + "/v1/messages");
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t squatter = ::fork();
    if (squatter == 0) {
        // nobody, listening where the keeper would.
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
            ::_exit(1);
        }
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, name.data(), name.size());
        const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd, 8) != 0) {
            ::_exit(2);
        }
        (void)!::write(ready[1], "r", 1);
        ::pause();
        ::_exit(0);
    }
    char signal = 0;
    REQUIRE(::read(ready[0], &signal, 1) == 1);
    const auto call = t.call();
    auto got = t.send(call);
    ::kill(squatter, SIGKILL);
    ::waitpid(squatter, nullptr, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == "keeper_unavailable");
    CHECK(t.fake.received() == 0);
}

TEST_CASE("call keeper: a request whose asker has gone before it was read is not made",
          "[e2e][call_keeper]") {
    keeper_rig t;
    const auto first = t.call("item-0");
    auto warm = run_coro(t.io, t.keeper.send(first, t.key(first)));  // the keeper is up
    REQUIRE(warm);
    const pid_t pid = t.keeper_pid();
    REQUIRE(pid > 0);
    // Stalled, the keeper cannot read; the kernel still takes the connection and the request.
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    const auto call = t.call();
    const bool cut =
        run_coro(t.io, send_and_vanish(t.keeper, call, t.key(call), milliseconds(200)));
    REQUIRE(::kill(pid, SIGCONT) == 0);
    REQUIRE(cut);
    std::this_thread::sleep_for(milliseconds(500));
    CHECK(t.fake.received() == 1);  // the first call only: nobody was waiting for the second
    auto asked_again = t.send(call);
    REQUIRE(asked_again);
    CHECK_FALSE(asked_again->replayed);
    CHECK(t.fake.received() == 2);
}

TEST_CASE(
    "call keeper: a keeper that stops answering is skipped, and does not call for askers gone",
    "[e2e][call_keeper]") {
    keeper_rig t;
    clients::call_keeper_client impatient(t.io.get_executor(),
                                          {.dir = t.dir.path().string(),
                                           .program = boomer_binary().string(),
                                           .url = t.fake.base_url() + "/v1/messages",
                                           .reply_slack = milliseconds(200)});
    auto first = t.call("item-0");
    first.timeout = milliseconds(300);
    REQUIRE(run_coro(t.io, impatient.send(first, t.key(first))));
    const pid_t pid = t.keeper_pid();
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    auto call = t.call();
    call.timeout = milliseconds(300);
    auto stuck = run_coro(t.io, impatient.send(call, t.key(call)));
    auto again = run_coro(t.io, impatient.send(call, t.key(call)));
    auto other = t.call("item-2");
    other.timeout = milliseconds(300);
    auto skipped = run_coro(t.io, impatient.send(other, t.key(other)));
    REQUIRE(::kill(pid, SIGCONT) == 0);
    REQUIRE_FALSE(stuck);
    CHECK(stuck.error().code == "keeper_lost");  // the request went: not to be made elsewhere now
    // Asked again while the keeper is skipped: still lost, not handed back to be made directly
    // (the stopped keeper may yet make it).
    REQUIRE_FALSE(again);
    CHECK(again.error().code == "keeper_lost");
    REQUIRE_FALSE(skipped);
    CHECK(skipped.error().code == "keeper_unavailable");  // nothing sent: the caller may call
    std::this_thread::sleep_for(milliseconds(500));
    CHECK(t.fake.received() == 1);  // resumed, the keeper made no call for the asker gone
}

TEST_CASE("call keeper: after a failed start, a keeper that listens again is used at once",
          "[e2e][call_keeper]") {
    keeper_rig t;
    clients::call_keeper_client unstartable(t.io.get_executor(),
                                            {.dir = t.dir.path().string(),
                                             .program = (t.dir.path() / "no-such-boomer").string(),
                                             .url = t.fake.base_url() + "/v1/messages",
                                             .start_wait = milliseconds(300)});
    auto first = t.call("item-0");
    auto none = run_coro(t.io, unstartable.send(first, t.key(first)));
    REQUIRE_FALSE(none);
    CHECK(none.error().code == "keeper_unavailable");
    // Another service sharing the folder starts a keeper.
    REQUIRE(t.send(t.call()));
    auto second = t.call("item-2");
    auto through = run_coro(t.io, unstartable.send(second, t.key(second)));
    REQUIRE(through);
    CHECK(through->response.status == 200);
    CHECK_FALSE(through->replayed);
    CHECK(t.journaled() == 2);  // both answers went through the keeper
    CHECK(t.fake.received() == 2);
}

namespace {

// A raw connection to the keeper of `t`'s folder, whose replies wait at most ten seconds; -1
// when none listens.
int raw_connection(const keeper_rig& t) {
    const auto name =
        clients::call_keeper_socket_name(t.dir.path().string(), t.fake.base_url() + "/v1/messages");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), size) != 0) {
        ::close(fd);
        return -1;
    }
    timeval wait{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    return fd;
}

// announce writes a frame's 4-byte length and the first `sent` bytes of its payload.
void announce(int fd, std::uint32_t length, std::size_t sent) {
    std::string bytes{static_cast<char>(length & 0xff), static_cast<char>((length >> 8) & 0xff),
                      static_cast<char>((length >> 16) & 0xff),
                      static_cast<char>((length >> 24) & 0xff)};
    bytes.append(sent, 'x');
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

// closed_by_keeper says whether the keeper ended the connection without a reply (within the
// ten seconds a read waits): an end of stream, or a reset when it left bytes sent unread.
bool closed_by_keeper(int fd) {
    char byte = 0;
    const auto got = ::recv(fd, &byte, 1, 0);
    const int error = errno;
    ::close(fd);
    UNSCOPED_INFO("recv: " << got << ", " << std::strerror(error));
    return got == 0 || (got < 0 && error == ECONNRESET);
}

}  // namespace

TEST_CASE("call keeper: a request announced larger than any call is dropped at once",
          "[e2e][call_keeper]") {
    keeper_rig t;
    REQUIRE(t.send(t.call("item-0")));  // a keeper listens
    const int fd = raw_connection(t);
    REQUIRE(fd >= 0);
    announce(fd, 64u << 20, 16);  // 64 MB: more than the API takes
    CHECK(closed_by_keeper(fd));  // not held open for the request to come (30 s)
    auto after = t.send(t.call());
    REQUIRE(after);
    CHECK(after->response.status == 200);
}

TEST_CASE("call keeper: a client that does not send its whole request in time is dropped",
          "[e2e][call_keeper]") {
    keeper_rig t;
    const auto command = boomer_binary().string() + " call-keeper --dir '" + t.dir.path().string() +
                         "' --url '" + t.fake.base_url() +
                         "/v1/messages' --read-limit-ms 300 --detach >> '" +
                         (t.dir.path() / "call-keeper.log").string() + "' 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    int fd = -1;
    REQUIRE(wait_until([&] {
        fd = raw_connection(t);
        return fd >= 0;
    }));
    announce(fd, 1'000, 10);  // a tenth of it, and then nothing
    const int silent = raw_connection(t);
    REQUIRE(silent >= 0);
    CHECK(closed_by_keeper(fd));
    CHECK(closed_by_keeper(silent));
    auto after = t.send(t.call());  // through the same keeper, which still serves
    REQUIRE(after);
    CHECK(after->response.status == 200);
    CHECK(t.fake.received() == 1);
}

TEST_CASE("call keeper: out of descriptors, it waits for some instead of spinning",
          "[e2e][call_keeper]") {
    keeper_rig t;
    // A keeper allowed 24 descriptors, and more clients than that waiting to be taken in.
    const auto command = "ulimit -n 24 && " + boomer_binary().string() + " call-keeper --dir '" +
                         t.dir.path().string() + "' --url '" + t.fake.base_url() +
                         "/v1/messages' --detach >> '" +
                         (t.dir.path() / "call-keeper.log").string() + "' 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    REQUIRE(wait_until([&] { return t.keeper_pid() > 0; }));
    const pid_t pid = t.keeper_pid();
    std::vector<int> idle;
    for (int i = 0; i < 40; ++i) {
        const int fd = raw_connection(t);
        REQUIRE(fd >= 0);
        idle.push_back(fd);
    }
    // Its CPU time (user and system ticks) over a second: a loop retrying accept would use it
    // all.
    const auto cpu_ticks = [pid] {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string field;
        long ticks = 0;
        for (int i = 3; i <= 15 && fields >> field; ++i) {
            if (i == 14 || i == 15) {
                ticks += std::stol(field);
            }
        }
        return ticks;
    };
    std::this_thread::sleep_for(milliseconds(300));
    const long before = cpu_ticks();
    std::this_thread::sleep_for(milliseconds(1'000));
    const long used = cpu_ticks() - before;
    CHECK(used < ::sysconf(_SC_CLK_TCK) / 4);  // under a quarter of a core
    for (const int fd : idle) {
        ::close(fd);
    }
    auto after = t.send(t.call());  // the same keeper takes calls again
    REQUIRE(after);
    CHECK(after->response.status == 200);
    CHECK(t.keeper_pid() == pid);
}

TEST_CASE("call keeper: a log grown past 1 MB is set aside when a keeper starts",
          "[e2e][call_keeper]") {
    keeper_rig t;
    const auto log = t.dir.path() / "call-keeper.log";
    const std::string old_line = "{\"event\":\"an old line\"}\n";
    {
        std::ofstream grown(log);
        for (std::size_t written = 0; written <= (1u << 20); written += old_line.size()) {
            grown << old_line;
        }
    }
    const auto grown_size = std::filesystem::file_size(log);
    REQUIRE(t.send(t.call()));
    CHECK(t.keeper_pid() > 0);  // it logged to the new file
    CHECK(std::filesystem::file_size(log) < 10'000);
    CHECK(std::filesystem::file_size(t.dir.path() / "call-keeper.log.1") == grown_size);

    // A small log is kept as it is by the next keeper.
    REQUIRE(::kill(t.keeper_pid(), SIGTERM) == 0);
    REQUIRE(wait_until([&] {  // it no longer listens
        const int fd = raw_connection(t);
        if (fd >= 0) {
            ::close(fd);
        }
        return fd < 0;
    }));
    const auto small_size = std::filesystem::file_size(log);
    // (A client starts a keeper at most once a second: another service's starts the next.)
    clients::call_keeper_client other(t.io.get_executor(),
                                      {.dir = t.dir.path().string(),
                                       .program = boomer_binary().string(),
                                       .url = t.fake.base_url() + "/v1/messages"});
    const auto next = t.call("item-2");
    REQUIRE(run_coro(t.io, other.send(next, t.key(next))));
    CHECK(std::filesystem::file_size(log) > small_size);
    CHECK(std::filesystem::file_size(t.dir.path() / "call-keeper.log.1") == grown_size);
}
