// The Postgres engine's job queue: claims with leases and fences, the fenced writes of a
// running job, rescue of expired leases, cancel and retry.
//
// The hot calls (claim, the fenced writes, rescue) are each one statement in autocommit mode,
// with data-modifying CTEs where a job and its item change together, so that each costs one
// round trip and holds its row locks only while it runs.
//
// Notifications go out after the change committed, in a transaction of their own
// (notify_runnable): Postgres serializes the commits of notifying transactions on one lock held
// through the commit's disk flush, so a NOTIFY inside create_item would cap intake at one
// durable commit at a time across all replicas. Every fenced write names
// (job_id, fence, state 'running'); under READ COMMITTED a write that waited on a concurrent
// one re-checks that condition on the row's newest version, so a stale fence never wins.
#include <algorithm>
#include <array>
#include <stdexcept>
#include <tuple>

#include "store/postgres_store_impl.hpp"

namespace boomer::store::pg {
namespace {

constexpr std::string_view requeued_message =
    "The worker processing this item stopped responding; the item was queued again.";

// Claims walk jobs_claim in queue order; SKIP LOCKED passes over rows another replica is
// claiming right now instead of waiting for it.
constexpr const char* claim_sql = R"sql(
UPDATE jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1,
       lease_owner = $1::text, locked_until_ms = $2::bigint + $3::bigint, waits_for = '',
       started_ms = CASE WHEN started_ms = 0 THEN $2 ELSE started_ms END
WHERE job_id IN (SELECT job_id FROM jobs
                 WHERE state = 'queued' AND run_after_ms <= $2
                 ORDER BY sort_key, job_id LIMIT $4::int
                 FOR UPDATE SKIP LOCKED)
RETURNING tenant_id, job_id, item_id, fence, attempts, max_attempts, sort_key
)sql";

// The job must still be ours while the checkpoint is written: FOR SHARE holds off a rescue or
// cancel until the insert is done, and sees theirs if they came first.
constexpr const char* save_checkpoint_sql = R"sql(
WITH held AS (
    SELECT job_id FROM jobs
    WHERE job_id = $1::text AND fence = $2::bigint AND state = 'running' FOR SHARE)
INSERT INTO stage_results (job_id, stage, output_json, duration_ms, finished_ms)
SELECT job_id, $3::text, $4::text, $5::bigint, $6::bigint FROM held
ON CONFLICT (job_id, stage) DO UPDATE SET output_json = excluded.output_json,
    duration_ms = excluded.duration_ms, finished_ms = excluded.finished_ms, seq = excluded.seq
RETURNING 1
)sql";

// Completions arrive as parallel arrays, one element per job; each joins its job row on
// (job_id, fence, running), so a stale one matches nothing and the others go through. `n` is the
// element's position, returned for the held ones. Rows are locked in job_id order, the same in
// every batch, so that two batches never wait on each other in a cycle.
constexpr const char* complete_many_sql = R"sql(
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::text[]) WITH ORDINALITY
        AS c (job_id, fence, state, error_code, error_message, result_json, n)),
locked AS (
    SELECT j.job_id FROM jobs j JOIN input c USING (job_id)
    WHERE j.fence = c.fence AND j.state = 'running'
    ORDER BY j.job_id FOR UPDATE OF j),
done AS (
    UPDATE jobs j SET state = c.state, finished_ms = $7::bigint, error_code = c.error_code,
           error_message = c.error_message, fence = j.fence + 1, lease_owner = '',
           locked_until_ms = 0
    FROM input c, locked l
    WHERE j.job_id = l.job_id AND c.job_id = l.job_id AND j.fence = c.fence
          AND j.state = 'running'
    RETURNING j.item_id, c.result_json, c.n)
UPDATE items SET result_json = done.result_json, updated_ms = $7 FROM done
WHERE items.item_id = done.item_id
RETURNING done.n
)sql";

