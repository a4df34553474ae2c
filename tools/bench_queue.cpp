// bench_queue: how fast the store's queue moves no-op jobs, on SQLite or Postgres. P producers
// enqueue N items (one create_item call each, or create_items batches of --bulk E; durable when
// it returns), then K workers claim batches of B and complete each batch at once (one
// complete_many; --complete-each: one complete per job); prints enqueue/s, processed jobs/s and
// the enqueue-to-claim latency (p50, p99; with everything enqueued first, this is mostly time
// spent in the backlog). With --live the workers run while the producers enqueue, sleeping when
// idle until woken (on Postgres by the engine's LISTEN/NOTIFY, on SQLite by the producer, as in
// the service) or their 500 ms poll passes; the latency is then given from the enqueue call and
// from its acknowledgement (durable) to the claim that starts the job.
//
// Usage: bench_queue [--jobs N] [--threads K] [--batch B] [--producers P] [--bulk E] [--live]
//                    [--complete-each] [--runs R]
//                    [--db PATH | --db postgres://... | --db postgresql://...]
// With --runs R the benchmark runs R times on fresh tables and also prints the median of each
// figure. Each run prints the load average first: on a shared machine, other work slows it.
// Without --db a temporary SQLite database is created and removed afterwards. With a Postgres
// DSN the tables go to a fresh schema that is dropped afterwards.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/ids.hpp"
#include "store/postgres_store.hpp"
#include "store/postgres_wakeups.hpp"
#include "store/sqlite_store.hpp"

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using boomer::store::store;

struct bench_config {
    int jobs = 20'000;
    int threads = 4;
    int batch = 16;
    int producers = 1;
    int bulk = 1;  // items per create_items call; 1: create_item
    bool live = false;
    bool complete_each = false;
    int runs = 1;
    std::string db;
};

int positive_int(const std::string& flag, const char* text) {
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 1 || value > 10'000'000) {
        throw std::invalid_argument(flag + " takes a whole number from 1 to 10000000");
    }
    return static_cast<int>(value);
}

bench_config parse_flags(int argc, char** argv) {
    bench_config c;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "--live" || flag == "--complete-each") {
            (flag == "--live" ? c.live : c.complete_each) = true;
            continue;
        }
        if (i + 1 >= argc) {
            throw std::invalid_argument(flag + " needs a value (or is unknown)");
        }
        const char* value = argv[++i];
        if (flag == "--jobs") {
            c.jobs = positive_int(flag, value);
        } else if (flag == "--threads") {
            c.threads = positive_int(flag, value);
        } else if (flag == "--batch") {
            c.batch = positive_int(flag, value);
        } else if (flag == "--producers") {
            c.producers = positive_int(flag, value);
        } else if (flag == "--runs") {
            c.runs = positive_int(flag, value);
        } else if (flag == "--bulk") {
            c.bulk = positive_int(flag, value);
        } else if (flag == "--db") {
            c.db = value;
        } else {
            throw std::invalid_argument("unknown flag " + flag);
        }
    }
    return c;
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

double seconds_since(steady::time_point start) {
    return std::chrono::duration<double>(steady::now() - start).count();
}

// What the workers share: job id → position, when each job was enqueued and first claimed.
// How idle workers learn of new jobs, as in the service: a counter bumped on every wake-up.
struct wake_signal {
    std::mutex mutex;
    std::condition_variable changed;
    std::uint64_t count = 0;  // guarded by mutex

    std::uint64_t seen() {
        std::lock_guard lock(mutex);
        return count;
    }
    void notify() {
        {
            std::lock_guard lock(mutex);
            ++count;
        }
        changed.notify_all();
    }
    // wait returns once count differs from `seen` or `poll` passed (the scheduler's poll).
    void wait(std::uint64_t seen_before, std::chrono::milliseconds poll) {
        std::unique_lock lock(mutex);
        changed.wait_for(lock, poll, [&] { return count != seen_before; });
    }
};

struct ledger {
    std::unordered_map<std::string, std::size_t> index;
    std::vector<std::atomic<steady::rep>> enqueued;  // steady ticks at the create_item call
    std::vector<std::atomic<steady::rep>> acked;     // ... when it returned (durable)
    std::vector<double> latency_ms;                  // claim - enqueued
    std::vector<double> acked_latency_ms;            // claim - acked, 0 when claimed before
    std::atomic<int> done{0};
    wake_signal wake;
    bool producers_wake = true;  // false: a Postgres listener wakes the workers instead
};

