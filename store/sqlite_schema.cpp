// The SQLite schema, version by version, and the code that applies it.
#include "store/sqlite_schema.hpp"

#include <array>
#include <string>

#include "core/clock.hpp"

namespace boomer::store::sqlite {
namespace {

// Version 1: items, their images, one job per item, and the per-stage checkpoints.
//
// The claim index is partial (queued rows only) and ordered by sort_key first, so a claim walks
// it in queue order and stops after `max` rows instead of sorting every runnable job; run_after
// is in the index so that delayed jobs are skipped without reading the table. The rescue index
// is partial too (running rows only), which also keeps the planner from using it for claims.
constexpr const char* v1_sql = R"sql(
CREATE TABLE items (
    item_id         TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL DEFAULT '',
    title_hint      TEXT NOT NULL DEFAULT '',
    sku             TEXT NOT NULL DEFAULT '',
    condition       TEXT NOT NULL DEFAULT '',
    priority        TEXT NOT NULL CHECK (priority IN ('urgent', 'normal', 'bulk')),
    source          TEXT NOT NULL DEFAULT '',
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    result_json     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX items_idempotency ON items (tenant_id, idempotency_key)
    WHERE idempotency_key <> '';
CREATE INDEX items_tenant ON items (tenant_id, item_id);

CREATE TABLE images (
    item_id    TEXT NOT NULL REFERENCES items (item_id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    filename   TEXT NOT NULL DEFAULT '',
    media_type TEXT NOT NULL DEFAULT '',
    bytes      INTEGER NOT NULL DEFAULT 0,
    width      INTEGER NOT NULL DEFAULT 0,
    height     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, idx)
);

CREATE TABLE jobs (
    job_id          TEXT PRIMARY KEY,
    item_id         TEXT NOT NULL UNIQUE REFERENCES items (item_id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded',
                                                   'needs_review', 'failed', 'canceled')),
    priority        TEXT NOT NULL CHECK (priority IN ('urgent', 'normal', 'bulk')),
    sort_key        INTEGER NOT NULL,
    stage           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    created_ms      INTEGER NOT NULL,
    started_ms      INTEGER NOT NULL DEFAULT 0,
    finished_ms     INTEGER NOT NULL DEFAULT 0,
    run_after_ms    INTEGER NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    locked_until_ms INTEGER NOT NULL DEFAULT 0,
    fence           INTEGER NOT NULL DEFAULT 0,
    error_code      TEXT NOT NULL DEFAULT '',
    error_message   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_claim ON jobs (sort_key, job_id, run_after_ms) WHERE state = 'queued';
CREATE INDEX jobs_rescue ON jobs (locked_until_ms) WHERE state = 'running';
CREATE INDEX jobs_tenant_state ON jobs (tenant_id, state, item_id);

CREATE TABLE stage_results (
    job_id      TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    output_json TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (job_id, stage)
);
)sql";

// Version 2: the second-level cache. Expired rows stay until purged and are never read; the
// expiry index serves the purge.
constexpr const char* v2_sql = R"sql(
CREATE TABLE cache_entries (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX cache_expiry ON cache_entries (expires_at_ms);
)sql";

// Version 3: the user's eBay category id hint, used for comps and the listing export.
constexpr const char* v3_sql = R"sql(
ALTER TABLE items ADD COLUMN category_hint TEXT NOT NULL DEFAULT '';
)sql";

// Version 4: each normalized photo's perceptual hash (the 64-bit value as a signed integer,
// NULL until normalized), and the near-duplicate index: its three bands (see store.hpp), set
// only for photos offered for reuse, so the partial band indexes hold nothing else. A lookup
// probes each band index with a few values, then keeps the rows within the distance
// (boomer_hamming, registered on each connection).
constexpr const char* v4_sql = R"sql(
ALTER TABLE images ADD COLUMN phash INTEGER;
ALTER TABLE images ADD COLUMN band0 INTEGER;
ALTER TABLE images ADD COLUMN band1 INTEGER;
ALTER TABLE images ADD COLUMN band2 INTEGER;
CREATE INDEX images_band0 ON images (band0) WHERE band0 IS NOT NULL;
CREATE INDEX images_band1 ON images (band1) WHERE band1 IS NOT NULL;
CREATE INDEX images_band2 ON images (band2) WHERE band2 IS NOT NULL;
)sql";

// Version 5: the upstream work a parked job waits for (a message batch id; empty when none),
// indexed only where set, for the wake-up when that work ends.
constexpr const char* v5_sql = R"sql(
ALTER TABLE jobs ADD COLUMN waits_for TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_waits_for ON jobs (waits_for) WHERE waits_for <> '';
)sql";

constexpr std::array<migration, 5> all_migrations{{
    {1, "items, images, jobs, stage_results", v1_sql},
    {2, "cache_entries", v2_sql},
    {3, "items.category_hint", v3_sql},
    {4, "images.phash and the near-duplicate band index", v4_sql},
    {5, "jobs.waits_for", v5_sql},
}};

int current_version(connection& conn) {
    auto st = conn.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    st.step();
    return st.integer(0);
}

void apply(connection& conn, const migration& m) {
    conn.exec(m.sql);
    auto st = conn.prepare(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)");
    st.bind_all(m.version, m.name, iso8601_utc(system_clock::instance().now_ms()));
    st.run();
}

}  // namespace

std::span<const migration> migrations() {
    return all_migrations;
}

int migrate(connection& conn, std::mutex& write_mutex) {
    write_txn txn(conn, write_mutex);
    conn.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");

    int version = current_version(conn);
    int latest = migrations().back().version;
    if (version > latest) {
        throw store_error(error_kind::bug, "sqlite: the database is at schema version " +
                                               std::to_string(version) + " but this build knows " +
                                               "only up to " + std::to_string(latest));
    }
    for (const auto& m : migrations()) {
        if (m.version > version) {
            apply(conn, m);
        }
    }
    txn.commit();
    return latest;
}

}  // namespace boomer::store::sqlite
