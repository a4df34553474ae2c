// What the scheduler reports, turned into metrics and log lines.
#pragma once

#include "core/metrics.hpp"
#include "pipeline/scheduler.hpp"

namespace boomer::service {

class pipeline_events final : public pipeline::pipeline_observer {
public:
    explicit pipeline_events(metrics::registry& registry);

    void stage_finished(std::string_view stage, double seconds, bool ok) override;
    void job_finished(const store::claimed_job& job, store::job_state state,
                      std::string_view error_code, std::string_view message) override;
    void job_retry(const store::claimed_job& job, std::string_view error_code,
                   std::string_view message, std::int64_t delay_ms, bool attempt_spent) override;
    void job_parked(const store::claimed_job& job, std::string_view waits_for) override;
    void lease_lost(const store::claimed_job& job) override;
    void rescued(int count) override;
    void internal_error(std::string_view where, std::string_view what) override;

private:
    metrics::family<metrics::histogram>& stage_seconds_;
    metrics::family<metrics::counter>& stage_failures_;
    metrics::family<metrics::counter>& finished_;
    metrics::family<metrics::counter>& retries_;
    metrics::counter& parked_;
    metrics::counter& leases_lost_;
    metrics::counter& rescued_;
    metrics::family<metrics::counter>& internal_errors_;
};

}  // namespace boomer::service