// prepare_items lays out every item's ids and the ledger before any thread starts, so that the
// workers' ledger needs no lock.
std::vector<boomer::store::new_item> prepare_items(const bench_config& c, ledger& l) {
    std::vector<boomer::store::new_item> items(static_cast<std::size_t>(c.jobs));
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto now = wall_ms();
        items[i].tenant_id = "bench";
        items[i].item_id = boomer::new_id("itm", now);
        items[i].job_id = boomer::new_id("job", now);
        items[i].source = "api";
        l.index.emplace(items[i].job_id, i);
    }
    l.enqueued = std::vector<std::atomic<steady::rep>>(items.size());
    l.acked = std::vector<std::atomic<steady::rep>>(items.size());
    l.latency_ms.assign(items.size(), -1.0);
    l.acked_latency_ms.assign(items.size(), -1.0);
    return items;
}

// enqueue_all creates the items from c.producers threads, noting when each create_item call
// began.
void enqueue_all(store& db, const bench_config& c, std::vector<boomer::store::new_item>& items,
                 ledger& l) {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> producers;
    auto bulk = static_cast<std::size_t>(c.bulk);
    for (int p = 0; p < c.producers; ++p) {
        producers.emplace_back([&] {
            std::vector<boomer::store::new_item> chunk;
            for (auto first = next.fetch_add(bulk); first < items.size();
                 first = next.fetch_add(bulk)) {
                auto last = std::min(items.size(), first + bulk);
                auto now = wall_ms();
                auto ticks = steady::now().time_since_epoch().count();
                for (auto i = first; i < last; ++i) {
                    items[i].now_ms = now;
                    l.enqueued[i].store(ticks);
                }
                if (bulk == 1) {
                    db.create_item(items[first]);
                } else {
                    chunk.assign(items.begin() + static_cast<std::ptrdiff_t>(first),
                                 items.begin() + static_cast<std::ptrdiff_t>(last));
                    db.create_items(chunk);
                }
                auto acked = steady::now().time_since_epoch().count();
                for (auto i = first; i < last; ++i) {
                    l.acked[i].store(acked);
                }
                if (l.producers_wake) {
                    l.wake.notify();
                }
            }
        });
    }
    for (auto& t : producers) {
        t.join();
    }
}

void work(store& db, const bench_config& c, ledger& l, int worker) {
    std::string name = "bench-" + std::to_string(worker);
    while (l.done.load() < c.jobs) {
        auto seen = l.wake.seen();
        auto jobs = db.claim(name, c.batch, 60'000, wall_ms());
        auto claimed_at = steady::now();
        if (jobs.empty()) {
            // Live, an idle worker sleeps until woken or its poll passes, as the scheduler does;
            // with a backlog it only yields.
            if (c.live) {
                l.wake.wait(seen, std::chrono::milliseconds(500));
            } else {
                std::this_thread::yield();
            }
            continue;
        }
        std::vector<boomer::store::completion> batch;
        for (const auto& job : jobs) {
            auto i = l.index.at(job.job_id);
            l.latency_ms[i] =
                std::chrono::duration<double, std::milli>(
                    claimed_at - steady::time_point(steady::duration(l.enqueued[i].load())))
                    .count();
            auto acked = l.acked[i].load();
            l.acked_latency_ms[i] =
                acked == 0
                    ? 0.0
                    : std::max(0.0, std::chrono::duration<double, std::milli>(
                                        claimed_at - steady::time_point(steady::duration(acked)))
                                        .count());
            if (c.complete_each) {
                db.complete(job.job_id, job.fence, boomer::store::job_state::succeeded, "{}", "",
                            "", wall_ms());
            } else {
                batch.push_back(
                    {job.job_id, job.fence, boomer::store::job_state::succeeded, "{}", "", ""});
            }
        }
        if (!batch.empty()) {
            db.complete_many(batch, wall_ms());
        }
        l.done.fetch_add(static_cast<int>(jobs.size()));
    }
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    auto rank = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
    return values[rank];
}

// A store opened for the benchmark, and how to remove what the benchmark created.
struct bench_db {
    std::unique_ptr<store> db;
    std::string label;  // printable: never holds a password
    std::function<void()> remove;
    std::string pg_schema;  // Postgres: where the tables are
};

bench_db open_postgres(const bench_config& c, int connections) {
    boomer::store::postgres_options options;
    options.connections = connections;
    options.schema = "bench_queue_" + std::to_string(wall_ms());
    auto db = boomer::store::open_postgres_store(c.db, options);
    auto drop = [dsn = c.db, schema = options.schema] {
        pqxx::connection conn(dsn);
        pqxx::nontransaction tx(conn);
        tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(schema) + " CASCADE");
    };
    return {std::move(db), boomer::store::redact_dsn(c.db) + " schema " + options.schema, drop,
            options.schema};
}