// Extends the leases still held, locked in job order (as complete_many does) so that two
// writers never wait on each other's rows in opposite orders.
constexpr const char* heartbeat_many_sql = R"sql(
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS h (job_id, fence, n)),
locked AS (
    SELECT j.job_id FROM jobs j JOIN input h USING (job_id)
    WHERE j.fence = h.fence AND j.state = 'running'
    ORDER BY j.job_id FOR UPDATE OF j)
UPDATE jobs j SET locked_until_ms = $3::bigint
FROM input h, locked l
WHERE j.job_id = l.job_id AND h.job_id = l.job_id AND j.fence = h.fence
RETURNING h.n
)sql";

constexpr const char* retry_later_sql = R"sql(
WITH backed_off AS (
    UPDATE jobs SET
        state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
        finished_ms = CASE WHEN attempts >= max_attempts THEN $6::bigint ELSE 0 END,
        run_after_ms = $5::bigint, error_code = $3::text, error_message = $4::text,
        fence = fence + 1, lease_owner = '', locked_until_ms = 0
    WHERE job_id = $1::text AND fence = $2::bigint AND state = 'running'
    RETURNING item_id, state),
touched AS (
    UPDATE items SET updated_ms = $6 FROM backed_off
    WHERE items.item_id = backed_off.item_id AND backed_off.state = 'failed'
    RETURNING 1)
SELECT state FROM backed_off
)sql";

// Hands a job back with its attempt (release, park and defer): waiting for upstream work
// ($4, may be empty), and with why it waits ($5, $6) unless $5 is empty.
constexpr const char* hand_back_sql = R"sql(
UPDATE jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), fence = fence + 1,
       run_after_ms = $3::bigint, lease_owner = '', locked_until_ms = 0, waits_for = $4::text,
       error_code = CASE WHEN $5::text = '' THEN error_code ELSE $5::text END,
       error_message = CASE WHEN $5::text = '' THEN error_message ELSE $6::text END
WHERE job_id = $1::text AND fence = $2::bigint AND state = 'running'
)sql";

constexpr const char* wake_parked_sql = R"sql(
UPDATE jobs SET run_after_ms = LEAST(run_after_ms, $2::bigint), waits_for = ''
WHERE state = 'queued' AND waits_for <> '' AND ($1::text = '' OR waits_for = $1::text)
)sql";

// Both updates read the same snapshot, so their conditions must not overlap: attempts used up
// fail for good, the others go back to the queue, runnable at once.
constexpr const char* rescue_sql = R"sql(
WITH given_up AS (
    UPDATE jobs SET state = 'failed', finished_ms = $1::bigint, fence = fence + 1,
           lease_owner = '', locked_until_ms = 0, error_code = 'lease_expired',
           error_message = 'The worker processing this item stopped responding on its last '
               || 'attempt (' || attempts || ' of ' || max_attempts || '); processing was '
               || 'given up. Retry the item to try again.'
    WHERE state = 'running' AND locked_until_ms < $1 AND attempts >= max_attempts
    RETURNING tenant_id, job_id, item_id, fence, attempts, max_attempts, error_message),
requeued AS (
    UPDATE jobs SET state = 'queued', run_after_ms = $1, fence = fence + 1, lease_owner = '',
           locked_until_ms = 0, error_code = 'lease_expired', error_message = $2::text
    WHERE state = 'running' AND locked_until_ms < $1 AND attempts < max_attempts
    RETURNING 1),
touched AS (
    UPDATE items SET updated_ms = $1 FROM given_up
    WHERE items.item_id = given_up.item_id
    RETURNING 1)
-- One row even when nothing was given up, for the count of the requeued.
SELECT (SELECT COUNT(*) FROM requeued), g.tenant_id, g.job_id, g.item_id, g.fence, g.attempts,
       g.max_attempts, g.error_message
FROM (SELECT 1) AS one LEFT JOIN given_up AS g ON true
)sql";

