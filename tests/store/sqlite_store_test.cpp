// What only the SQLite engine has: its file, its migrations, its query plans and how its
// result codes are classified.
#include "store/sqlite_store.hpp"

#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_checkpointer.hpp"
#include "store/sqlite_commit.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_store_impl.hpp"
#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

namespace {

// A plain connection to the file, as another process would have.
class raw_db {
public:
    explicit raw_db(const std::filesystem::path& path) {
        REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
    }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;
    ~raw_db() { sqlite3_close(db_); }

    void exec(const std::string& sql) {
        REQUIRE(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    }

    // rows returns every row of `sql`, columns joined by '|'.
    std::vector<std::string> rows(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        std::vector<std::string> out;
        while (sqlite3_step(st) == SQLITE_ROW) {
            std::string row;
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                const auto* text = sqlite3_column_text(st, c);
                row += (c > 0 ? "|" : "") +
                       std::string(text ? reinterpret_cast<const char*>(text) : "");
            }
            out.push_back(row);
        }
        sqlite3_finalize(st);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

// plan_of returns SQLite's query plan for `sql`, one step a line.
std::string plan_of(raw_db& raw, const std::string& sql) {
    std::string plan;
    for (const auto& row : raw.rows("EXPLAIN QUERY PLAN " + sql)) {
        plan += row + "\n";
    }
    return plan;
}

}  // namespace

TEST_CASE("sqlite store: migrations run once and reopening keeps the data", "[store]") {
    temp_dir dir;
    auto path = dir.path() / "boomer.db";
    std::string item_id;
    {
        auto s = open_sqlite_store(path.string());
        item_id = add_item(*s, "t", priority::normal, t0).item_id;
    }
    auto s = open_sqlite_store(path.string());
    CHECK(s->find_item("t", item_id));

    raw_db raw(path);
    auto versions = raw.rows("SELECT version FROM schema_migrations ORDER BY version");
    CHECK(versions.size() == sqlite::migrations().size());
    CHECK(versions.back() == std::to_string(sqlite::migrations().back().version));
    CHECK(raw.rows("PRAGMA journal_mode") == std::vector<std::string>{"wal"});
}

TEST_CASE("sqlite store: a database newer than the build is refused as a bug", "[store]") {
    temp_dir dir;
    auto path = dir.path() / "boomer.db";
    open_sqlite_store(path.string());
    raw_db(path).exec(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')");
    try {
        open_sqlite_store(path.string());
        FAIL("a newer schema was accepted");
    } catch (const store_error& e) {
        CHECK(e.kind() == error_kind::bug);
        CHECK_THAT(e.what(), Catch::Contains("999"));
    }
}

TEST_CASE("sqlite store: the database must be a file", "[store]") {
    CHECK_THROWS_AS(open_sqlite_store(":memory:"), std::invalid_argument);
    CHECK_THROWS_AS(open_sqlite_store(""), std::invalid_argument);
    temp_dir dir;
    sqlite_options no_connections;
    no_connections.connections = 0;
    CHECK_THROWS_AS(open_sqlite_store((dir.path() / "x.db").string(), no_connections),
                    std::invalid_argument);
    try {
        open_sqlite_store((dir.path() / "missing-folder" / "x.db").string());
        FAIL("a database in a missing folder was opened");
    } catch (const store_error& e) {
        CHECK(e.kind() == error_kind::bug);
    }
}

TEST_CASE("sqlite store: result codes are classified at the boundary", "[store]") {
    using sqlite::classify;
    CHECK(classify(SQLITE_BUSY) == error_kind::retryable);
    CHECK(classify(SQLITE_BUSY_SNAPSHOT) == error_kind::retryable);
    CHECK(classify(SQLITE_LOCKED) == error_kind::retryable);
    CHECK(classify(SQLITE_IOERR_FSYNC) == error_kind::retryable);
    CHECK(classify(SQLITE_FULL) == error_kind::retryable);
    CHECK(classify(SQLITE_CONSTRAINT_UNIQUE) == error_kind::conflict);
    CHECK(classify(SQLITE_CONSTRAINT_PRIMARYKEY) == error_kind::conflict);
    CHECK(classify(SQLITE_CONSTRAINT_FOREIGNKEY) == error_kind::conflict);
    CHECK(classify(SQLITE_CONSTRAINT_CHECK) == error_kind::bug);
    CHECK(classify(SQLITE_CONSTRAINT_NOTNULL) == error_kind::bug);
    CHECK(classify(SQLITE_ERROR) == error_kind::bug);
    CHECK(classify(SQLITE_MISMATCH) == error_kind::bug);
}

TEST_CASE("sqlite store: a write lock held by another process past the timeout is retryable",
          "[store]") {
    temp_dir dir;
    auto path = dir.path() / "boomer.db";
    sqlite_options options;
    options.busy_timeout_ms = 50;
    auto s = open_sqlite_store(path.string(), options);

    raw_db other(path);
    other.exec("BEGIN IMMEDIATE");
    try {
        add_item(*s, "t", priority::normal, t0);
        FAIL("a write went through while another process held the lock");
    } catch (const store_error& e) {
        CHECK(e.kind() == error_kind::retryable);
    }
    CHECK(s->find_item("t", "itm_none") == std::nullopt);  // reads still work
    other.exec("COMMIT");
    CHECK(add_item(*s, "t", priority::normal, t0).created);
}

TEST_CASE("sqlite store: claims and listings walk their indexes instead of sorting", "[store]") {
    temp_dir dir;
    auto path = dir.path() / "boomer.db";
    open_sqlite_store(path.string());
    raw_db raw(path);

    // The claim's inner select, as sqlite_queue.cpp writes it.
    auto plan = plan_of(raw,
                        "SELECT job_id FROM jobs WHERE state = 'queued' AND run_after_ms <= 1 "
                        "ORDER BY sort_key, job_id LIMIT 8");
    INFO(plan);
    CHECK_THAT(plan, Catch::Contains("jobs_claim"));
    CHECK_THAT(plan, !Catch::Contains("TEMP B-TREE"));

    plan = plan_of(raw,
                   "SELECT i.item_id FROM items i JOIN jobs j ON j.item_id = i.item_id "
                   "WHERE j.tenant_id = 't' AND j.state = 'queued' AND j.item_id < 'x' "
                   "ORDER BY j.item_id DESC LIMIT 5");
    INFO(plan);
    CHECK_THAT(plan, Catch::Contains("jobs_tenant_state"));
    CHECK_THAT(plan, !Catch::Contains("TEMP B-TREE"));
}

TEST_CASE("sqlite store: an idempotency key is looked up through its index", "[store]") {
    temp_dir dir;
    auto path = dir.path() / "boomer.db";
    open_sqlite_store(path.string());
    raw_db raw(path);
    auto plan = plan_of(raw, sqlite::find_by_key_sql);
    INFO(plan);
    CHECK_THAT(plan, Catch::Contains("items_idempotency"));
    CHECK_THAT(plan, !Catch::Contains("items_tenant"));
}

TEST_CASE("sqlite store: the near-duplicate lookup starts from the band indexes", "[store]") {
    temp_dir dir;
    auto path = dir.path() / "boomer.db";
    open_sqlite_store(path.string());
    // The store's own connection class: it registers the hamming function the statement uses.
    sqlite::connection conn(path.string(), 1'000);
    auto st = conn.prepare(std::string("EXPLAIN QUERY PLAN ") + sqlite::similar_photos_sql);
    std::vector<std::string> steps;
    while (st.step()) {
        steps.push_back(st.text(3));
    }
    std::string plan;
    for (const auto& s : steps) {
        plan += s + "\n";
    }
    INFO(plan);
    // Every band is searched through its index, and the first table walked is the gathered
    // candidates, never the tenant's items (which costs a lookup the whole table).
    for (const char* index : {"images_band0", "images_band1", "images_band2"}) {
        CHECK_THAT(plan, Catch::Contains(index));
    }
    CHECK_THAT(plan, Catch::Contains("SCAN n"));
    CHECK_THAT(plan, !Catch::Contains("items_tenant"));
}

TEST_CASE(
    "sqlite store: writes queued behind a commit share the next one, each rolled back "
    "alone on failure",
    "[store]") {
    using sqlite::commit_queue;
    using sqlite::connection;
    temp_dir dir;
    auto path = (dir.path() / "commit.db").string();
    std::vector<std::unique_ptr<connection>> conns;
    for (int i = 0; i < 4; ++i) {
        conns.push_back(std::make_unique<connection>(path, 1'000));
    }
    conns[0]->exec("CREATE TABLE t (x INTEGER PRIMARY KEY)");
    commit_queue commits;
    auto insert = [](connection& c, int x) {
        c.prepare("INSERT INTO t (x) VALUES (?1)").bind_all(x).run();
    };

    // The first write holds its batch open until three others have queued behind it.
    std::atomic<bool> leading{false};
    std::thread first([&] {
        commits.run(*conns[0], [&](connection& c) {
            insert(c, 1);
            leading = true;
            while (commits.waiting() < 3) {
                std::this_thread::yield();
            }
        });
    });
    while (!leading) {
        std::this_thread::yield();
    }
    std::atomic<int> conflicts{0};
    std::vector<std::thread> rest;
    rest.emplace_back([&] { commits.run(*conns[1], [&](connection& c) { insert(c, 2); }); });
    rest.emplace_back([&] {
        try {
            commits.run(*conns[2], [&](connection& c) {
                insert(c, 3);
                insert(c, 1);  // duplicate: this write fails, 3 must go with it
            });
        } catch (const store_error& e) {
            conflicts += e.kind() == error_kind::conflict ? 1 : 0;
        }
    });
    rest.emplace_back([&] { commits.run(*conns[3], [&](connection& c) { insert(c, 4); }); });
    first.join();
    for (auto& t : rest) {
        t.join();
    }

    CHECK(conflicts == 1);
    std::vector<std::int64_t> rows;
    auto st = conns[0]->prepare("SELECT x FROM t ORDER BY x");
    while (st.step()) {
        rows.push_back(st.int64(0));
    }
    CHECK(rows == std::vector<std::int64_t>{1, 2, 4});
}

namespace {

// eventually polls `done` for up to 30 s; for outcomes of a background thread.
template <class Predicate>
bool eventually(Predicate done) {
    for (int i = 0; i < 3000 && !done(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

}  // namespace

TEST_CASE("sqlite store: commits leave the checkpoint to the background thread", "[store]") {
    using sqlite::connection;
    temp_dir dir;
    auto path = (dir.path() / "wal.db").string();
    connection writer(path, 1'000);
    writer.exec("CREATE TABLE t (x INTEGER PRIMARY KEY, pad TEXT)");
    auto db_size = [&] { return std::filesystem::file_size(path); };
    auto size_before = db_size();
    sqlite::checkpointer checkpoints(path, 4, 1'000);
    checkpoints.attach(writer);

    // Each commit adds a page or three: the log passes 4 pages and stays below 8 x 4, where a
    // commit would checkpoint itself.
    for (int i = 0; i < 6; ++i) {
        writer.prepare("INSERT INTO t (x, pad) VALUES (?1, ?2)")
            .bind_all(i, std::string(1'000, 'p'))
            .run();
    }
    CHECK(checkpoints.inline_runs() == 0);

    // The thread copies the pages into the database file.
    CHECK(eventually([&] { return checkpoints.completed() > 0 && db_size() > size_before; }));
    CHECK(checkpoints.failed() == 0);
    auto st = writer.prepare("SELECT count(*) FROM t");
    REQUIRE(st.step());
    CHECK(st.int64(0) == 6);
}

TEST_CASE("sqlite store: a commit far past the checkpoint threshold checkpoints itself",
          "[store]") {
    using sqlite::connection;
    temp_dir dir;
    auto path = (dir.path() / "wal.db").string();
    connection writer(path, 1'000);
    writer.exec("CREATE TABLE t (x INTEGER PRIMARY KEY, pad TEXT)");
    auto db_size = [&] { return std::filesystem::file_size(path); };
    auto size_before = db_size();
    sqlite::checkpointer checkpoints(path, 1, 1'000);
    checkpoints.attach(writer);

    // One commit of about 25 pages: more than 8 x 1. It copies them before it returns, and
    // asks nothing of the thread.
    writer.exec("BEGIN");
    for (int i = 0; i < 100; ++i) {
        writer.prepare("INSERT INTO t (x, pad) VALUES (?1, ?2)")
            .bind_all(i, std::string(1'000, 'p'))
            .run();
    }
    writer.exec("COMMIT");
    CHECK(checkpoints.inline_runs() == 1);
    CHECK(db_size() > size_before);
    CHECK(checkpoints.completed() == 0);
}
