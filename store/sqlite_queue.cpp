// The SQLite engine's job queue: claims with leases and fences, the fenced writes of a running
// job, rescue of expired leases, cancel and retry. Every write is one short IMMEDIATE
// transaction, group-committed with concurrent ones; every fenced write names
// (job_id, fence, state 'running').
#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "store/sqlite_store_impl.hpp"

namespace boomer::store::sqlite {
namespace {

constexpr std::string_view requeued_message =
    "The worker processing this item stopped responding; the item was queued again.";

struct claimed_row {
    claimed_job job;
    std::int64_t sort_key = 0;
};

}  // namespace

void sqlite_store::touch_item(connection& conn, std::string_view item_id, std::int64_t now_ms) {
    conn.prepare("UPDATE items SET updated_ms = ?2 WHERE item_id = ?1")
        .bind_all(item_id, now_ms)
        .run();
}

// --- claim and the fenced writes ---

std::vector<claimed_job> sqlite_store::claim(std::string_view worker_id, int max,
                                             std::int64_t lease_ms, std::int64_t now_ms) {
    if (max <= 0) {
        return {};
    }
    std::vector<claimed_row> rows;
    write([&](connection& c) {
        rows.clear();
        auto st = c.prepare(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, "
            "lease_owner = ?1, locked_until_ms = ?2 + ?3, waits_for = '', "
            "started_ms = CASE WHEN started_ms = 0 THEN ?2 ELSE started_ms END "
            "WHERE job_id IN (SELECT job_id FROM jobs WHERE state = 'queued' "
            "AND run_after_ms <= ?2 ORDER BY sort_key, job_id LIMIT ?4) "
            "RETURNING tenant_id, job_id, item_id, fence, attempts, max_attempts, sort_key");
        st.bind_all(worker_id, now_ms, lease_ms, max);
        while (st.step()) {
            claimed_job job{st.text(0),  st.text(1),    st.text(2),
                            st.int64(3), st.integer(4), st.integer(5)};
            rows.push_back(claimed_row{std::move(job), st.int64(6)});
        }
    });

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

bool sqlite_store::heartbeat(std::string_view job_id, std::int64_t fence,
                             std::int64_t locked_until_ms) {
    bool held = false;
    write([&](connection& c) {
        held = c.prepare(
                    "UPDATE jobs SET locked_until_ms = ?3 "
                    "WHERE job_id = ?1 AND fence = ?2 AND state = 'running'")
                   .bind_all(job_id, fence, locked_until_ms)
                   .run() == 1;
    });
    return held;
}

std::vector<bool> sqlite_store::heartbeat_many(const std::vector<lease_ref>& leases,
                                               std::int64_t locked_until_ms) {
    std::vector<bool> held;
    if (leases.empty()) {
        return held;
    }
    // One transaction (one commit to disk) for every lease of the tick.
    write([&](connection& c) {
        held.assign(leases.size(), false);
        for (std::size_t i = 0; i < leases.size(); ++i) {
            held[i] = c.prepare(
                           "UPDATE jobs SET locked_until_ms = ?3 "
                           "WHERE job_id = ?1 AND fence = ?2 AND state = 'running'")
                          .bind_all(leases[i].job_id, leases[i].fence, locked_until_ms)
                          .run() == 1;
        }
    });
    return held;
}

bool sqlite_store::set_stage(std::string_view job_id, std::int64_t fence, std::string_view stage) {
    bool held = false;
    write([&](connection& c) {
        held = c.prepare(
                    "UPDATE jobs SET stage = ?3 "
                    "WHERE job_id = ?1 AND fence = ?2 AND state = 'running'")
                   .bind_all(job_id, fence, stage)
                   .run() == 1;
    });
    return held;
}

bool sqlite_store::save_checkpoint(std::string_view job_id, std::int64_t fence,
                                   const checkpoint& cp) {
    bool held = false;
    write([&](connection& c) {
        held =
            c.prepare("SELECT 1 FROM jobs WHERE job_id = ?1 AND fence = ?2 AND state = 'running'")
                .bind_all(job_id, fence)
                .step();
        if (!held) {
            return;
        }
        // A replaced stage takes the next sequence number: it finished after the others.
        c.prepare(
             "INSERT INTO stage_results (job_id, stage, output_json, duration_ms, finished_ms, "
             "seq) VALUES (?1, ?2, ?3, ?4, ?5, "
             "(SELECT COALESCE(MAX(seq), 0) + 1 FROM stage_results WHERE job_id = ?1)) "
             "ON CONFLICT (job_id, stage) DO UPDATE SET output_json = excluded.output_json, "
             "duration_ms = excluded.duration_ms, finished_ms = excluded.finished_ms, "
             "seq = excluded.seq")
            .bind_all(job_id, cp.stage, cp.output_json, cp.duration_ms, cp.finished_ms)
            .run();
    });
    return held;
}

std::vector<checkpoint> sqlite_store::checkpoints(std::string_view job_id) {
    auto conn = pool_.acquire();
    auto st = conn->prepare(
        "SELECT stage, output_json, duration_ms, finished_ms FROM stage_results "
        "WHERE job_id = ?1 ORDER BY seq");
    st.bind_all(job_id);
    std::vector<checkpoint> out;
    while (st.step()) {
        out.push_back(checkpoint{st.text(0), st.text(1), st.int64(2), st.int64(3)});
    }
    return out;
}

std::vector<bool> sqlite_store::complete_many(const std::vector<completion>& batch,
                                              std::int64_t now_ms) {
    check_completions(batch);
    std::vector<bool> held(batch.size(), false);
    if (batch.empty()) {
        return held;
    }
    write([&](connection& c) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
            held[i] = complete_one(c, batch[i], now_ms);
        }
    });
    return held;
}