constexpr std::array<statement_def, 19> statements{{
    {"claim", claim_sql},
    {"heartbeat",
     "UPDATE jobs SET locked_until_ms = $3::bigint "
     "WHERE job_id = $1::text AND fence = $2::bigint AND state = 'running'"},
    {"heartbeat_many", heartbeat_many_sql},
    {"set_stage",
     "UPDATE jobs SET stage = $3::text "
     "WHERE job_id = $1::text AND fence = $2::bigint AND state = 'running'"},
    {"save_checkpoint", save_checkpoint_sql},
    {"checkpoints",
     "SELECT stage, output_json, duration_ms, finished_ms FROM stage_results "
     "WHERE job_id = $1::text ORDER BY seq"},
    {"complete_many", complete_many_sql},
    {"retry_later", retry_later_sql},
    {"hand_back", hand_back_sql},
    {"wake_parked", wake_parked_sql},
    {"wake_deferred",
     "UPDATE jobs SET run_after_ms = $2::bigint WHERE state = 'queued' AND waits_for = '' "
     "AND error_code = $1::text AND run_after_ms > $2::bigint"},
    {"parked_on",
     "SELECT DISTINCT waits_for FROM jobs WHERE state = 'queued' AND waits_for <> '' "
     "LIMIT $1::bigint"},
    {"rescue_expired", rescue_sql},
    {"lock_job_of_item",
     "SELECT state, priority FROM jobs WHERE tenant_id = $1::text AND item_id = $2::text "
     "FOR UPDATE"},
    {"cancel_job",
     "UPDATE jobs SET state = 'canceled', finished_ms = $2::bigint, fence = fence + 1, "
     "lease_owner = '', locked_until_ms = 0, waits_for = '', error_code = '', error_message = '' "
     "WHERE item_id = $1::text"},
    {"requeue_job",
     "UPDATE jobs SET state = 'queued', attempts = 0, fence = fence + 1, sort_key = $3::bigint, "
     "run_after_ms = $2::bigint, started_ms = 0, finished_ms = 0, error_code = '', "
     "error_message = '', lease_owner = '', locked_until_ms = 0, waits_for = '' "
     "WHERE item_id = $1::text"},
    {"touch_item", "UPDATE items SET updated_ms = $2::bigint WHERE item_id = $1::text"},
    {"reset_item",
     "UPDATE items SET result_json = '', updated_ms = $2::bigint WHERE item_id = $1::text"},
    // Its own transaction, committed without waiting for the disk: see notify_runnable.
    {"notify_jobs",
     "SELECT set_config('synchronous_commit', 'off', true), "
     "pg_notify('boomer_jobs', current_schema())"},
}};

struct claimed_row {
    claimed_job job;
    std::int64_t sort_key = 0;
};

}  // namespace

std::span<const statement_def> queue_statements() {
    return statements;
}

// --- claim and the fenced writes ---

std::vector<claimed_job> postgres_store::claim(std::string_view worker_id, int max,
                                               std::int64_t lease_ms, std::int64_t now_ms) {
    if (max <= 0) {
        return {};
    }
    std::vector<claimed_row> rows;
    for (const auto& row : exec("claim", worker_id, now_ms, lease_ms, max)) {
        claimed_job job{row[0].as<std::string>(), row[1].as<std::string>(),
                        row[2].as<std::string>(), row[3].as<std::int64_t>(),
                        row[4].as<int>(),         row[5].as<int>()};
        rows.push_back(claimed_row{std::move(job), row[6].as<std::int64_t>()});
    }

    // RETURNING gives no order; hand the jobs out in queue order.
    std::sort(rows.begin(), rows.end(), [](const claimed_row& a, const claimed_row& b) {
        return std::tie(a.sort_key, a.job.job_id) < std::tie(b.sort_key, b.job.job_id);
    });
    std::vector<claimed_job> jobs;
    jobs.reserve(rows.size());
    for (auto& row : rows) {
        jobs.push_back(std::move(row.job));
    }
    return jobs;
}

bool postgres_store::heartbeat(std::string_view job_id, std::int64_t fence,
                               std::int64_t locked_until_ms) {
    return exec("heartbeat", job_id, fence, locked_until_ms).affected_rows() == 1;
}

