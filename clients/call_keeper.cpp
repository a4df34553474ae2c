#include "clients/call_keeper.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <variant>
#include <vector>

#include "core/hash.hpp"
#include "core/log.hpp"

extern char** environ;

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace asio::experimental::awaitable_operators;

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);
// Above any Messages request (32 MB is the API's own limit) and its envelope.
constexpr std::uint32_t max_frame_bytes = 48u << 20;
// Journal entries nobody asked for again within a day are removed.
constexpr auto journal_max_age = std::chrono::hours(24);
// The keeper's log grows by a line or two per start and replay: past this, a starting keeper
// sets it aside (one earlier log is kept).
constexpr off_t max_log_bytes = 1 << 20;

failure keeper_failure(std::string code, std::string message, bool retryable) {
    return failure{std::move(code), std::move(message), retryable};
}

// --- The wire: frames of a 4-byte little-endian length and a payload of fields, each a 4-byte
// --- number or a length-prefixed string.

void put_number(std::string& out, std::uint32_t v) {
    const std::array<char, 4> bytes{static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                                    static_cast<char>((v >> 16) & 0xff),
                                    static_cast<char>((v >> 24) & 0xff)};
    out.append(bytes.data(), bytes.size());
}

void put_text(std::string& out, std::string_view text) {
    put_number(out, static_cast<std::uint32_t>(text.size()));
    out.append(text);
}

// Reads fields in order; any short read spoils the whole.
class field_reader {
public:
    explicit field_reader(std::string_view bytes) : rest_(bytes) {}

    std::uint32_t number() {
        if (rest_.size() < 4) {
            ok_ = false;
            return 0;
        }
        std::uint32_t v = 0;
        for (int i = 3; i >= 0; --i) {
            v = (v << 8) | static_cast<unsigned char>(rest_[static_cast<std::size_t>(i)]);
        }
        rest_.remove_prefix(4);
        return v;
    }

    std::string text() {
        const auto size = number();
        if (!ok_ || rest_.size() < size) {
            ok_ = false;
            return {};
        }
        std::string out(rest_.substr(0, size));
        rest_.remove_prefix(size);
        return out;
    }

    // done says whether every field was there and nothing follows them.
    bool done() const { return ok_ && rest_.empty(); }

private:
    std::string_view rest_;
    bool ok_ = true;
};

void put_headers(std::string& out, const header_list& headers) {
    put_number(out, static_cast<std::uint32_t>(headers.size()));
    for (const auto& [name, value] : headers) {
        put_text(out, name);
        put_text(out, value);
    }
}