bool sqlite_store::complete_one(connection& conn, const completion& c, std::int64_t now_ms) {
    std::string item_id;
    {
        auto st = conn.prepare(
            "UPDATE jobs SET state = ?3, finished_ms = ?4, error_code = ?5, "
            "error_message = ?6, fence = fence + 1, lease_owner = '', locked_until_ms = 0 "
            "WHERE job_id = ?1 AND fence = ?2 AND state = 'running' RETURNING item_id");
        st.bind_all(c.job_id, c.fence, to_string(c.final_state), now_ms, c.error_code,
                    c.error_message);
        if (!st.step()) {
            return false;
        }
        item_id = st.text(0);
        st.run();
    }
    conn.prepare("UPDATE items SET result_json = ?2, updated_ms = ?3 WHERE item_id = ?1")
        .bind_all(item_id, c.result_json, now_ms)
        .run();
    return true;
}

bool sqlite_store::retry_later(std::string_view job_id, std::int64_t fence,
                               std::string_view error_code, std::string_view error_message,
                               std::int64_t run_after_ms, std::int64_t now_ms) {
    bool held = false;
    write([&](connection& c) {
        std::string item_id;
        bool failed = false;
        {
            auto st = c.prepare(
                "UPDATE jobs SET "
                "state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
                "finished_ms = CASE WHEN attempts >= max_attempts THEN ?6 ELSE 0 END, "
                "run_after_ms = ?5, error_code = ?3, error_message = ?4, fence = fence + 1, "
                "lease_owner = '', locked_until_ms = 0 "
                "WHERE job_id = ?1 AND fence = ?2 AND state = 'running' "
                "RETURNING item_id, state");
            st.bind_all(job_id, fence, error_code, error_message, run_after_ms, now_ms);
            held = st.step();
            if (!held) {
                return;
            }
            item_id = st.text(0);
            failed = st.text(1) == "failed";
            st.run();
        }
        if (failed) {
            touch_item(c, item_id, now_ms);
        }
    });
    return held;
}

bool sqlite_store::release(std::string_view job_id, std::int64_t fence, std::int64_t run_after_ms) {
    return park(job_id, fence, "", run_after_ms);  // parked on nothing
}

bool sqlite_store::defer(std::string_view job_id, std::int64_t fence, std::string_view error_code,
                         std::string_view error_message, std::int64_t run_after_ms) {
    return hand_back(job_id, fence, "", error_code, error_message, run_after_ms);
}

bool sqlite_store::park(std::string_view job_id, std::int64_t fence, std::string_view waits_for,
                        std::int64_t run_after_ms) {
    return hand_back(job_id, fence, waits_for, "", "", run_after_ms);
}

bool sqlite_store::hand_back(std::string_view job_id, std::int64_t fence,
                             std::string_view waits_for, std::string_view error_code,
                             std::string_view error_message, std::int64_t run_after_ms) {
    bool held = false;
    write([&](connection& c) {
        held = c.prepare(
                    "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), "
                    "fence = fence + 1, run_after_ms = ?3, lease_owner = '', "
                    "locked_until_ms = 0, waits_for = ?4, "
                    "error_code = CASE WHEN ?5 = '' THEN error_code ELSE ?5 END, "
                    "error_message = CASE WHEN ?5 = '' THEN error_message ELSE ?6 END "
                    "WHERE job_id = ?1 AND fence = ?2 AND state = 'running'")
                   .bind_all(job_id, fence, run_after_ms, waits_for, error_code, error_message)
                   .run() == 1;
    });
    return held;
}

int sqlite_store::wake_parked(std::string_view waits_for, std::int64_t now_ms) {
    return rows_changed(
        "UPDATE jobs SET run_after_ms = MIN(run_after_ms, ?2), waits_for = '' "
        "WHERE state = 'queued' AND waits_for <> '' AND (?1 = '' OR waits_for = ?1)",
        waits_for, now_ms);
}

int sqlite_store::wake_deferred(std::string_view error_code, std::int64_t now_ms) {
    return rows_changed(
        "UPDATE jobs SET run_after_ms = ?2 WHERE state = 'queued' AND waits_for = '' "
        "AND error_code = ?1 AND run_after_ms > ?2",
        error_code, now_ms);
}