std::vector<bool> postgres_store::heartbeat_many(const std::vector<lease_ref>& leases,
                                                 std::int64_t locked_until_ms) {
    std::vector<bool> held(leases.size(), false);
    if (leases.empty()) {
        return held;
    }
    auto rows =
        exec("heartbeat_many",
             array_literal(
                 leases, [](const lease_ref& l) -> const auto& { return l.job_id; }),
             array_literal(leases, [](const lease_ref& l) { return std::to_string(l.fence); }),
             locked_until_ms);
    for (const auto& row : rows) {
        auto n = row[0].as<std::int64_t>();  // 1-based
        if (n >= 1 && n <= static_cast<std::int64_t>(held.size())) {
            held[static_cast<std::size_t>(n - 1)] = true;
        }
    }
    return held;
}

bool postgres_store::set_stage(std::string_view job_id, std::int64_t fence,
                               std::string_view stage) {
    return exec("set_stage", job_id, fence, stage).affected_rows() == 1;
}

bool postgres_store::save_checkpoint(std::string_view job_id, std::int64_t fence,
                                     const checkpoint& c) {
    return exec("save_checkpoint", job_id, fence, c.stage, c.output_json, c.duration_ms,
                c.finished_ms)
               .size() == 1;
}

std::vector<checkpoint> postgres_store::checkpoints(std::string_view job_id) {
    std::vector<checkpoint> out;
    for (const auto& row : exec("checkpoints", job_id)) {
        out.push_back(checkpoint{row[0].as<std::string>(), row[1].as<std::string>(),
                                 row[2].as<std::int64_t>(), row[3].as<std::int64_t>()});
    }
    return out;
}

std::vector<bool> postgres_store::complete_many(const std::vector<completion>& batch,
                                                std::int64_t now_ms) {
    check_completions(batch);
    std::vector<bool> held(batch.size(), false);
    if (batch.empty()) {
        return held;
    }
    using c = completion;
    auto rows = exec("complete_many",
                     array_literal(
                         batch, [](const c& x) -> const auto& { return x.job_id; }),
                     array_literal(batch, [](const c& x) { return std::to_string(x.fence); }),
                     array_literal(batch, [](const c& x) { return to_string(x.final_state); }),
                     array_literal(
                         batch, [](const c& x) -> const auto& { return x.error_code; }),
                     array_literal(
                         batch, [](const c& x) -> const auto& { return x.error_message; }),
                     array_literal(
                         batch, [](const c& x) -> const auto& { return x.result_json; }),
                     now_ms);
    for (const auto& row : rows) {
        auto n = row[0].as<std::int64_t>();  // 1-based
        if (n >= 1 && n <= static_cast<std::int64_t>(held.size())) {
            held[static_cast<std::size_t>(n - 1)] = true;
        }
    }
    return held;
}

bool postgres_store::retry_later(std::string_view job_id, std::int64_t fence,
                                 std::string_view error_code, std::string_view error_message,
                                 std::int64_t run_after_ms, std::int64_t now_ms) {
    return exec("retry_later", job_id, fence, error_code, error_message, run_after_ms, now_ms)
               .size() == 1;
}

bool postgres_store::park(std::string_view job_id, std::int64_t fence, std::string_view waits_for,
                          std::int64_t run_after_ms) {
    const std::string_view none;  // keeps the error shown
    return exec("hand_back", job_id, fence, run_after_ms, waits_for, none, none).affected_rows() ==
           1;
}

int postgres_store::wake_parked(std::string_view waits_for, std::int64_t now_ms) {
    const auto woken = static_cast<int>(exec("wake_parked", waits_for, now_ms).affected_rows());
    if (woken > 0) {
        notify_runnable();
    }
    return woken;
}

int postgres_store::wake_deferred(std::string_view error_code, std::int64_t now_ms) {
    const auto woken = static_cast<int>(exec("wake_deferred", error_code, now_ms).affected_rows());
    if (woken > 0) {
        notify_runnable();
    }
    return woken;
}