header_list read_headers(field_reader& in) {
    header_list out;
    const auto count = in.number();
    for (std::uint32_t i = 0; i < count && i < 1'000; ++i) {
        auto name = in.text();
        auto value = in.text();
        out.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

struct call_request {
    std::string key;
    http_call call;
};

std::string encode_request(const http_call& call, std::string_view key) {
    std::string out;
    put_text(out, key);
    put_text(out, call.method);
    put_text(out, call.url);
    put_number(out, static_cast<std::uint32_t>(std::clamp<std::int64_t>(
                        call.timeout.count(), 1, std::numeric_limits<std::uint32_t>::max())));
    put_headers(out, call.headers);
    put_text(out, call.shared_body ? std::string_view(*call.shared_body) : call.body);
    return out;
}

std::optional<call_request> decode_request(std::string_view bytes) {
    field_reader in(bytes);
    call_request out;
    out.key = in.text();
    out.call.method = in.text();
    out.call.url = in.text();
    out.call.timeout = milliseconds(in.number());
    out.call.headers = read_headers(in);
    out.call.body = in.text();
    if (!in.done()) {
        return std::nullopt;
    }
    return out;
}

// An outcome, as journaled and as sent (after a 4-byte "replayed" flag): 0 and an HTTP
// response, or 1 and a failure.
std::string encode_response(const http_response& r) {
    std::string out;
    put_number(out, 0);
    put_number(out, r.status);
    put_headers(out, r.headers);
    put_text(out, r.body);
    return out;
}

std::string encode_failure(const failure& f) {
    std::string out;
    put_number(out, 1);
    put_text(out, f.code);
    put_text(out, f.message);
    put_number(out, f.retryable ? 1 : 0);
    return out;
}

std::optional<result<http_response>> decode_outcome(std::string_view bytes) {
    field_reader in(bytes);
    const auto kind = in.number();
    if (kind == 0) {
        http_response r;
        r.status = in.number();
        r.headers = read_headers(in);
        r.body = in.text();
        if (!in.done()) {
            return std::nullopt;
        }
        return result<http_response>(std::move(r));
    }
    auto code = in.text();
    auto message = in.text();
    const bool retryable = in.number() != 0;
    if (kind != 1 || !in.done()) {
        return std::nullopt;
    }
    return result<http_response>(
        make_unexpected(keeper_failure(std::move(code), std::move(message), retryable)));
}

asio::awaitable<void> write_frame(local::socket& socket, std::string payload) {
    std::string length;
    put_number(length, static_cast<std::uint32_t>(payload.size()));
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(length), asio::buffer(payload)};
    co_await asio::async_write(socket, buffers, asio::use_awaitable);
}

// read_frame returns the next payload; nothing when the peer closed or sent an oversized length.
asio::awaitable<std::optional<std::string>> read_frame(local::socket& socket) {
    std::array<char, 4> length{};
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(length), as_result);
    if (ec) {
        co_return std::nullopt;
    }
    field_reader in(std::string_view(length.data(), length.size()));
    const auto size = in.number();
    if (size > max_frame_bytes) {
        co_return std::nullopt;
    }
    std::string payload(size, '\0');
    auto [ec2, m] = co_await asio::async_read(socket, asio::buffer(payload), as_result);
    if (ec2) {
        co_return std::nullopt;
    }
    co_return payload;
}

// peer_uid returns the user of the process at the other end of a connected local socket.
std::optional<uid_t> peer_uid(local::socket& socket) {
    ucred peer{};
    socklen_t size = sizeof(peer);
    if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
        return std::nullopt;
    }
    return peer.uid;
}

std::string canonical_dir(const std::string& dir) {
    std::error_code ec;
    auto path = fs::weakly_canonical(fs::absolute(dir), ec);
    return ec ? fs::absolute(dir).lexically_normal().string() : path.string();
}

bool valid_key(std::string_view key) {
    return key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::optional<std::string> read_whole(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
        return std::nullopt;
    }
    return text;
}

// The Messages endpoint the keeper calls: ANTHROPIC_BASE_URL's, as claude_vision builds it.
std::string messages_url_from_env() {
    const char* base = std::getenv("ANTHROPIC_BASE_URL");
    std::string url = base != nullptr && *base != '\0' ? base : "https://api.anthropic.com";
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url + "/v1/messages";
}

// run_elsewhere runs `work` on `pool` and resumes the awaiting coroutine on its own executor.
template <typename F>
auto run_elsewhere(asio::thread_pool& pool, F work) -> asio::awaitable<decltype(work())> {
    auto task = [work = std::move(work)]() mutable -> asio::awaitable<decltype(work())> {
        co_return work();
    };
    co_return co_await asio::co_spawn(pool, task(), asio::use_awaitable);
}

}  // namespace

std::string call_keeper_socket_name(const std::string& dir, const std::string& url) {
    std::string name(1, '\0');
    name += "boomer-call-keeper/" + sha256_hex(canonical_dir(dir) + "\n" + url).substr(0, 40);
    return name;
}

namespace {

local::endpoint keeper_endpoint(const std::string& dir, const std::string& url) {
    return local::endpoint(call_keeper_socket_name(dir, url));
}

}  // namespace

std::string call_keeper_key(std::string_view body_key) {
    return sha256_hex(body_key);
}

// --- The service's side.

struct call_keeper_client::impl {
    impl(asio::any_io_executor ex, call_keeper_options o)
        : executor(std::move(ex)),
          options(std::move(o)),
          dir(canonical_dir(options.dir)),
          endpoint(keeper_endpoint(dir, options.url)) {}
    ~impl() { files.join(); }

