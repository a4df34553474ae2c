#include "tools/load_stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace boomer::tools {

double percentile(std::vector<double> values, double p) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    double rank = p * static_cast<double>(values.size() - 1);
    auto lo = static_cast<std::size_t>(std::floor(rank));
    auto hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

std::optional<process_sample> sample_process(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!status || !stat) {
        return std::nullopt;
    }
    process_sample out;
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) {
            out.rss_mb = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
        }
    }
    // Fields after the command name (which may hold spaces): utime and stime are the 14th and
    // 15th of the whole line, the 12th and 13th after it.
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() > 12) {
        out.cpu_seconds =
            (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    return out;
}

}  // namespace boomer::tools