std::vector<std::string> sqlite_store::parked_on(std::size_t limit) {
    std::vector<std::string> out;
    auto conn = pool_.acquire();
    auto st = conn->prepare(
        "SELECT DISTINCT waits_for FROM jobs WHERE state = 'queued' AND waits_for <> '' "
        "LIMIT ?1");
    st.bind_all(static_cast<std::int64_t>(limit));
    while (st.step()) {
        out.push_back(st.text(0));
    }
    return out;
}

rescue_outcome sqlite_store::rescue_expired(std::int64_t now_ms) {
    rescue_outcome outcome;
    write([&](connection& c) {
        outcome = {};
        // No attempts left: the job fails for good, saying why.
        {
            auto st = c.prepare(
                "UPDATE jobs SET state = 'failed', finished_ms = ?1, fence = fence + 1, "
                "lease_owner = '', locked_until_ms = 0, error_code = 'lease_expired', "
                "error_message = 'The worker processing this item stopped responding on its "
                "last attempt (' || attempts || ' of ' || max_attempts || '); processing was "
                "given up. Retry the item to try again.' "
                "WHERE state = 'running' AND locked_until_ms < ?1 AND attempts >= max_attempts "
                "RETURNING tenant_id, job_id, item_id, fence, attempts, max_attempts, "
                "error_message");
            st.bind_all(now_ms);
            while (st.step()) {
                claimed_job job{st.text(0),  st.text(1),    st.text(2),
                                st.int64(3), st.integer(4), st.integer(5)};
                outcome.failed.push_back({std::move(job), st.text(6)});
            }
        }
        for (const auto& given_up : outcome.failed) {
            touch_item(c, given_up.job.item_id, now_ms);
        }

        // Attempts left: back to the queue, runnable at once.
        outcome.requeued = c.prepare(
                                "UPDATE jobs SET state = 'queued', run_after_ms = ?1, "
                                "fence = fence + 1, lease_owner = '', locked_until_ms = 0, "
                                "error_code = 'lease_expired', error_message = ?2 "
                                "WHERE state = 'running' AND locked_until_ms < ?1")
                               .bind_all(now_ms, requeued_message)
                               .run();
    });
    return outcome;
}

// --- cancel and retry ---

cancel_outcome sqlite_store::cancel(std::string_view tenant_id, std::string_view item_id,
                                    std::int64_t now_ms) {
    auto outcome = cancel_outcome::not_found;
    write([&](connection& c) {
        {
            auto st = c.prepare("SELECT state FROM jobs WHERE tenant_id = ?1 AND item_id = ?2");
            if (!st.bind_all(tenant_id, item_id).step()) {
                outcome = cancel_outcome::not_found;
                return;
            }
            if (is_final(state_from_db(st.text(0)))) {
                outcome = cancel_outcome::already_final;
                return;
            }
        }
        c.prepare(
             "UPDATE jobs SET state = 'canceled', finished_ms = ?2, fence = fence + 1, "
             "lease_owner = '', locked_until_ms = 0, waits_for = '', error_code = '', "
             "error_message = '' WHERE item_id = ?1")
            .bind_all(item_id, now_ms)
            .run();
        touch_item(c, item_id, now_ms);
        outcome = cancel_outcome::canceled;
    });
    return outcome;
}

bool sqlite_store::retry(std::string_view tenant_id, std::string_view item_id,
                         std::int64_t now_ms) {
    return requeue(tenant_id, item_id, now_ms, false);
}

bool sqlite_store::redo(std::string_view tenant_id, std::string_view item_id, std::int64_t now_ms) {
    return requeue(tenant_id, item_id, now_ms, true);
}

bool sqlite_store::requeue(std::string_view tenant_id, std::string_view item_id,
                           std::int64_t now_ms, bool any_final) {
    bool requeued = false;
    write([&](connection& c) {
        priority prio = priority::normal;
        {
            auto st =
                c.prepare("SELECT state, priority FROM jobs WHERE tenant_id = ?1 AND item_id = ?2");
            requeued = st.bind_all(tenant_id, item_id).step();
            if (!requeued) {
                return;
            }
            auto state = state_from_db(st.text(0));
            requeued = any_final ? is_final(state)
                                 : state == job_state::failed || state == job_state::canceled;
            if (!requeued) {
                return;
            }
            prio = priority_from_db(st.text(1));
        }
        c.prepare(
             "UPDATE jobs SET state = 'queued', attempts = 0, fence = fence + 1, "
             "sort_key = ?3, run_after_ms = ?2, started_ms = 0, finished_ms = 0, "
             "error_code = '', error_message = '', lease_owner = '', locked_until_ms = 0, "
             "waits_for = '' WHERE item_id = ?1")
            .bind_all(item_id, now_ms, aging_.sort_key(prio, now_ms))
            .run();
        c.prepare("UPDATE items SET result_json = '', updated_ms = ?2 WHERE item_id = ?1")
            .bind_all(item_id, now_ms)
            .run();
    });
    return requeued;
}

}  // namespace boomer::store::sqlite