    asio::any_io_executor executor;
    call_keeper_options options;
    std::string dir;
    local::endpoint endpoint;
    asio::thread_pool files{1};  // journal removals and keeper starts: never on an I/O thread
    std::mutex start_mutex;
    steady::time_point last_start{};  // guarded by start_mutex
    // After a keeper failed to start, calls do not start one again until then: they use a
    // keeper that listens (one another service started, say) and otherwise go directly.
    std::atomic<steady::rep> no_start_until{0};
    // After a keeper stopped answering or was an impostor, calls do not even connect until then.
    std::atomic<steady::rep> skip_until{0};
    // Calls whose request reached a keeper that then gave no reply, by key, with when: that
    // keeper may still make them (a stopped one resumed), so for lost_hold they go through a
    // keeper or not at all, never directly.
    std::mutex lost_mutex;
    std::map<std::string, steady::time_point> lost;  // guarded by lost_mutex
    static constexpr auto lost_hold = std::chrono::minutes(5);

    void note_lost(const std::string& key) {
        std::lock_guard lock(lost_mutex);
        lost[key] = steady::now();
    }

    // held_back says whether the call `key` was lost in a keeper within lost_hold; forgets
    // older losses.
    bool held_back(const std::string& key) {
        std::lock_guard lock(lost_mutex);
        const auto now = steady::now();
        std::erase_if(lost, [now](const auto& entry) { return now - entry.second > lost_hold; });
        return lost.contains(key);
    }

    void found(const std::string& key) {
        std::lock_guard lock(lost_mutex);
        lost.erase(key);
    }

