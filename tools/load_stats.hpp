// What the load tools measure the same way: percentiles of latency samples, and a process's
// resident memory and CPU time read from /proc.
#pragma once

#include <optional>
#include <vector>

namespace boomer::tools {

// percentile returns the p-th quantile (p in [0, 1]) of `values`, linearly interpolated between
// the two nearest ranks; 0 for no values.
double percentile(std::vector<double> values, double p);

// What a process used: resident memory now and CPU time (user + system) since it started.
struct process_sample {
    double rss_mb = 0;
    double cpu_seconds = 0;
};

// sample_process reads /proc/<pid>/status and /proc/<pid>/stat; nullopt when the process is gone.
std::optional<process_sample> sample_process(int pid);

}  // namespace boomer::tools
