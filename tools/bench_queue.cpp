// bench_queue: how fast the store's queue moves no-op jobs, on SQLite or Postgres. P producers
// enqueue N items (one create_item call each, durable when it returns), then K workers claim
// batches of B and complete every job at once; prints enqueue/s, processed jobs/s and the
// enqueue-to-claim latency (p50, p99; with everything enqueued first, this is mostly time spent
// in the backlog). With --live the workers run while the producers enqueue, so the latency is
// the time from a durable enqueue to the claim that starts the job.
//
// Usage: bench_queue [--jobs N] [--threads K] [--batch B] [--producers P] [--live]
//                    [--db PATH | --db postgres://... | --db postgresql://...]
// Without --db a temporary SQLite database is created and removed afterwards. With a Postgres
// DSN the tables go to a fresh schema that is dropped afterwards.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/ids.hpp"
#include "store/postgres_store.hpp"
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
    bool live = false;
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
        if (flag == "--live") {
            c.live = true;
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
struct ledger {
    std::unordered_map<std::string, std::size_t> index;
    std::vector<std::atomic<steady::rep>> enqueued;  // steady ticks at the create_item call
    std::vector<double> latency_ms;
    std::atomic<int> done{0};
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
    l.latency_ms.assign(items.size(), -1.0);
    return items;
}

// enqueue_all creates the items from c.producers threads, noting when each create_item call
// began.
void enqueue_all(store& db, const bench_config& c, std::vector<boomer::store::new_item>& items,
                 ledger& l) {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < c.producers; ++p) {
        producers.emplace_back([&] {
            for (auto i = next++; i < items.size(); i = next++) {
                items[i].now_ms = wall_ms();
                l.enqueued[i].store(steady::now().time_since_epoch().count());
                db.create_item(items[i]);
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
        auto jobs = db.claim(name, c.batch, 60'000, wall_ms());
        auto claimed_at = steady::now();
        if (jobs.empty()) {
            // Live, an idle worker naps as a scheduler would; with a backlog it only yields.
            if (c.live) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            } else {
                std::this_thread::yield();
            }
            continue;
        }
        for (const auto& job : jobs) {
            auto i = l.index.at(job.job_id);
            l.latency_ms[i] =
                std::chrono::duration<double, std::milli>(
                    claimed_at - steady::time_point(steady::duration(l.enqueued[i].load())))
                    .count();
            db.complete(job.job_id, job.fence, boomer::store::job_state::succeeded, "{}", "", "",
                        wall_ms());
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
    return {std::move(db), boomer::store::redact_dsn(c.db) + " schema " + options.schema, drop};
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
    return {std::move(db), path.string(), remove};
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

int run(const bench_config& c) {
    // Live, producers and workers hold connections at the same time.
    int connections = c.live ? c.threads + c.producers : std::max(c.threads, c.producers);
    auto opened = boomer::store::is_postgres_uri(c.db) ? open_postgres(c, connections)
                                                       : open_sqlite(c, connections);
    ledger l;
    auto items = prepare_items(c, l);

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

    std::printf("jobs %d, producers %d, threads %d, batch %d, %s, db %s\n", c.jobs, c.producers,
                c.threads, c.batch, c.live ? "live" : "backlog", opened.label.c_str());
    std::printf("enqueue:   %.0f items/s (%.2f s)\n", c.jobs / enqueue_s, enqueue_s);
    std::printf("processed: %.0f jobs/s (%.2f s)\n", c.jobs / process_s, process_s);
    std::printf("enqueue-to-claim latency: p50 %.1f ms, p99 %.1f ms\n",
                percentile(l.latency_ms, 0.50), percentile(l.latency_ms, 0.99));

    opened.db.reset();
    opened.remove();
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