    // start_keeper runs `program call-keeper --dir DIR --detach` at most once a second and
    // waits for it to fork its keeper off (that first process ends at once, and is reaped here).
    void start_keeper() {
        {
            std::lock_guard lock(start_mutex);
            const auto now = steady::now();
            if (last_start != steady::time_point{} && now - last_start < std::chrono::seconds(1)) {
                return;
            }
            last_start = now;
        }
        std::vector<std::string> args{options.program, "call-keeper", "--dir",   dir,
                                      "--url",         options.url,   "--detach"};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        // A log of its own: the service's output may be a pipe whose reader goes away with the
        // service (the keeper would die of the broken pipe), or waits for its end.
        const auto log_path = (fs::path(dir) / "call-keeper.log").string();
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                         O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        pid_t pid = -1;
        const int error =
            posix_spawn(&pid, options.program.c_str(), &actions, &attributes, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
        if (error != 0) {
            log::event(spdlog::level::warn, "call_keeper_start_failed",
                       {{"program", options.program}, {"error", std::strerror(error)}});
            return;
        }
        int status = 0;
        waitpid(pid, &status, 0);  // the keeper forked off: it is started, not yet listening
    }

    // connect reaches the keeper, starting one when none listens. False: none answered in time,
    // or the socket is another user's (who would be handed the API key and the photos).
    asio::awaitable<bool> connect(local::socket& socket) {
        const auto now = steady::now().time_since_epoch().count();
        if (now < skip_until.load()) {
            co_return false;  // a keeper was stuck lately: not waited for again so soon
        }
        auto [ec] = co_await socket.async_connect(endpoint, as_result);
        if (!ec) {
            co_return ours(socket);
        }
        if (now < no_start_until.load()) {
            co_return false;  // none listens, and starting one failed lately: not tried again yet
        }
        auto starting = run_elsewhere(files, [this] {
            start_keeper();
            return true;
        });
        co_await std::move(starting);
        const auto give_up = steady::now() + options.start_wait;
        asio::steady_timer pause(socket.get_executor());
        while (steady::now() < give_up) {
            boost::system::error_code ignored;
            socket.close(ignored);
            auto [again] = co_await socket.async_connect(endpoint, as_result);
            if (!again) {
                log::event(spdlog::level::info, "call_keeper_started", {{"dir", dir}});
                co_return ours(socket);
            }
            pause.expires_after(milliseconds(20));
            co_await pause.async_wait(as_result);
        }
        go_direct(no_start_until, "no keeper started listening (see its log, " +
                                      (fs::path(dir) / "call-keeper.log").string() + ")");
        co_return false;
    }

    // go_direct sets `until` (no_start_until or skip_until) to half a minute from now. A call
    // finding no keeper connects and fails within microseconds; starting one waits start_wait.
    void go_direct(std::atomic<steady::rep>& until, const std::string& why) {
        const auto now = steady::now();
        const auto end = now + std::chrono::seconds(30);
        if (until.exchange(end.time_since_epoch().count()) < now.time_since_epoch().count()) {
            log::event(spdlog::level::warn, "call_keeper_unavailable",
                       {{"dir", dir}, {"why", why}, {"calls_go_directly_for_s", 30}});
        }
    }

    // ours says whether the keeper's socket belongs to this user; if not, it is closed.
    bool ours(local::socket& socket) {
        const auto uid = peer_uid(socket);
        if (uid && *uid == geteuid()) {
            return true;
        }
        boost::system::error_code ignored;
        socket.close(ignored);
        log::event(spdlog::level::err, "call_keeper_impostor",
                   {{"dir", dir}, {"uid", uid ? static_cast<std::int64_t>(*uid) : -1}});
        go_direct(skip_until, "the keeper's socket belongs to another user");
        return false;
    }
};

call_keeper_client::call_keeper_client(asio::any_io_executor executor, call_keeper_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {}

call_keeper_client::~call_keeper_client() = default;

asio::awaitable<result<kept_response>> call_keeper_client::send(http_call call, std::string key) {
    auto self = impl_;
    auto executor = co_await asio::this_coro::executor;
    local::socket socket(executor);
    auto connecting = self->connect(socket);
    if (!co_await std::move(connecting)) {
        if (self->held_back(key)) {
            co_return make_unexpected(keeper_failure(
                "keeper_lost",
                "this call was lost in a call keeper that stopped answering and may still make "
                "it: it goes through a keeper again, not directly",
                true));
        }
        co_return make_unexpected(
            keeper_failure("keeper_unavailable", "no call keeper answered for " + self->dir, true));
    }
    auto request = encode_request(call, key);
    auto exchange = [&socket, &request]() -> asio::awaitable<std::optional<std::string>> {
        co_await write_frame(socket, std::move(request));
        co_return co_await read_frame(socket);
    };
    // From here on the keeper may have made the call: failures are keeper_lost, never a reason
    // to make the call elsewhere at once. The keeper ends the call at its own timeout; this one
    // only guards against a keeper that stopped answering.
    asio::steady_timer guard(executor, call.timeout + self->options.reply_slack);
    std::variant<std::optional<std::string>, std::tuple<boost::system::error_code>> outcome;
    try {
        outcome = co_await (exchange() || guard.async_wait(as_result));
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
            throw;  // the awaiting coroutine was canceled
        }
        self->note_lost(key);
        co_return make_unexpected(keeper_failure(
            "keeper_lost", std::string("the call keeper's socket broke: ") + e.what(), true));
    }
    if (outcome.index() != 0) {
        // A keeper that takes longer than the call may (it ends calls at their timeout) is
        // stuck: calls skip it for a while rather than wait on it one after another.
        self->go_direct(self->skip_until, "the keeper did not answer within the call's timeout");
    }
    if (outcome.index() != 0 || !std::get<0>(outcome)) {
        self->note_lost(key);
        co_return make_unexpected(
            keeper_failure("keeper_lost", "the call keeper sent no reply", true));
    }
    const std::string& payload = *std::get<0>(outcome);
    field_reader flag(std::string_view(payload).substr(0, 4));
    const bool replayed = flag.number() == 1;
    auto decoded =
        payload.size() >= 4 ? decode_outcome(std::string_view(payload).substr(4)) : std::nullopt;
    if (!decoded) {
        self->note_lost(key);
        co_return make_unexpected(
            keeper_failure("keeper_lost", "the call keeper sent a damaged reply", true));
    }
    self->found(key);
    if (!*decoded) {
        co_return make_unexpected(std::move(decoded->error()));
    }
    co_return kept_response{std::move(**decoded), replayed};
}

asio::awaitable<void> call_keeper_client::forget(std::string key) {
    if (!valid_key(key)) {
        co_return;
    }
    auto self = impl_;
    auto removing = run_elsewhere(self->files, [self, key = std::move(key)] {
        std::error_code ignored;
        fs::remove(fs::path(self->dir) / "calls" / key, ignored);
        return true;
    });
    co_await std::move(removing);
}

// --- The keeper process.

namespace {

class keeper_server {
public:
    keeper_server(asio::io_context& io, fs::path dir, std::string url,
                  const call_keeper_timings& timings)
        : io_(io),
          dir_(std::move(dir)),
          calls_(dir_ / "calls"),
          url_(std::move(url)),
          idle_exit_(timings.idle_exit),
          read_limit_(timings.read_limit),
          http_(io.get_executor()) {}
    ~keeper_server() { files_.join(); }

