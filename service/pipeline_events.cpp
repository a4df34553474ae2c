// Metrics and logs for pipeline events.
#include "service/pipeline_events.hpp"

#include "core/log.hpp"
#include "pipeline/finished_items.hpp"

namespace boomer::service {

pipeline_events::pipeline_events(metrics::registry& r)
    : stage_seconds_(r.histogram_family("boomer_stage_duration_seconds",
                                        "Time spent in each pipeline stage.", {"stage"},
                                        metrics::exponential_buckets(0.001, 2.5, 14))),
      stage_failures_(r.counter_family("boomer_stage_failures_total",
                                       "Stage runs that ended in a failure.", {"stage"})),
      finished_(pipeline::items_finished(r)),
      retries_(r.counter_family("boomer_job_retries_total",
                                "Jobs put back in the queue after a retryable failure.", {"code"})),
      parked_(r.counter_family("boomer_jobs_parked_total",
                               "Bulk jobs handed back to the queue while their vision call waits "
                               "in a message batch; each runs again once the batch has ended.")
                  .with({})),
      leases_lost_(r.counter_family("boomer_leases_lost_total",
                                    "Jobs whose lease was taken away while they ran.")
                       .with({})),
      rescued_(r.counter_family("boomer_leases_rescued_total",
                                "Jobs taken back from workers whose lease expired.")
                   .with({})),
      internal_errors_(r.counter_family("boomer_internal_errors_total",
                                        "Unexpected errors inside the pipeline.", {"where"})) {}

void pipeline_events::stage_finished(std::string_view stage, double seconds, bool ok) {
    stage_seconds_.with({stage}).observe(seconds);
    if (!ok) {
        stage_failures_.with({stage}).inc();
    }
}

void pipeline_events::job_finished(const store::claimed_job& job, store::job_state state,
                                   std::string_view error_code, std::string_view message) {
    finished_.with({store::to_string(state)}).inc();
    auto level = state == store::job_state::failed ? spdlog::level::warn : spdlog::level::info;
    log::event(level, "item_finished",
               {{"item_id", job.item_id},
                {"job_id", job.job_id},
                {"state", store::to_string(state)},
                {"attempt", job.attempts},
                {"error_code", error_code},
                {"reason", message}});
}

void pipeline_events::job_retry(const store::claimed_job& job, std::string_view error_code,
                                std::string_view message, std::int64_t delay_ms,
                                bool attempt_spent) {
    retries_.with({error_code}).inc();
    log::event(spdlog::level::warn, "item_retry",
               {{"item_id", job.item_id},
                {"job_id", job.job_id},
                {"attempt", job.attempts},
                {"attempt_spent", attempt_spent},
                {"error_code", error_code},
                {"reason", message},
                {"delay_ms", delay_ms}});
}

void pipeline_events::job_parked(const store::claimed_job& job, std::string_view waits_for) {
    parked_.inc();
    log::event(spdlog::level::debug, "item_parked",
               {{"item_id", job.item_id}, {"job_id", job.job_id}, {"batch_id", waits_for}});
}

void pipeline_events::lease_lost(const store::claimed_job& job) {
    leases_lost_.inc();
    log::event(spdlog::level::info, "lease_lost",
               {{"item_id", job.item_id}, {"job_id", job.job_id}, {"fence", job.fence}});
}

void pipeline_events::rescued(int count) {
    rescued_.inc(count);
    log::event(spdlog::level::warn, "leases_rescued", {{"count", count}});
}

void pipeline_events::internal_error(std::string_view where, std::string_view what) {
    internal_errors_.with({where}).inc();
    log::event(spdlog::level::err, "internal_error", {{"where", where}, {"what", what}});
}

}  // namespace boomer::service