bench_db open_sqlite(const bench_config& c, int connections) {
    bool temporary = c.db.empty();
    fs::path path =
        temporary ? fs::temp_directory_path() / ("bench_queue_" + std::to_string(wall_ms()) + ".db")
                  : fs::path(c.db);
    boomer::store::sqlite_options options;
    options.connections = connections;
    auto db = boomer::store::open_sqlite_store(path.string(), options);
    auto remove = [path, temporary] {
        if (temporary) {
            for (const char* suffix : {"", "-wal", "-shm"}) {
                fs::remove(path.string() + suffix);
            }
        }
    };
    return {std::move(db), path.string(), remove, ""};
}

std::vector<std::thread> start_workers(store& db, const bench_config& c, ledger& l) {
    std::vector<std::thread> workers;
    for (int w = 0; w < c.threads; ++w) {
        workers.emplace_back([&db, &c, &l, w] { work(db, c, l, w); });
    }
    return workers;
}

void join(std::vector<std::thread>& threads) {
    for (auto& t : threads) {
        t.join();
    }
}

// The figures of one run.
struct figures {
    double enqueue_per_s = 0;
    double processed_per_s = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double acked_p50_ms = 0;
    double acked_p99_ms = 0;
};

std::string load_average() {
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    if (f == nullptr) {
        return "unknown";
    }
    char text[64] = {};
    auto n = std::fread(text, 1, sizeof text - 1, f);
    std::fclose(f);
    std::string out(text, n);
    return out.substr(0, out.find(' ', out.find(' ', out.find(' ') + 1) + 1));
}

figures run_once(const bench_config& c) {
    // Live, producers and workers hold connections at the same time.
    int connections = c.live ? c.threads + c.producers : std::max(c.threads, c.producers);
    auto opened = boomer::store::is_postgres_uri(c.db) ? open_postgres(c, connections)
                                                       : open_sqlite(c, connections);
    ledger l;
    auto items = prepare_items(c, l);
    std::printf("load average (1, 5, 15 min) before the run: %s\n", load_average().c_str());

    // Live on Postgres the workers are woken by the engine's notifications, as replicas are;
    // on SQLite by the producers, as the service's intake wakes its scheduler.
    std::unique_ptr<boomer::store::postgres_wakeups> wakeups;
    if (c.live && !opened.pg_schema.empty()) {
        l.producers_wake = false;
        boomer::store::postgres_options options;
        options.schema = opened.pg_schema;
        wakeups = std::make_unique<boomer::store::postgres_wakeups>(c.db, options,
                                                                    [&l] { l.wake.notify(); });
        while (!wakeups->connected()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    auto start = steady::now();
    std::vector<std::thread> workers;
    if (c.live) {
        workers = start_workers(*opened.db, c, l);
    }
    enqueue_all(*opened.db, c, items, l);
    double enqueue_s = seconds_since(start);
    if (!c.live) {
        start = steady::now();
        workers = start_workers(*opened.db, c, l);
    }
    join(workers);
    double process_s = seconds_since(start);

    if (wakeups) {
        wakeups->stop();
    }
    figures f{c.jobs / enqueue_s,
              c.jobs / process_s,
              percentile(l.latency_ms, 0.50),
              percentile(l.latency_ms, 0.99),
              percentile(l.acked_latency_ms, 0.50),
              percentile(l.acked_latency_ms, 0.99)};
    std::printf("jobs %d, producers %d, bulk %d, threads %d, batch %d, %s, %s, db %s\n", c.jobs,
                c.producers, c.bulk, c.threads, c.batch,
                c.complete_each ? "complete each" : "complete_many", c.live ? "live" : "backlog",
                opened.label.c_str());
    std::printf("enqueue:   %.0f items/s (%.2f s)\n", f.enqueue_per_s, enqueue_s);
    std::printf("processed: %.0f jobs/s (%.2f s)\n", f.processed_per_s, process_s);
    std::printf("enqueue-to-claim latency from the enqueue call: p50 %.1f ms, p99 %.1f ms\n",
                f.p50_ms, f.p99_ms);
    std::printf("  from the acknowledged (durable) enqueue: p50 %.1f ms, p99 %.1f ms\n",
                f.acked_p50_ms, f.acked_p99_ms);
    std::fflush(stdout);

    opened.db.reset();
    opened.remove();
    return f;
}

int run(const bench_config& c) {
    std::vector<figures> all;
    for (int i = 0; i < c.runs; ++i) {
        all.push_back(run_once(c));
    }
    if (c.runs > 1) {
        auto median = [&](double figures::*field) {
            std::vector<double> values;
            for (const auto& f : all) {
                values.push_back(f.*field);
            }
            return percentile(values, 0.5);
        };
        std::printf(
            "median of %d runs: enqueue %.0f items/s, processed %.0f jobs/s, "
            "enqueue-to-claim p50 %.1f ms, p99 %.1f ms\n",
            c.runs, median(&figures::enqueue_per_s), median(&figures::processed_per_s),
            median(&figures::p50_ms), median(&figures::p99_ms));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse_flags(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_queue: %s\n", e.what());
        return 2;
    }
}