    asio::awaitable<void> accept(local::acceptor& acceptor) {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(as_result);
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                    co_return;
                }
                // Out of descriptors, most likely: let calls finish before accepting again.
                asio::steady_timer pause(io_, milliseconds(100));
                co_await pause.async_wait(as_result);
                continue;
            }
            if (!same_user(socket)) {
                continue;  // closed as it goes out of scope
            }
            asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
        }
    }

    // watch stops the keeper once it has been idle for idle_exit, or its directory is gone, and
    // sweeps old journal entries now and then.
    asio::awaitable<void> watch(local::acceptor& acceptor) {
        asio::steady_timer tick(io_);
        auto last_sweep = steady::now();
        for (;;) {
            tick.expires_after(std::min(milliseconds(500), idle_exit_));
            co_await tick.async_wait(as_result);
            if (clients_ > 0 || !flights_.empty()) {
                last_busy_ = steady::now();
            }
            std::error_code ec;
            const bool dir_gone = !fs::exists(calls_, ec);
            // Calls in flight are finished whatever happens: each is paid already.
            const bool idle = clients_ == 0 && steady::now() - last_busy_ >= idle_exit_;
            if (flights_.empty() && (dir_gone || stopping_ || idle)) {
                log::event(spdlog::level::info, "call_keeper_exit",
                           {{"dir", dir_.string()},
                            {"why", dir_gone    ? "dir_removed"
                                    : stopping_ ? "signal"
                                                : "idle"}});
                boost::system::error_code ignored;
                acceptor.close(ignored);
                io_.stop();
                co_return;
            }
            if (steady::now() - last_sweep > std::chrono::hours(1)) {
                last_sweep = steady::now();
                auto sweeping = run_elsewhere(files_, [this] {
                    sweep(calls_);
                    return true;
                });
                co_await std::move(sweeping);
            }
        }
    }

    // stop ends the keeper once its calls in flight are done (SIGTERM: a stop of the whole
    // service, whose restart asks for those answers). New clients are refused meanwhile.
    void stop(local::acceptor& acceptor) {
        stopping_ = true;
        boost::system::error_code ignored;
        acceptor.close(ignored);
    }

    // sweep removes day-old journal entries, and files left half written (a minute old: keepers
    // of other containers may share the folder, each with its own socket). Blocking.
    static void sweep(const fs::path& calls) {
        std::error_code ec;
        const auto now = fs::file_time_type::clock::now();
        for (auto it = fs::directory_iterator(calls, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::error_code ignored;
            const auto name = it->path().filename().string();
            const auto written = it->last_write_time(ignored);
            const auto age = ignored ? fs::file_time_type::duration::zero() : now - written;
            if (age > journal_max_age || (!valid_key(name) && age > std::chrono::minutes(1))) {
                fs::remove(it->path(), ignored);
            }
        }
    }

private:
    struct flight {
        explicit flight(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
        std::optional<std::string> outcome;
        asio::steady_timer done;  // canceled when the outcome is set
    };

    // peer_gone says whether the client has closed its end (it sends one request, then only
    // waits for the reply).
    static bool peer_gone(local::socket& socket) {
        char byte = 0;
        return ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    }

    static bool same_user(local::socket& socket) {
        const auto uid = peer_uid(socket);
        return uid && *uid == geteuid();
    }

    // journaled_answer says whether a journal entry holds a 200 answer: only those are written,
    // and anything else found there (a damaged or foreign file) is not replayed.
    static bool journaled_answer(std::string_view entry) {
        auto outcome = decode_outcome(entry);
        return outcome && *outcome && (*outcome)->status == 200;
    }

    static std::string reply(bool replayed, std::string_view outcome) {
        std::string out;
        put_number(out, replayed ? 1 : 0);
        out.append(outcome);
        return out;
    }

    asio::awaitable<void> serve(local::socket socket) {
        ++clients_;
        struct leave {
            keeper_server& s;
            ~leave() {
                --s.clients_;
                s.last_busy_ = steady::now();
            }
        } on_leave{*this};
        asio::steady_timer limit(io_, read_limit_);
        auto reading = read_frame(socket);
        auto raced = co_await (std::move(reading) || limit.async_wait(as_result));
        if (raced.index() != 0 || !std::get<0>(raced)) {
            co_return;  // closed, oversized, or too slow to ask
        }
        auto& frame = std::get<0>(raced);
        auto request = decode_request(*frame);
        frame.reset();  // the call holds its own copy of the body for as long as it runs
        if (!request || !valid_key(request->key) || request->call.url != url_) {
            const auto why = !request ? "the request is damaged"
                             : !valid_key(request->key)
                                 ? "the call's key is not 64 lowercase hex characters"
                                 : "the keeper calls only " + url_;
            auto refusing = write_frame(
                socket, reply(false, encode_failure(keeper_failure("keeper_refused", why, false))));
            co_await std::move(refusing);
            co_return;
        }
        const auto path = calls_ / request->key;
        auto looking = run_elsewhere(files_, [path] { return read_whole(path); });
        auto journaled = co_await std::move(looking);
        if (journaled && journaled_answer(*journaled)) {
            log::event(spdlog::level::info, "call_keeper_replayed", {{"key", request->key}});
            auto answering = write_frame(socket, reply(true, *journaled));
            co_await answering_done(std::move(answering));
            co_return;
        }
        auto mine = flights_[request->key];
        const bool joined = mine != nullptr;
        if (!joined && peer_gone(socket)) {
            // Asked by a client that has closed already (a service killed as it asked, or one
            // that gave up on a keeper slow to read): nothing is paid yet, so nothing is made;
            // whoever asks again gets the call made then.
            flights_.erase(request->key);
            co_return;
        }
        if (!joined) {
            mine = std::make_shared<flight>(io_);
            flights_[request->key] = mine;
            asio::co_spawn(io_, run_call(request->key, std::move(request->call), mine),
                           asio::detached);
        }
        if (!mine->outcome) {
            co_await mine->done.async_wait(as_result);
        }
        auto answering = write_frame(socket, reply(joined, *mine->outcome));
        co_await answering_done(std::move(answering));
    }

    // answering_done awaits a reply's write; a client gone meanwhile is no error of the keeper's.
    static asio::awaitable<void> answering_done(asio::awaitable<void> write) {
        try {
            co_await std::move(write);
        } catch (const boost::system::system_error&) {
        }
    }

    // run_call makes one call and journals a 200 answer before anyone is told of it.
    asio::awaitable<void> run_call(std::string key, http_call call, std::shared_ptr<flight> f) {
        std::string outcome;
        try {
            auto sending = http_.send(std::move(call));
            auto res = co_await std::move(sending);
            if (res) {
                outcome = encode_response(*res);
                if (res->status == 200) {
                    auto writing = run_elsewhere(
                        files_, [this, &key, &outcome] { return journal(calls_ / key, outcome); });
                    if (!co_await std::move(writing)) {
                        log::event(spdlog::level::err, "call_keeper_journal_failed",
                                   {{"key", key}, {"dir", calls_.string()}});
                    }
                }
            } else {
                outcome = encode_failure(res.error());
            }
        } catch (const std::exception& e) {
            outcome = encode_failure(
                keeper_failure("connection_failed",
                               std::string("the call keeper's call failed: ") + e.what(), true));
        }
        f->outcome = std::move(outcome);
        f->done.cancel();
        flights_.erase(key);
        last_busy_ = steady::now();
    }

    // journal writes `outcome` under `path`, renamed into place. Blocking.
    static bool journal(const fs::path& path, const std::string& outcome) {
        auto partial = path;
        partial += ".partial";
        {
            std::ofstream out(partial, std::ios::binary | std::ios::trunc);
            out.write(outcome.data(), static_cast<std::streamsize>(outcome.size()));
            out.flush();
            if (!out) {
                return false;
            }
        }
        std::error_code ec;
        fs::rename(partial, path, ec);
        return !ec;
    }

    asio::io_context& io_;
    fs::path dir_;
    fs::path calls_;
    std::string url_;
    milliseconds idle_exit_;
    milliseconds read_limit_;  // for a whole request to arrive
    https_client http_;
    asio::thread_pool files_{1};
    std::map<std::string, std::shared_ptr<flight>> flights_;
    int clients_ = 0;
    bool stopping_ = false;
    steady::time_point last_busy_ = steady::now();
};

}  // namespace

