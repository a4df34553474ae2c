// The Postgres schema, version by version, and the code that applies it.
#include "store/postgres_schema.hpp"

#include <array>
#include <string>

namespace boomer::store::pg {
namespace {

// Version 1: items, their images, one job per item, and the per-stage checkpoints; the same
// shape as the SQLite engine's version 1.
//
// Identifiers are COLLATE "C" so that they sort bytewise (cursors, claim ties) in any locale.
// The claim index is partial (queued rows only) and ordered by sort_key, so a claim walks it in
// queue order and stops after `max` rows; run_after_ms rides along in the index so that delayed
// jobs are skipped without reading the table. stage_results.seq comes from a sequence, so a
// stage saved again takes a number after every other stage's.
constexpr const char* v1_sql = R"sql(
CREATE TABLE items (
    item_id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id       TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL DEFAULT '',
    title_hint      TEXT NOT NULL DEFAULT '',
    sku             TEXT NOT NULL DEFAULT '',
    condition       TEXT NOT NULL DEFAULT '',
    priority        TEXT NOT NULL CHECK (priority IN ('urgent', 'normal', 'bulk')),
    source          TEXT NOT NULL DEFAULT '',
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    result_json     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX items_idempotency ON items (tenant_id, idempotency_key)
    WHERE idempotency_key <> '';
CREATE INDEX items_tenant ON items (tenant_id, item_id);

CREATE TABLE images (
    item_id    TEXT COLLATE "C" NOT NULL REFERENCES items (item_id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    filename   TEXT NOT NULL DEFAULT '',
    media_type TEXT NOT NULL DEFAULT '',
    bytes      BIGINT NOT NULL DEFAULT 0,
    width      INTEGER NOT NULL DEFAULT 0,
    height     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, idx)
);

CREATE TABLE jobs (
    job_id          TEXT COLLATE "C" PRIMARY KEY,
    item_id         TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES items (item_id)
                        ON DELETE CASCADE,
    tenant_id       TEXT COLLATE "C" NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded',
                                                   'needs_review', 'failed', 'canceled')),
    priority        TEXT NOT NULL CHECK (priority IN ('urgent', 'normal', 'bulk')),
    sort_key        BIGINT NOT NULL,
    stage           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    created_ms      BIGINT NOT NULL,
    started_ms      BIGINT NOT NULL DEFAULT 0,
    finished_ms     BIGINT NOT NULL DEFAULT 0,
    run_after_ms    BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    locked_until_ms BIGINT NOT NULL DEFAULT 0,
    fence           BIGINT NOT NULL DEFAULT 0,
    error_code      TEXT NOT NULL DEFAULT '',
    error_message   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_claim ON jobs (sort_key, job_id) INCLUDE (run_after_ms)
    WHERE state = 'queued';
CREATE INDEX jobs_rescue ON jobs (locked_until_ms) WHERE state = 'running';
CREATE INDEX jobs_tenant_state ON jobs (tenant_id, state, item_id);

CREATE TABLE stage_results (
    job_id      TEXT COLLATE "C" NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    output_json TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    finished_ms BIGINT NOT NULL,
    seq         BIGSERIAL NOT NULL,
    PRIMARY KEY (job_id, stage)
);
)sql";

// Version 2: the second-level cache shared by the replicas. Expired rows stay until purged and
// are never read; the expiry index serves the purge.
constexpr const char* v2_sql = R"sql(
CREATE TABLE cache_entries (
    key           TEXT COLLATE "C" PRIMARY KEY,
    value         TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX cache_expiry ON cache_entries (expires_at_ms);
)sql";

// Version 3: the user's eBay category id hint, used for comps and the listing export.
constexpr const char* v3_sql = R"sql(
ALTER TABLE items ADD COLUMN category_hint TEXT NOT NULL DEFAULT '';
)sql";

// Version 4: each normalized photo's perceptual hash and the near-duplicate index; the same
// shape as the SQLite engine's version 4. The bands are set only for photos offered for reuse,
// so the partial band indexes hold nothing else; a lookup probes them with = ANY (array), which
// the planner answers with one bitmap index scan per band, OR-ed, then keeps the rows within
// the distance (bit_count of the XOR).
constexpr const char* v4_sql = R"sql(
ALTER TABLE images ADD COLUMN phash BIGINT, ADD COLUMN band0 INTEGER,
    ADD COLUMN band1 INTEGER, ADD COLUMN band2 INTEGER;
CREATE INDEX images_band0 ON images (band0) WHERE band0 IS NOT NULL;
CREATE INDEX images_band1 ON images (band1) WHERE band1 IS NOT NULL;
CREATE INDEX images_band2 ON images (band2) WHERE band2 IS NOT NULL;
)sql";

// Version 5: the upstream work a parked job waits for; the same shape as the SQLite engine's
// version 5.
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

// The first key of the advisory lock taken while migrating ("boom"); the second is a hash of
// the schema's name, so replicas of different schemas do not wait for each other.
constexpr int migration_lock_class = 0x626f6f6d;

// target_schema returns the schema the migration writes to, creating the configured one.
std::string target_schema(pqxx::work& tx, const std::string& configured) {
    if (!configured.empty()) {
        return configured;
    }
    auto row = tx.exec1("SELECT current_schema()");
    if (row[0].is_null()) {
        throw store_error(error_kind::bug,
                          "postgres: no schema of the search_path exists; create one or set "
                          "the store's schema option");
    }
    return row[0].as<std::string>();
}

int apply_missing(pqxx::work& tx) {
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    int version = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0].as<int>();
    int latest = migrations().back().version;
    if (version > latest) {
        throw store_error(error_kind::bug, "postgres: the database is at schema version " +
                                               std::to_string(version) + " but this build knows " +
                                               "only up to " + std::to_string(latest));
    }
    for (const auto& m : migrations()) {
        if (m.version > version) {
            tx.exec(m.sql);
            tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            m.version, std::string(m.name));
        }
    }
    return latest;
}

}  // namespace

std::span<const migration> migrations() {
    return all_migrations;
}

int migrate(session_pool& pool) {
    const std::string configured = pool.settings().schema;
    return pool.run("migrate the schema", [&](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto schema = target_schema(tx, configured);
        tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", migration_lock_class,
                       schema);
        if (!configured.empty()) {
            tx.exec0("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(configured));
        }
        int latest = apply_missing(tx);
        tx.commit();
        return latest;
    });
}

}  // namespace boomer::store::pg