std::vector<std::string> postgres_store::parked_on(std::size_t limit) {
    std::vector<std::string> out;
    for (const auto& row : exec("parked_on", static_cast<std::int64_t>(limit))) {
        out.emplace_back(row[0].c_str());
    }
    return out;
}

bool postgres_store::defer(std::string_view job_id, std::int64_t fence, std::string_view error_code,
                           std::string_view error_message, std::int64_t run_after_ms) {
    const std::string_view nothing;  // waits for no upstream work
    return exec("hand_back", job_id, fence, run_after_ms, nothing, error_code, error_message)
               .affected_rows() == 1;
}

bool postgres_store::release(std::string_view job_id, std::int64_t fence,
                             std::int64_t run_after_ms) {
    const std::string_view nothing;  // parked on nothing
    bool held = park(job_id, fence, nothing, run_after_ms);
    if (held) {
        notify_runnable();
    }
    return held;
}

rescue_outcome postgres_store::rescue_expired(std::int64_t now_ms) {
    auto rows = exec("rescue_expired", now_ms, requeued_message);
    rescue_outcome outcome;
    outcome.requeued = rows[0][0].as<int>();
    for (const auto& row : rows) {
        if (row[2].is_null()) {
            continue;
        }
        claimed_job job{row[1].as<std::string>(), row[2].as<std::string>(),
                        row[3].as<std::string>(), row[4].as<std::int64_t>(),
                        row[5].as<int>(),         row[6].as<int>()};
        outcome.failed.push_back({std::move(job), row[7].as<std::string>()});
    }
    if (outcome.requeued > 0) {
        notify_runnable();
    }
    return outcome;
}

void postgres_store::notify_runnable() {
    try {
        exec("notify_jobs");
    } catch (const store_error&) {
        // The change itself is committed; failing the call now would make the caller redo it.
        // A listener that misses this wakes at its own timeout and finds the job then.
    }
}

// --- cancel and retry: short transactions, the job's row locked first ---

cancel_outcome postgres_store::cancel(std::string_view tenant_id, std::string_view item_id,
                                      std::int64_t now_ms) {
    return pool_.run("cancel", [&](pqxx::connection& conn) {
        pqxx::work tx(conn);
        std::string item(item_id);
        auto job = tx.exec_prepared("lock_job_of_item", std::string(tenant_id), item);
        if (job.empty()) {
            return cancel_outcome::not_found;
        }
        if (is_final(state_from_db(job[0][0].c_str()))) {
            return cancel_outcome::already_final;
        }
        tx.exec_prepared("cancel_job", item, now_ms);
        tx.exec_prepared("touch_item", item, now_ms);
        tx.commit();
        return cancel_outcome::canceled;
    });
}

bool postgres_store::retry(std::string_view tenant_id, std::string_view item_id,
                           std::int64_t now_ms) {
    return requeue(tenant_id, item_id, now_ms, false);
}

bool postgres_store::redo(std::string_view tenant_id, std::string_view item_id,
                          std::int64_t now_ms) {
    return requeue(tenant_id, item_id, now_ms, true);
}

bool postgres_store::requeue(std::string_view tenant_id, std::string_view item_id,
                             std::int64_t now_ms, bool any_final) {
    bool requeued = pool_.run("retry", [&](pqxx::connection& conn) {
        pqxx::work tx(conn);
        std::string item(item_id);
        auto job = tx.exec_prepared("lock_job_of_item", std::string(tenant_id), item);
        if (job.empty()) {
            return false;
        }
        auto state = state_from_db(job[0][0].c_str());
        const bool takes = any_final ? is_final(state)
                                     : state == job_state::failed || state == job_state::canceled;
        if (!takes) {
            return false;
        }
        auto prio = priority_from_db(job[0][1].c_str());
        tx.exec_prepared("requeue_job", item, now_ms, aging_.sort_key(prio, now_ms));
        tx.exec_prepared("reset_item", item, now_ms);
        tx.commit();
        return true;
    });
    if (requeued) {
        notify_runnable();
    }
    return requeued;
}

}  // namespace boomer::store::pg