namespace {

// rotate_log renames DIR/call-keeper.log to call-keeper.log.1 (replacing it) and opens a new
// one as stdout and stderr when it is what they write to and has grown past max_log_bytes.
// Called by the one keeper that got the socket, so no other keeper rotates meanwhile.
void rotate_log(const fs::path& root) {
    const auto path = root / "call-keeper.log";
    struct stat writing {};
    struct stat named {};
    if (::fstat(STDERR_FILENO, &writing) != 0 || ::stat(path.c_str(), &named) != 0 ||
        writing.st_dev != named.st_dev || writing.st_ino != named.st_ino ||
        named.st_size < max_log_bytes) {
        return;
    }
    std::error_code ec;
    fs::rename(path, root / "call-keeper.log.1", ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (ec || fd < 0) {
        return;
    }
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
}

}  // namespace

int run_call_keeper(const std::string& dir, const std::string& url,
                    const call_keeper_timings& timings) {
    const std::string messages_url = url.empty() ? messages_url_from_env() : url;
    const fs::path root = canonical_dir(dir);
    std::error_code ec;
    fs::create_directories(root / "calls", ec);
    if (ec) {
        log::event(spdlog::level::err, "call_keeper_failed",
                   {{"dir", root.string()}, {"error", ec.message()}});
        return 1;
    }
    asio::io_context io(1);
    local::acceptor acceptor(io);
    boost::system::error_code bind_error;
    acceptor.open(local(), bind_error);
    if (!bind_error) {
        acceptor.bind(keeper_endpoint(root.string(), messages_url), bind_error);
    }
    if (!bind_error) {
        acceptor.listen(asio::socket_base::max_listen_connections, bind_error);
    }
    if (bind_error == asio::error::address_in_use) {
        return 0;  // another keeper serves this directory (on this host's network namespace)
    }
    if (bind_error) {
        log::event(spdlog::level::err, "call_keeper_failed",
                   {{"dir", root.string()}, {"error", bind_error.message()}});
        return 1;
    }
    rotate_log(root);
    keeper_server::sweep(root / "calls");
    keeper_server server(io, root, messages_url, timings);
    log::event(spdlog::level::info, "call_keeper_listening",
               {{"dir", root.string()}, {"pid", static_cast<std::int64_t>(::getpid())}});
    asio::co_spawn(io, server.accept(acceptor), asio::detached);
    asio::co_spawn(io, server.watch(acceptor), asio::detached);
    asio::signal_set stops(io, SIGTERM, SIGINT);
    stops.async_wait([&server, &acceptor](boost::system::error_code stop_error, int) {
        if (!stop_error) {
            server.stop(acceptor);
        }
    });
    io.run();
    return 0;
}

}  // namespace boomer::clients
