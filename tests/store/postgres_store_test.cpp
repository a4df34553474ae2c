// What only the Postgres engine has: DSN redaction, SQLSTATE classification, migrations under
// an advisory lock, reconnection after a lost connection, timeouts, the claim index and the
// job notifications. Cases that need a server are tagged [pg] and WARN when none is set.
#include "store/postgres_store.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <latch>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres_db.hpp"
#include "store/postgres_schema.hpp"
#include "store/postgres_store_impl.hpp"
#include "tests/store/postgres_support.hpp"
#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;
using namespace std::chrono_literals;

namespace {

// expect_error runs `fn`, which must throw store_error, and returns the error.
template <class Fn>
store_error expect_error(Fn&& fn) {
    try {
        fn();
    } catch (const store_error& error) {
        return error;
    }
    FAIL("no store_error was thrown");
    return store_error(error_kind::bug, "unreachable");
}

// terminate_backends ends the server processes of connections named `application_name` and
// waits until they are gone.
int terminate_backends(const std::string& application_name) {
    auto killed = pg_rows(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
        application_name + "'");
    for (int i = 0; i < 500; ++i) {
        auto left = pg_rows("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '" +
                            application_name + "'");
        if (left.front() == "0") {
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    // A backend leaves pg_stat_activity before its process exits and closes the socket; give
    // it that moment, so the client sees the connection closed as after a real restart.
    std::this_thread::sleep_for(100ms);
    return static_cast<int>(killed.size());
}

std::string unique_application(const std::string& what) {
    static std::atomic<int> counter{0};
    return "boomer-test-" + what + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(++counter);
}

// one_connection_options gives the suite's options for `schema` with a pool of one connection
// named `application_name`, so that tests can end it.
postgres_options one_connection_options(const std::string& schema,
                                        const std::string& application_name) {
    auto options = pg_options(schema);
    options.connections = 1;
    options.application_name = application_name;
    return options;
}

}  // namespace

// --- without a server ---

TEST_CASE("postgres store: redact_dsn masks URI and key=value passwords", "[store]") {
    CHECK(redact_dsn("postgresql://u:secret@h/db") == "postgresql://u:***@h/db");
    CHECK(redact_dsn("postgres://u:secret@h:5432/db?sslmode=require&password=other") ==
          "postgres://u:***@h:5432/db?sslmode=require&password=***");
    CHECK(redact_dsn("postgresql://u:p%40ss@h/db") == "postgresql://u:***@h/db");
    CHECK(redact_dsn("postgresql://u:pa/ss@word@h/db") == "postgresql://u:***@h/db");
    CHECK(redact_dsn("postgresql://u@h/db") == "postgresql://u@h/db");
    CHECK(redact_dsn("postgresql:///postgres?host=/tmp/pg/run&user=postgres") ==
          "postgresql:///postgres?host=/tmp/pg/run&user=postgres");

    CHECK(redact_dsn("host=h user=u password=secret dbname=d") ==
          "host=h user=u password=*** dbname=d");
    CHECK(redact_dsn("password = 'sec ret\\'s' host=h") == "password = *** host=h");
    CHECK(redact_dsn("host=h sslpassword=key-secret") == "host=h sslpassword=***");
    CHECK(redact_dsn("host=h dbname=d") == "host=h dbname=d");
    CHECK(redact_dsn("") == "");
    CHECK(redact_dsn("host=h password='secret") == "(unparsable connection string)");
    CHECK(redact_dsn("host=h password=secret junk") == "(unparsable connection string)");
}

TEST_CASE("postgres store: scrub_secrets removes passwords and DSNs from messages", "[store]") {
    std::string uri = "postgresql://u:p%40ss-word@h/db";
    auto scrubbed = scrub_secrets("cannot use " + uri + " (password p@ss-word)", uri);
    CHECK(scrubbed == "cannot use postgresql://u:***@h/db (password ***)");

    std::string kv = "host=h password='two words'";
    CHECK(scrub_secrets("rejected 'two words' and two words", kv) == "rejected *** and ***");

    // libpq quotes fragments of a malformed string: nothing of it may come back.
    auto malformed = scrub_secrets("missing \"=\" after \"words\"", "host=h password=two words");
    CHECK_THAT(malformed, !Catch::Contains("words"));
    CHECK_THAT(malformed, Catch::Contains("malformed"));
    CHECK(scrub_secrets("no route to host", "host=h") == "no route to host");
}

TEST_CASE("postgres store: DSN parameters are found and added in both forms", "[store]") {
    CHECK(dsn_has_param("postgresql://h/db?connect_timeout=3", "connect_timeout"));
    CHECK_FALSE(dsn_has_param("postgresql://h/db?sslmode=require", "connect_timeout"));
    CHECK(dsn_has_param("host=h connect_timeout=3", "connect_timeout"));
    CHECK_FALSE(dsn_has_param("host=h", "connect_timeout"));

    CHECK(with_dsn_param("postgresql://h/db", "application_name", "a b") ==
          "postgresql://h/db?application_name=a%20b");
    CHECK(with_dsn_param("postgresql://u:x?y@h/db?sslmode=require", "connect_timeout", "3") ==
          "postgresql://u:x?y@h/db?sslmode=require&connect_timeout=3");
    CHECK(with_dsn_param("host=h", "application_name", "it's") ==
          "host=h application_name='it\\'s'");
    CHECK(with_dsn_param("", "connect_timeout", "3") == "connect_timeout='3'");
    CHECK(is_postgres_uri("postgres://h/db"));
    CHECK(is_postgres_uri("postgresql://h/db"));
    CHECK_FALSE(is_postgres_uri("sqlite:var/boomer.db"));
}

TEST_CASE("postgres store: SQLSTATEs are classified at the boundary", "[store]") {
    using pg::classify_sqlstate;
    CHECK(classify_sqlstate("08006") == error_kind::retryable);  // connection failure
    CHECK(classify_sqlstate("08001") == error_kind::retryable);
    CHECK(classify_sqlstate("40001") == error_kind::retryable);  // serialization failure
    CHECK(classify_sqlstate("40P01") == error_kind::retryable);  // deadlock
    CHECK(classify_sqlstate("57P01") == error_kind::retryable);  // admin shutdown
    CHECK(classify_sqlstate("57014") == error_kind::retryable);  // statement timeout
    CHECK(classify_sqlstate("55P03") == error_kind::retryable);  // lock timeout
    CHECK(classify_sqlstate("53300") == error_kind::retryable);  // too many connections
    CHECK(classify_sqlstate("23505") == error_kind::conflict);
    CHECK(classify_sqlstate("23503") == error_kind::conflict);
    CHECK(classify_sqlstate("23514") == error_kind::bug);  // check violation
    CHECK(classify_sqlstate("23502") == error_kind::bug);  // not null
    CHECK(classify_sqlstate("42601") == error_kind::bug);  // syntax
    CHECK(classify_sqlstate("42P01") == error_kind::bug);  // undefined table
    CHECK(classify_sqlstate("22P02") == error_kind::bug);  // invalid text representation
    CHECK(classify_sqlstate("") == error_kind::bug);
    CHECK(pg::ends_session("08006"));
    CHECK(pg::ends_session("57P01"));
    CHECK_FALSE(pg::ends_session("57014"));
    CHECK_FALSE(pg::ends_session("23505"));
}

TEST_CASE("postgres store: libpqxx exceptions become store errors without the password",
          "[store]") {
    const std::string dsn = "postgresql://u:hunter2-pw@h/db";
    auto as_error = [&](auto exception) {
        return pg::classify_exception(std::make_exception_ptr(exception), "claim", dsn);
    };

    auto lost = as_error(pqxx::broken_connection("server at " + dsn + " closed (hunter2-pw)"));
    REQUIRE(lost);
    CHECK(lost->error.kind() == error_kind::retryable);
    CHECK(lost->session_lost);
    CHECK_THAT(lost->error.what(), !Catch::Contains("hunter2-pw"));
    CHECK_THAT(lost->error.what(), Catch::Contains("postgresql://u:***@h/db"));
    CHECK_THAT(lost->error.what(), Catch::StartsWith("postgres: claim: "));

    auto duplicate = as_error(pqxx::unique_violation("duplicate key", "INSERT", "23505"));
    REQUIRE(duplicate);
    CHECK(duplicate->error.kind() == error_kind::conflict);
    CHECK_FALSE(duplicate->session_lost);
    CHECK_THAT(duplicate->error.what(), Catch::Contains("23505"));

    auto syntax = as_error(pqxx::syntax_error("syntax error at or near", "SELEC", "42601"));
    REQUIRE(syntax);
    CHECK(syntax->error.kind() == error_kind::bug);

    auto shutdown = as_error(pqxx::sql_error("terminating connection", "", "57P01"));
    REQUIRE(shutdown);
    CHECK(shutdown->error.kind() == error_kind::retryable);
    CHECK(shutdown->session_lost);

    auto deadlock = as_error(pqxx::deadlock_detected("deadlock detected"));
    REQUIRE(deadlock);
    CHECK(deadlock->error.kind() == error_kind::retryable);

    auto conversion = as_error(pqxx::conversion_error("not an integer"));
    REQUIRE(conversion);
    CHECK(conversion->error.kind() == error_kind::bug);

    CHECK_FALSE(as_error(std::invalid_argument("our own")));
}

TEST_CASE("postgres store: an unreachable server is retryable and the message hides the password",
          "[store]") {
    // Port 1 on the loopback interface: the connection is refused at once.
    for (std::string dsn :
         {std::string("postgresql://boomer:s3cr3t-pw@127.0.0.1:1/boomer"),
          std::string("host=127.0.0.1 port=1 user=boomer password=s3cr3t-pw dbname=boomer")}) {
        INFO(redact_dsn(dsn));
        auto error = expect_error([&] { open_postgres_store(dsn); });
        CHECK(error.kind() == error_kind::retryable);
        CHECK_THAT(error.what(), !Catch::Contains("s3cr3t"));
        CHECK_THAT(error.what(), Catch::Contains("***"));

        auto listen_error = expect_error([&] { postgres_listener listener(dsn); });
        CHECK(listen_error.kind() == error_kind::retryable);
        CHECK_THAT(listen_error.what(), !Catch::Contains("s3cr3t"));
    }
    postgres_options none;
    none.connections = 0;
    CHECK_THROWS_AS(open_postgres_store("postgresql://127.0.0.1:1/db", none),
                    std::invalid_argument);
}

// --- with a server ---

TEST_CASE("postgres store: migrations run once and reopening keeps the data", "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    std::string item_id;
    {
        auto s = open_postgres_store(pg_dsn(), pg_options(schema.name()));
        item_id = add_item(*s, "t", priority::normal, t0).item_id;
    }
    auto s = open_postgres_store(pg_dsn(), pg_options(schema.name()));
    CHECK(s->find_item("t", item_id));

    auto versions =
        pg_rows("SELECT version FROM schema_migrations ORDER BY version", schema.name());
    CHECK(versions.size() == pg::migrations().size());
    CHECK(versions.back() == std::to_string(pg::migrations().back().version));
}

TEST_CASE("postgres store: replicas starting at once on a fresh schema migrate once",
          "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    constexpr int replicas = 4;
    for (int round = 0; round < 3; ++round) {
        scoped_schema schema;
        std::latch start(replicas);
        std::vector<std::string> failures(replicas);
        std::vector<std::unique_ptr<store>> stores(replicas);
        std::vector<std::thread> threads;
        for (int r = 0; r < replicas; ++r) {
            threads.emplace_back([&, r] {
                start.arrive_and_wait();
                try {
                    stores[static_cast<std::size_t>(r)] =
                        open_postgres_store(pg_dsn(), pg_options(schema.name()));
                } catch (const std::exception& x) {
                    failures[static_cast<std::size_t>(r)] = x.what();
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        for (const auto& failure : failures) {
            CHECK(failure == "");
        }
        REQUIRE(std::all_of(stores.begin(), stores.end(), [](const auto& s) { return !!s; }));
        auto applied = pg_rows("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations",
                               schema.name());
        auto known = std::to_string(pg::migrations().size());
        CHECK(applied == std::vector<std::string>{known + "|" + known});
        for (auto& s : stores) {
            CHECK(add_item(*s, "t", priority::normal, t0).created);
        }
    }
}

TEST_CASE("postgres store: a schema newer than the build is refused as a bug", "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    open_postgres_store(pg_dsn(), pg_options(schema.name()));
    pg_rows("INSERT INTO schema_migrations (version, name) VALUES (999, 'future') RETURNING 1",
            schema.name());
    auto error = expect_error([&] { open_postgres_store(pg_dsn(), pg_options(schema.name())); });
    CHECK(error.kind() == error_kind::bug);
    CHECK_THAT(error.what(), Catch::Contains("999"));
}

TEST_CASE("postgres store: an idle connection the server ended is replaced before use",
          "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    auto options = one_connection_options(schema.name(), unique_application("reconnect"));
    auto s = open_postgres_store(pg_dsn(), options);
    auto ids = add_item(*s, "t", priority::normal, t0);
    REQUIRE(s->ping());

    // As after a database restart: no caller meets the dead connection.
    REQUIRE(terminate_backends(options.application_name) == 1);
    CHECK(s->find_item("t", ids.item_id));
    CHECK(claim_one(*s, "w", 1'000, t0).job_id == ids.job_id);  // prepared statements too
    REQUIRE(terminate_backends(options.application_name) == 1);
    CHECK(s->ping());
}

TEST_CASE("postgres store: a connection lost mid-statement is retryable once, then replaced",
          "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    auto options = one_connection_options(schema.name(), unique_application("midway"));
    auto s = open_postgres_store(pg_dsn(), options);
    auto ids = add_item(*s, "t", priority::normal, t0);
    auto job = claim_one(*s, "w", 60'000, t0);

    // The store's statement waits on a row another session holds; its backend is ended then.
    pqxx::connection other(pg_dsn());
    pqxx::work holder(other);
    holder.exec0("SET search_path TO " + holder.quote_name(schema.name()));
    holder.exec_params("SELECT 1 FROM jobs WHERE job_id = $1 FOR UPDATE", job.job_id);
    std::thread killer([&] {
        std::this_thread::sleep_for(200ms);
        terminate_backends(options.application_name);
    });
    auto error = expect_error([&] { s->heartbeat(job.job_id, job.fence, t0 + 90'000); });
    killer.join();
    CHECK(error.kind() == error_kind::retryable);
    CHECK_THAT(error.what(), Catch::Contains("heartbeat"));

    holder.abort();
    CHECK(s->heartbeat(job.job_id, job.fence, t0 + 90'000));
    CHECK(s->find_item("t", ids.item_id));
}

TEST_CASE("postgres store: a statement stuck behind a lock times out as retryable", "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    auto options = pg_options(schema.name());
    options.statement_timeout_ms = 200;
    auto s = open_postgres_store(pg_dsn(), options);
    add_item(*s, "t", priority::normal, t0);
    auto job = claim_one(*s, "w", 60'000, t0);

    // Another session holds the job's row.
    pqxx::connection other(pg_dsn());
    pqxx::work holder(other);
    holder.exec0("SET search_path TO " + holder.quote_name(schema.name()));
    holder.exec_params("SELECT 1 FROM jobs WHERE job_id = $1 FOR UPDATE", job.job_id);

    auto started = std::chrono::steady_clock::now();
    auto error = expect_error([&] { s->heartbeat(job.job_id, job.fence, t0 + 90'000); });
    CHECK(error.kind() == error_kind::retryable);
    CHECK_THAT(error.what(), Catch::Contains("57014"));
    CHECK(std::chrono::steady_clock::now() - started < 5s);

    holder.abort();
    CHECK(s->heartbeat(job.job_id, job.fence, t0 + 90'000));
}

TEST_CASE("postgres store: claims walk the claim index in queue order", "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    open_postgres_store(pg_dsn(), pg_options(schema.name()));
    pqxx::connection conn(pg_dsn());
    pqxx::nontransaction tx(conn);
    tx.exec0("SET search_path TO " + tx.quote_name(schema.name()));
    tx.exec0("SET enable_seqscan = off");
    std::string plan;
    for (const auto& row :
         tx.exec("EXPLAIN SELECT job_id FROM jobs WHERE state = 'queued' AND run_after_ms <= 1 "
                 "ORDER BY sort_key, job_id LIMIT 8 FOR UPDATE SKIP LOCKED")) {
        plan += row[0].as<std::string>() + "\n";
    }
    INFO(plan);
    CHECK_THAT(plan, Catch::Contains("jobs_claim"));
    CHECK_THAT(plan, !Catch::Contains("Sort"));
}

namespace {

// The SQL of the prepared statement `name` among `statements`.
std::string statement_sql(std::span<const pg::statement_def> statements, std::string_view name) {
    for (const auto& s : statements) {
        if (name == s.name) {
            return s.sql;
        }
    }
    FAIL("no statement " << name);
    return {};
}

}  // namespace

TEST_CASE(
    "postgres store: idempotency keys and near-duplicate photos are found through their "
    "indexes",
    "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    open_postgres_store(pg_dsn(), pg_options(schema.name()));
    pqxx::connection conn(pg_dsn());
    pqxx::nontransaction tx(conn);
    tx.exec0("SET search_path TO " + tx.quote_name(schema.name()));
    // Enough rows of one tenant that reading a whole table costs more than searching an index.
    tx.exec0(
        "INSERT INTO items (item_id, tenant_id, idempotency_key, priority, created_ms, "
        "updated_ms) SELECT 'itm_' || g, 't', 'key' || g, 'normal', g, g "
        "FROM generate_series(1, 5000) g");
    tx.exec0(
        "INSERT INTO jobs (job_id, item_id, tenant_id, state, priority, sort_key, max_attempts, "
        "created_ms, run_after_ms) SELECT 'job_' || g, 'itm_' || g, 't', 'succeeded', 'normal', "
        "g, 5, g, g FROM generate_series(1, 5000) g");
    tx.exec0(
        "INSERT INTO images (item_id, idx, sha256, phash, band0, band1, band2) "
        "SELECT 'itm_' || g, 0, md5(g::text), g * 7919, g, g + 100000, g + 200000 "
        "FROM generate_series(1, 5000) g");
    tx.exec0("ANALYZE");
    // The statements are prepared once and run many times, so their generic plans matter.
    tx.exec0("SET plan_cache_mode = force_generic_plan");
    auto plan_of = [&](const std::string& sql, const std::string& args) {
        tx.exec0("PREPARE q AS " + sql);
        std::string plan;
        for (const auto& row : tx.exec("EXPLAIN EXECUTE q " + args)) {
            plan += row[0].as<std::string>() + "\n";
        }
        tx.exec0("DEALLOCATE q");
        return plan;
    };

    auto by_key = plan_of(statement_sql(pg::intake_statements(), "find_by_key"), "('t', 'key7')");
    INFO(by_key);
    CHECK_THAT(by_key, Catch::Contains("items_idempotency"));
    CHECK_THAT(by_key, !Catch::Contains("Seq Scan on items"));

    auto similar = plan_of(statement_sql(pg::photo_statements(), "similar_photos"),
                           "('{1,2,3}', '{4,5}', '{6}', 't', 'itm_0', '{7919}', 5, 8)");
    INFO(similar);
    for (const char* index : {"images_band0", "images_band1", "images_band2"}) {
        CHECK_THAT(similar, Catch::Contains(index));
    }
    CHECK_THAT(similar, !Catch::Contains("Seq Scan on images"));
}

TEST_CASE("postgres store: the listener wakes when a job becomes runnable, and only then",
          "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    scoped_schema elsewhere;
    auto s = open_postgres_store(pg_dsn(), pg_options(schema.name()));
    auto other = open_postgres_store(pg_dsn(), pg_options(elsewhere.name()));
    postgres_listener listener(pg_dsn(), pg_options(schema.name()));
    CHECK_FALSE(listener.wait_for_notification(50ms));

    auto ids = add_item(*s, "t", priority::normal, t0);
    CHECK(listener.wait_for_notification(5s));
    CHECK_FALSE(listener.wait_for_notification(50ms));  // consumed

    // Another schema's jobs, claims and fenced writes wake nobody here.
    add_item(*other, "t", priority::normal, t0);
    auto job = claim_one(*s, "w", 1'000, t0);
    CHECK(s->heartbeat(job.job_id, job.fence, t0 + 1'000));
    CHECK_FALSE(listener.wait_for_notification(200ms));

    CHECK(s->release(job.job_id, job.fence, t0 + 10));
    CHECK(listener.wait_for_notification(5s));

    job = claim_one(*s, "w", 1'000, t0 + 20);
    CHECK_FALSE(listener.wait_for_notification(50ms));
    CHECK(s->rescue_expired(t0 + 5'000).touched() == 1);
    CHECK(listener.wait_for_notification(5s));

    REQUIRE(s->cancel("t", ids.item_id, t0 + 6'000) == cancel_outcome::canceled);
    CHECK_FALSE(listener.wait_for_notification(50ms));
    CHECK(s->retry("t", ids.item_id, t0 + 7'000));
    CHECK(listener.wait_for_notification(5s));
}

TEST_CASE("postgres store: the listener reconnects after losing its connection", "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    auto s = open_postgres_store(pg_dsn(), pg_options(schema.name()));
    auto options = pg_options(schema.name());
    options.application_name = unique_application("listener");
    postgres_listener listener(pg_dsn(), options);

    REQUIRE(terminate_backends(options.application_name) == 1);
    // Told to look at the queue: notifications may have been missed while it was away.
    CHECK(listener.wait_for_notification(5s));
    add_item(*s, "t", priority::normal, t0);
    CHECK(listener.wait_for_notification(5s));
    CHECK_FALSE(listener.wait_for_notification(50ms));
}
