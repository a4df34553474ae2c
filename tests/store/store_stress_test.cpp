// Concurrency and durability, run against every store engine: several workers racing over one
// queue, and a writer process killed with SIGKILL mid-stream.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

namespace {

// Shared bookkeeping for the racing workers; indexes are positions in `ids`.
struct race {
    std::unordered_map<std::string, std::size_t> index;
    std::vector<std::atomic<int>> holders;
    std::vector<std::atomic<int>> completions;
    std::atomic<int> done{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> refused{0};

    explicit race(const std::vector<std::string>& ids)
        : holders(ids.size()), completions(ids.size()) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            index.emplace(ids[i], i);
        }
    }
};

// One worker: claims small batches, gives every seventh job back, completes the rest.
void work(store& s, race& r, int worker, int total) {
    std::string name = "worker-" + std::to_string(worker);
    int turn = 0;
    while (r.done.load() < total) {
        auto jobs = s.claim(name, 1 + worker % 3, 60'000, t0 + 1);
        if (jobs.empty()) {
            std::this_thread::yield();
            continue;
        }
        // Hold every claimed job until its own write; a second holder means a double claim.
        for (const auto& job : jobs) {
            if (r.holders[r.index.at(job.job_id)].fetch_add(1) != 0) {
                r.overlaps.fetch_add(1);
            }
        }
        for (const auto& job : jobs) {
            auto i = r.index.at(job.job_id);
            bool ok = false;
            if (++turn % 7 == 0) {
                // Let go before the release commits: from then on another worker may claim it.
                r.holders[i].fetch_sub(1);
                ok = s.release(job.job_id, job.fence, t0 + 1);
            } else {
                ok = s.complete(job.job_id, job.fence, job_state::succeeded, "{}", "", "", t0 + 2);
                r.holders[i].fetch_sub(1);
                if (ok) {
                    r.completions[i].fetch_add(1);
                    r.done.fetch_add(1);
                }
            }
            r.refused.fetch_add(ok ? 0 : 1);
        }
    }
}

// write_line writes all of `line` to `fd`; false when the reader is gone.
bool write_line(int fd, std::string line) {
    line.push_back('\n');
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The child process: creates items as fast as it can and reports each acknowledged id.
[[noreturn]] void acknowledge_forever(const engine& e, const std::filesystem::path& dir, int fd) {
    try {
        auto s = e.open(dir);
        for (int i = 0; i < 1'000'000; ++i) {
            auto ids = s->create_item(make_item("t", priority::normal, t0 + i));
            if (!write_line(fd, ids.item_id + " " + ids.job_id)) {
                break;
            }
        }
    } catch (...) {
        ::_exit(2);
    }
    ::_exit(0);
}

// read_lines reads `fd` to its end, or until `stop_after` lines when that is > 0.
std::vector<std::string> read_lines(int fd, std::string& pending, std::size_t stop_after) {
    std::vector<std::string> lines;
    char buffer[4096];
    for (;;) {
        for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            lines.push_back(pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
        if (stop_after > 0 && lines.size() >= stop_after) {
            return lines;
        }
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return lines;
        }
        pending.append(buffer, static_cast<std::size_t>(n));
    }
}

}  // namespace

STORE_TEST("racing workers never hold a job twice and finish each exactly once", "[store][slow]") {
    constexpr int threads = 4;
    constexpr int total = threads * 500;
    std::vector<std::string> ids;
    for (int i = 0; i < total; ++i) {
        ids.push_back(add_item(s, "t", priority::normal, t0 - total + i).job_id);
    }

    race r(ids);
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&s, &r, w] { work(s, r, w, total); });
    }
    for (auto& t : workers) {
        t.join();
    }

    CHECK(r.overlaps.load() == 0);
    CHECK(r.refused.load() == 0);
    int not_once = 0;
    for (const auto& c : r.completions) {
        not_once += c.load() == 1 ? 0 : 1;
    }
    CHECK(not_once == 0);
    auto counts = s.count_by_state();
    CHECK(counts[job_state::succeeded] == total);
    CHECK(counts[job_state::queued] == 0);
    CHECK(counts[job_state::running] == 0);
}

STORE_TEST("every item acknowledged before a SIGKILL is there after reopening", "[store][slow]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(fds[0]);
        acknowledge_forever(e, dir, fds[1]);
    }
    ::close(fds[1]);

    // Let the child get well into its stream, kill it mid-write, then collect every id it
    // reported before dying.
    std::string pending;
    auto acknowledged = read_lines(fds[0], pending, 300);
    ::kill(child, SIGKILL);
    auto rest = read_lines(fds[0], pending, 0);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    acknowledged.insert(acknowledged.end(), rest.begin(), rest.end());
    REQUIRE(acknowledged.size() >= 300);

    auto reopened = e.open(dir);
    int missing = 0;
    for (const auto& line : acknowledged) {
        auto space = line.find(' ');
        auto item = reopened->find_item("t", line.substr(0, space));
        auto job = reopened->find_job("t", line.substr(space + 1));
        missing += item && job && item->state == job_state::queued ? 0 : 1;
    }
    CHECK(missing == 0);
    // At most one more item committed whose id the child had no time to report.
    auto queued = reopened->count_by_state()[job_state::queued];
    CHECK(queued >= static_cast<std::int64_t>(acknowledged.size()));
    CHECK(queued <= static_cast<std::int64_t>(acknowledged.size()) + 1);
}

STORE_TEST("concurrent creates with one idempotency key make exactly one item", "[store][slow]") {
    // Two stores on one database stand for two processes sharing it.
    auto second = e.open(dir);
    constexpr int threads = 8;
    std::vector<create_result> results(threads);
    std::vector<std::thread> clients;
    for (int i = 0; i < threads; ++i) {
        store& target = i % 2 == 0 ? s : *second;
        clients.emplace_back([&target, &results, i] {
            results[static_cast<std::size_t>(i)] =
                target.create_item(make_item("t", priority::normal, t0 + i, "same-key"));
        });
    }
    for (auto& c : clients) {
        c.join();
    }

    int created = 0;
    for (const auto& r : results) {
        created += r.created ? 1 : 0;
        CHECK(r.item_id == results.front().item_id);
        CHECK(r.job_id == results.front().job_id);
    }
    CHECK(created == 1);
    CHECK(s.count_by_state()[job_state::queued] == 1);
}
