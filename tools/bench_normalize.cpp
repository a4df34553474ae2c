// bench_normalize: how long normalize (and, with --process, normalize plus analysis) takes per
// photo. Each file is read once, then normalized N times; prints the median, min and max
// wall-clock milliseconds per file, the median CPU milliseconds (all threads; on a busy machine
// this is the steadier figure) and the process's peak resident memory.
//
// Usage: bench_normalize [--runs N] [--process] [FILE...]
// Without files it uses two 12-megapixel photos of the shared test set
// ($BOOMER_SHARED_DIR or ../shared, then testdata/images/...).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/image/analyze.hpp"
#include "pipeline/image/normalize.hpp"

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

struct bench_config {
    int runs = 10;
    bool process = false;
    std::vector<std::string> files;
};

std::vector<std::string> default_files() {
    const char* shared = std::getenv("BOOMER_SHARED_DIR");
    const fs::path images = fs::path(shared != nullptr ? shared : "../shared") / "testdata/images";
    return {(images / "formats/progressive-jpeg-shopfront.jpg").string(),
            (images / "labels/book-page-text-dost.jpg").string()};
}

bench_config parse(int argc, char** argv) {
    bench_config config;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--runs" && i + 1 < argc) {
            config.runs = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--process") {
            config.process = true;
        } else if (arg.rfind("--", 0) == 0) {
            throw std::invalid_argument("usage: bench_normalize [--runs N] [--process] [FILE...]");
        } else {
            config.files.push_back(arg);
        }
    }
    if (config.files.empty()) {
        config.files = default_files();
    }
    return config;
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

double cpu_ms() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

struct timing {
    double wall_ms = -1;  // negative: the call failed
    double cpu_ms = 0;
};

double median_of(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// One timed call; prints the failure, if any.
timing time_once(const std::string& bytes, bool process) {
    const double cpu_start = cpu_ms();
    const auto start = steady::now();
    if (process) {
        const auto result = boomer::image::process(bytes);
        if (!result) {
            std::printf("  failed: %s: %s\n", result.error().code.c_str(),
                        result.error().message.c_str());
            return {};
        }
    } else {
        const auto result = boomer::image::normalize(bytes);
        if (!result) {
            std::printf("  failed: %s: %s\n", result.error().code.c_str(),
                        result.error().message.c_str());
            return {};
        }
    }
    return {std::chrono::duration<double, std::milli>(steady::now() - start).count(),
            cpu_ms() - cpu_start};
}

void bench_file(const std::string& path, const bench_config& config) {
    const std::string bytes = read_bytes(path);
    const auto info = boomer::image::probe(bytes);
    std::vector<double> wall;
    std::vector<double> cpu;
    for (int i = 0; i < config.runs; ++i) {
        const timing t = time_once(bytes, config.process);
        if (t.wall_ms < 0) {
            return;
        }
        wall.push_back(t.wall_ms);
        cpu.push_back(t.cpu_ms);
    }
    const auto [fastest, slowest] = std::minmax_element(wall.begin(), wall.end());
    std::printf(
        "%s %s: %s %dx%d, %zu bytes, %d runs: median %.1f ms, min %.1f, max %.1f; "
        "cpu median %.1f ms\n",
        config.process ? "process" : "normalize", fs::path(path).filename().c_str(),
        info ? std::string(boomer::image::format_name(info->format)).c_str() : "?",
        info ? info->width : 0, info ? info->height : 0, bytes.size(), config.runs, median_of(wall),
        *fastest, *slowest, median_of(cpu));
}

long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const bench_config config = parse(argc, argv);
        for (const std::string& file : config.files) {
            bench_file(file, config);
        }
        std::printf("peak RSS %.1f MiB\n", static_cast<double>(peak_rss_kib()) / 1024.0);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_normalize: %s\n", e.what());
        return 1;
    }
}
