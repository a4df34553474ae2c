// loadgen: drives a running boomer over its REST API the way resellers would, and reports what
// it saw. Scenarios:
//
//   steady     --rate items/hour for --duration
//   burst      --burst items at once, then waits for them
//   ramp       from zero to --rate items/hour over --duration
//   endurance  steady, meant for long --duration values
//   chaos      steady, and with --spawn the service is killed with SIGKILL at --kill-at and
//              started again with the same command (error mixes come from the fake upstream's
//              flags, e.g. tools/fake_upstream --rate-529 0.3 --rate-429 0.1)
//
// Each item carries --photos-per-item synthetic JPEGs drawn with distinct content, so items are
// distinct unless --duplicate-share sends an earlier item's photos again. The report: items
// submitted, accepted and finished by state, throughput, intake and end-to-end latency
// percentiles (end to end from the job's own created_at/finished_at), vision cache hit rate,
// dollars per item (from each item's cost, and with --fake from what the fake billed, which
// counts the calls whose answers a kill lost), the service's vision calls, retries and retries its
// budget refused (from its /metrics), the service's RSS and CPU (when its pid is known), and with
// --fake URL the fake Anthropic's view: calls received and paid, the share answered 429, retries
// sent before their retry-after, and paid calls per minute against its --rpm limit (the median
// of 10-second windows after --warmup, sampled every second); as a table, and as JSON with
// --json FILE. tools/run_load_suite runs the standard scenarios with their targets.
//
// Photos come from --seed (a random one unless given; the report names it, so a run can be
// repeated), and idempotency keys are new for every run, so a second run against the same
// service makes new items. Each accepted item's job is read at most twice a second until final.
// Exit status: 0 every accepted item finished and none failed (or --intake-only), 2 bad usage, 3
// items still pending after --wait, 4 items failed or canceled, 5 the service did not answer (at
// the start, or for
// --give-up during the run, which then ends with the report so far).
//
//     tools/fake_upstream --port 8089 --latency-ms 4000-8000 --rpm 4000 &
//     export ANTHROPIC_API_KEY=test-key ANTHROPIC_BASE_URL=http://127.0.0.1:8089
//     boomer serve --listen 127.0.0.1:8080 --data /tmp/lg --workers 64 &
//     loadgen --scenario steady --rate 3600 --duration 60s --fake http://127.0.0.1:8089
//             --service-pid $!
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "clients/anthropic_cost.hpp"
#include "core/cli.hpp"
#include "tools/load_stats.hpp"

namespace {

namespace json = boost::json;
using boomer::tools::percentile;
using boomer::tools::process_sample;
using boomer::tools::sample_process;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct options {
    std::string target = "http://127.0.0.1:8080";
    std::string scenario = "steady";
    double rate_per_hour = 3600;
    std::string duration = "60s";
    int burst = 500;
    int photos_per_item = 1;
    double duplicate_share = 0.0;
    std::string priority = "normal";
    int connections = 16;
    std::string fake;
    std::string ebay_fake;
    std::string warmup = "20%";
    int service_pid = 0;
    int photo_pool = 0;        // >0: draw photos from this many made up front (cheap to send)
    bool intake_only = false;  // do not follow items to their end (for --workers 0 services)
    std::string spawn;
    std::string kill_at = "50%";
    std::string wait_for = "600s";
    std::string json_path;
    std::optional<unsigned> seed;  // none: a random one, printed with the report
    std::string give_up = "60s";   // the service unreachable this long ends the run
};

// How the run went, as the exit status says.
enum exit_status : int {
    all_finished = 0,
    bad_usage = 2,
    items_pending = 3,  // some accepted items had not finished when --wait ran out
    items_failed = 4,   // every item finished, some failed or were canceled
    service_gone = 5,   // the service stopped answering for --give-up
};

milliseconds parse_duration(const std::string& text) {
    static const std::regex form(R"((\d+(?:\.\d+)?)(ms|s|m|h))");
    std::smatch m;
    if (!std::regex_match(text, m, form)) {
        throw std::invalid_argument("not a duration (like 500ms, 30s, 10m, 2h): " + text);
    }
    double n = std::stod(m[1]);
    double unit = m[2] == "ms" ? 1 : m[2] == "s" ? 1e3 : m[2] == "m" ? 6e4 : 3.6e6;
    return milliseconds(static_cast<std::int64_t>(n * unit));
}

// "20%" → 20; nullopt when `text` is not a percentage.
std::optional<double> parse_percent(const std::string& text) {
    static const std::regex form(R"((\d+(?:\.\d+)?)%)");
    std::smatch m;
    if (!std::regex_match(text, m, form)) {
        return std::nullopt;
    }
    return std::stod(m[1]);
}

// option_duration is parse_duration for the value of `option`, which its error names.
milliseconds option_duration(const std::string& option, const std::string& text) {
    try {
        return parse_duration(text);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(option + ": " + e.what());
    }
}

// check_options throws std::invalid_argument naming the first value that cannot work, before
// anything starts.
void check_options(const options& o) {
    auto fail = [](const std::string& why) { throw std::invalid_argument(why); };
    if (o.scenario != "burst" && option_duration("--duration", o.duration).count() <= 0) {
        fail("--duration must be more than 0 for " + o.scenario);
    }
    if (!(o.rate_per_hour > 0)) {
        fail("--rate must be more than 0 items per hour");
    }
    if (o.burst < 1) {
        fail("--burst must be at least 1");
    }
    if (o.connections < 1) {
        fail("--connections must be at least 1");
    }
    if (o.photo_pool < 0) {
        fail("--photo-pool must be 0 (a new photo per item) or more");
    }
    if (o.service_pid < 0) {
        fail("--service-pid must be a process id");
    }
    if (option_duration("--give-up", o.give_up).count() <= 0) {
        fail("--give-up must be more than 0");
    }
    option_duration("--wait", o.wait_for);
    // A time given as a duration is checked against --duration where the run lasts that long
    // (a burst's submissions take what they take).
    const bool timed = o.scenario != "burst";
    if (auto warmup = parse_percent(o.warmup); warmup ? *warmup >= 100 : false) {
        fail("--warmup must leave part of the run: under 100%, not " + o.warmup);
    } else if (!warmup && option_duration("--warmup", o.warmup) >=
                              (timed ? parse_duration(o.duration) : milliseconds::max())) {
        fail("--warmup must leave part of the run: under --duration " + o.duration + ", not " +
             o.warmup);
    }
    if (auto kill_at = parse_percent(o.kill_at); kill_at ? *kill_at > 100 : false) {
        fail("--kill-at must fall within the run: at most 100%, not " + o.kill_at);
    } else if (!kill_at && option_duration("--kill-at", o.kill_at) >
                               (timed ? parse_duration(o.duration) : milliseconds::max())) {
        fail("--kill-at must fall within the run: at most --duration " + o.duration + ", not " +
             o.kill_at);
    }
    if (o.scenario == "chaos" && o.spawn.empty()) {
        fail("chaos kills and restarts the service: give the command that starts it with --spawn");
    }
    if (!o.spawn.empty() && o.service_pid != 0) {
        fail("--spawn measures the service it starts: leave out --service-pid");
    }
}

// A JPEG with content no other seed draws: coloured shapes and the seed as text.
std::string synthetic_jpeg(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    cv::Mat img(480, 640, CV_8UC3, cv::Scalar(rng() % 256, rng() % 256, rng() % 256));
    for (int i = 0; i < 12; ++i) {
        cv::Point a(static_cast<int>(rng() % 640), static_cast<int>(rng() % 480));
        cv::Point b(static_cast<int>(rng() % 640), static_cast<int>(rng() % 480));
        cv::rectangle(img, a, b, cv::Scalar(rng() % 256, rng() % 256, rng() % 256), cv::FILLED);
    }
    cv::putText(img, "item " + std::to_string(seed), cv::Point(40, 240), cv::FONT_HERSHEY_SIMPLEX,
                2.0, cv::Scalar(255, 255, 255), 4);
    std::vector<unsigned char> out;
    cv::imencode(".jpg", img, out, {cv::IMWRITE_JPEG_QUALITY, 85});
    return std::string(out.begin(), out.end());
}

// "2026-12-04T19:26:42.123Z" → milliseconds since the epoch; -1 when unreadable.
std::int64_t parse_iso_ms(const json::value& v) {
    if (!v.is_string()) {
        return -1;
    }
    std::tm tm{};
    int ms = 0;
    std::string s(v.as_string());
    if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

// Sums the samples of `name` in a Prometheus text page whose labels contain `filter`.
double metric_sum(const std::string& page, const std::string& name,
                  const std::string& filter = {}) {
    double sum = 0;
    std::istringstream in(page);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(name, 0) != 0 || line.size() <= name.size() ||
            (line[name.size()] != '{' && line[name.size()] != ' ')) {
            continue;
        }
        if (!filter.empty() && line.find(filter) == std::string::npos) {
            continue;
        }
        sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
    return sum;
}

struct url_parts {
    std::string host;
    int port = 80;
};

url_parts split_url(const std::string& url) {
    static const std::regex form(R"(http://([^:/]+):(\d+)/?)");
    std::smatch m;
    if (!std::regex_match(url, m, form)) {
        throw std::invalid_argument("expected http://HOST:PORT, got " + url);
    }
    return {m[1], std::stoi(m[2])};
}

// The service under test when loadgen starts it itself (--spawn).
class spawned_service {
public:
    explicit spawned_service(std::string command) : command_(std::move(command)) { start(); }
    ~spawned_service() { kill9(); }
    void start() {
        pid_ = fork();
        if (pid_ == 0) {
            setpgid(0, 0);
            execl("/bin/sh", "sh", "-c", command_.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
    }
    void kill9() {
        if (pid_ > 0) {
            ::kill(-pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    int pid() const { return pid_; }
    // exited says whether the command has ended (and reaps it).
    bool exited() {
        if (pid_ <= 0) {
            return true;
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return true;
        }
        return false;
    }

private:
    std::string command_;
    int pid_ = -1;
};

// The boomer process of a spawned shell command: the shell's child, or the shell itself.
int service_pid_of(int shell_pid) {
    std::ifstream children("/proc/" + std::to_string(shell_pid) + "/task/" +
                           std::to_string(shell_pid) + "/children");
    int child = 0;
    if (children >> child) {
        return child;
    }
    return shell_pid;
}

// An accepted item not yet seen final, and when to read its job again.
struct outstanding {
    std::string job_id;
    steady::time_point next_read;
};

// A job is read at most this often: the latencies come from its own timestamps, so reading it
// more often only loads the service.
constexpr milliseconds job_read_interval{500};

// The fake Anthropic's counters at one moment of the run.
struct fake_sample {
    double at_s = 0;  // since the start of submitting
    double received = 0;
    double paid = 0;
    double requests_left = 0;  // summed over the models' request buckets
    int models = 0;            // models with a bucket (those called so far)
};

// The share of its allowance a run used between two samples: the calls paid, over what the
// limit let through in that time (the refill of each model's bucket plus what it held at the
// start). Unlike a rate over short windows, a bucket drained after a slow start cannot lift it
// above 1 without 429s. Negative when unknown.
double allowance_used(const fake_sample& from, const fake_sample& to, double rpm) {
    double minutes = (to.at_s - from.at_s) / 60.0;
    double allowed = rpm * std::max(from.models, to.models) * minutes + from.requests_left;
    if (rpm <= 0 || minutes <= 0 || allowed <= 0) {
        return -1.0;
    }
    return (to.paid - from.paid) / allowed;
}

// Calls paid per minute in each `window_s` window that starts at a sample inside [from_s, to_s]:
// the sustained rate is their median, the peak their maximum.
std::vector<double> window_rates(const std::vector<fake_sample>& samples, double from_s,
                                 double to_s, double window_s) {
    std::vector<double> rates;
    for (std::size_t i = 0, j = 0; i < samples.size(); ++i) {
        if (samples[i].at_s < from_s || samples[i].at_s + window_s > to_s) {
            continue;
        }
        j = std::max(j, i);
        while (j < samples.size() && samples[j].at_s - samples[i].at_s < window_s) {
            ++j;
        }
        if (j == samples.size()) {
            break;
        }
        double span = samples[j].at_s - samples[i].at_s;
        rates.push_back((samples[j].paid - samples[i].paid) / span * 60.0);
    }
    return rates;
}

// A counter's growth between two readings; a reset (the service restarted) counts from zero.
double growth(double before, double after) {
    return after >= before ? after - before : after;
}

json::object get_json(const std::string& url, const std::string& path) {
    if (url.empty()) {
        return {};
    }
    auto parts = split_url(url);
    httplib::Client client(parts.host, parts.port);
    client.set_read_timeout(10, 0);
    if (auto res = client.Get(path); res && res->status == 200) {
        boost::system::error_code ec;
        auto v = json::parse(res->body, ec);
        if (!ec && v.is_object()) {
            return v.as_object();
        }
    }
    return {};
}

double number_at(const json::object& o, std::initializer_list<const char*> path) {
    const json::value* v = nullptr;
    const json::object* at = &o;
    for (const char* key : path) {
        if (at == nullptr || !at->contains(key)) {
            return 0;
        }
        v = &at->at(key);
        at = v->if_object();
    }
    return v != nullptr && v->is_number() ? v->to_number<double>() : 0;
}

// billed_dollars prices the tokens the fake billed between two of its /_fake/stats readings at
// the published prices: every paid call counts, also one whose answer a kill lost. Models
// without a known price are named in `unpriced`.
double billed_dollars(const json::object& before, const json::object& after,
                      std::vector<std::string>& unpriced) {
    const auto* models = after.if_contains("models");
    if (models == nullptr || !models->is_object()) {
        return 0;
    }
    const auto prices = boomer::clients::price_table::with_defaults();
    double micros = 0;
    for (const auto& [alias, counts] : models->as_object()) {
        const std::string model(alias);
        for (const bool batch : {false, true}) {
            const char* field = batch ? "batch_usage" : "usage";
            auto grew = [&](const char* key) {
                const std::initializer_list<const char*> path{"models", model.c_str(), field, key};
                return static_cast<std::int64_t>(
                    growth(number_at(before, path), number_at(after, path)));
            };
            boomer::pipeline::vision_usage u;
            u.input_tokens = grew("input_tokens");
            u.output_tokens = grew("output_tokens");
            u.cache_read_input_tokens = grew("cache_read");
            u.has_cache_creation_split = true;
            u.cache_creation_5m_tokens = grew("cache_write_5m");
            u.cache_creation_1h_tokens = grew("cache_write_1h");
            u.cache_creation_input_tokens = u.cache_creation_5m_tokens + u.cache_creation_1h_tokens;
            if (u.input_tokens + u.output_tokens + u.cache_read_input_tokens +
                    u.cache_creation_input_tokens ==
                0) {
                continue;
            }
            const auto price = prices.find(model);
            if (!price) {
                unpriced.push_back(model);
                continue;
            }
            micros += static_cast<double>(boomer::clients::price_call(*price, u, batch).total);
        }
    }
    return micros / 1e6;
}

struct results {
    std::mutex mutex;
    int submitted = 0;
    int accepted = 0;
    int refused = 0;      // 4xx/5xx answers to the POST
    int unreachable = 0;  // no answer at all (e.g. while the service restarts)
    std::vector<double> intake_ms;
    std::vector<double> e2e_ms;
    std::map<std::string, int> final_states;
    std::deque<outstanding> pending;
    double peak_rss_mb = 0;
    double cost_micros = 0;              // summed over finished items
    double vision_paid = 0;              // vision calls the finished items paid for
    double vision_reused = 0;            // answers they reused without paying
    std::set<std::uint64_t> photo_sets;  // distinct photo sets sent
    std::map<int, int> refusals;         // HTTP status -> submissions refused with it
};

class load_generator {
public:
    explicit load_generator(options o)
        : o_(std::move(o)),
          target_(split_url(o_.target)),
          seed_(o_.seed ? *o_.seed : std::random_device{}()),
          run_id_("loadgen-" + std::to_string(seed_) + "-" +
                  std::to_string(std::random_device{}())),
          give_up_(parse_duration(o_.give_up)) {}

    int run();

private:
    void submit_one(int index);
    void answered();
    void check_contact();
    void check_spawned(const char* when);
    std::pair<std::vector<std::pair<std::string, std::string>>, std::string> photos_for(int index);
    void poll();
    bool all_final() {
        std::lock_guard lock(r_.mutex);
        return r_.pending.empty();
    }
    void sample();
    void sample_fake();
    json::object report(double seconds);
    json::object upstream_report(double seconds);
    json::object service_report(const std::string& metrics);

    options o_;
    url_parts target_;
    const unsigned seed_;
    const std::string run_id_;  // prefix of the idempotency keys
    const milliseconds give_up_;
    std::atomic<bool> gone_{false};                // the service stopped answering: the run ends
    std::atomic<std::int64_t> last_answer_ms_{0};  // since start_
    results r_;
    std::mt19937_64 rng_{1};
    std::mutex rng_mutex_;
    std::vector<std::uint64_t> sent_bases_;  // photo sets sent so far; guarded by rng_mutex_
    std::unique_ptr<spawned_service> spawned_;
    std::atomic<int> pid_{0};
    std::atomic<bool> stop_sampling_{false};
    std::atomic<bool> sending_{true};
    std::vector<std::string> pool_;  // photos made up front (--photo-pool)
    double cpu_start_ = 0;
    double cpu_end_ = 0;
    double cpu_earlier_runs_ = 0;  // CPU of service processes that were killed
    int sampled_pid_ = 0;
    std::string metrics_before_;
    json::object fake_before_;
    json::object ebay_before_;
    std::vector<fake_sample> fake_samples_;  // guarded by r_.mutex
    steady::time_point start_;
    double submit_seconds_ = 0;
};

// photos_for returns an item's photos and its title hint; a duplicate resends both, as a
// reseller resubmitting the same item would.
std::pair<std::vector<std::pair<std::string, std::string>>, std::string> load_generator::photos_for(
    int index) {
    if (!pool_.empty()) {
        std::vector<std::pair<std::string, std::string>> out;
        auto first = static_cast<std::size_t>(index * o_.photos_per_item) % pool_.size();
        for (int p = 0; p < o_.photos_per_item; ++p) {
            out.emplace_back("photo-" + std::to_string(p) + ".jpg",
                             pool_[(first + static_cast<std::size_t>(p)) % pool_.size()]);
        }
        {
            std::lock_guard lock(r_.mutex);
            r_.photo_sets.insert(first);
        }
        return {out, "load test item " + std::to_string(index)};
    }
    std::uint64_t base = static_cast<std::uint64_t>(index) * 1000 + seed_;
    {
        std::lock_guard lock(rng_mutex_);
        // A duplicate resends the photos of an item already sent.
        if (!sent_bases_.empty() &&
            std::uniform_real_distribution<>(0, 1)(rng_) < o_.duplicate_share) {
            base = sent_bases_[rng_() % sent_bases_.size()];
        } else {
            sent_bases_.push_back(base);
        }
    }
    {
        std::lock_guard lock(r_.mutex);
        r_.photo_sets.insert(base);
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (int p = 0; p < o_.photos_per_item; ++p) {
        out.emplace_back("photo-" + std::to_string(p) + ".jpg",
                         synthetic_jpeg(base + static_cast<std::uint64_t>(p)));
    }
    return {out, "load test item " + std::to_string(base)};
}

void load_generator::submit_one(int index) {
    httplib::MultipartFormDataItems form;
    auto [photos, hint] = photos_for(index);
    for (auto& [name, bytes] : photos) {
        form.push_back({"photo", std::move(bytes), name, "image/jpeg"});
    }
    form.push_back({"priority", o_.priority, "", ""});
    form.push_back({"title_hint", hint, "", ""});
    httplib::Client client(target_.host, target_.port);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(30, 0);
    // Unique to this run: a second run against the same service makes new items, not replays.
    httplib::Headers headers{{"Idempotency-Key", run_id_ + "-" + std::to_string(index)}};
    auto start = steady::now();
    // Retried while the service is down (chaos): the idempotency key makes that safe.
    while (!gone_) {
        auto res = client.Post("/v1/items", headers, form);
        if (!res) {
            {
                std::lock_guard lock(r_.mutex);
                ++r_.unreachable;
            }
            check_contact();
            std::this_thread::sleep_for(milliseconds(500));
            continue;
        }
        answered();
        std::lock_guard lock(r_.mutex);
        if (res->status == 202 || res->status == 200) {
            r_.intake_ms.push_back(
                std::chrono::duration<double, std::milli>(steady::now() - start).count());
            ++r_.accepted;
            auto body = json::parse(res->body).as_object();
            r_.pending.push_back({std::string(body.at("job_id").as_string()), steady::now()});
        } else {
            ++r_.refused;
            ++r_.refusals[res->status];
        }
        return;
    }
}

void load_generator::answered() {
    last_answer_ms_ = std::chrono::duration_cast<milliseconds>(steady::now() - start_).count();
}

// check_contact ends the run once the service has not answered for --give-up.
void load_generator::check_contact() {
    auto now_ms = std::chrono::duration_cast<milliseconds>(steady::now() - start_).count();
    if (now_ms - last_answer_ms_ > give_up_.count() && !gone_.exchange(true)) {
        std::fprintf(stderr, "loadgen: %s has not answered for %s; ending the run\n",
                     o_.target.c_str(), o_.give_up.c_str());
    }
}

// poll reads outstanding jobs round-robin until submitting has ended and every accepted item is
// final, or --wait has passed since submitting ended.
void load_generator::poll() {
    httplib::Client client(target_.host, target_.port);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(10, 0);
    const auto wait = parse_duration(o_.wait_for);
    std::optional<steady::time_point> deadline;
    for (;;) {
        if (!sending_ && !deadline) {
            deadline = steady::now() + wait;
        }
        if (gone_ || (deadline && (all_final() || steady::now() > *deadline))) {
            return;
        }
        std::optional<outstanding> next;
        {
            std::lock_guard lock(r_.mutex);
            // Jobs go round in the order they were last read, so the front is due first.
            if (!r_.pending.empty() && r_.pending.front().next_read <= steady::now()) {
                next = r_.pending.front();
                r_.pending.pop_front();
            }
        }
        if (!next) {
            std::this_thread::sleep_for(milliseconds(20));
            continue;
        }
        auto res = client.Get("/v1/jobs/" + next->job_id);
        if (res) {
            answered();
        } else {
            check_contact();
        }
        bool final = false;
        if (res && res->status == 200) {
            auto job = json::parse(res->body).as_object();
            std::string state(job.at("state").as_string());
            final = state != "queued" && state != "running";
            if (final) {
                // The item's own cost summary survives restarts, unlike the service's counters.
                auto item = client.Get("/v1/items/" + std::string(job.at("item_id").as_string()));
                std::lock_guard lock(r_.mutex);
                if (item && item->status == 200) {
                    auto cost = json::parse(item->body).at("cost");
                    r_.cost_micros += cost.at("total_micros").to_number<double>();
                    r_.vision_paid += cost.at("vision_calls_paid").to_number<double>();
                    r_.vision_reused += cost.at("vision_answers_reused").to_number<double>();
                }
                ++r_.final_states[state];
                auto created = parse_iso_ms(job.at("created_at"));
                auto finished = parse_iso_ms(job.at("finished_at"));
                if (created > 0 && finished >= created) {
                    r_.e2e_ms.push_back(static_cast<double>(finished - created));
                }
            }
        }
        if (!final) {
            next->next_read = steady::now() + job_read_interval;
            std::lock_guard lock(r_.mutex);
            r_.pending.push_back(*next);
        }
    }
}

// sample reads the service's RSS and CPU every 250 ms (adding up the CPU of each process when
// chaos restarts it) and the fake's counters every second.
void load_generator::sample() {
    for (int tick = 0; !stop_sampling_; ++tick) {
        if (int pid = pid_.load(); pid > 0) {
            if (auto s = sample_process(pid)) {
                std::lock_guard lock(r_.mutex);
                if (sampled_pid_ != 0 && pid != sampled_pid_) {
                    cpu_earlier_runs_ += cpu_end_ - cpu_start_;
                    cpu_start_ = 0;
                }
                sampled_pid_ = pid;
                r_.peak_rss_mb = std::max(r_.peak_rss_mb, s->rss_mb);
                cpu_end_ = s->cpu_seconds;
            }
        }
        if (tick % 4 == 0) {
            sample_fake();
        }
        std::this_thread::sleep_for(milliseconds(250));
    }
}

void load_generator::sample_fake() {
    auto stats = get_json(o_.fake, "/_fake/stats");
    if (stats.empty()) {
        return;
    }
    fake_sample s;
    s.at_s = std::chrono::duration<double>(steady::now() - start_).count();
    s.received = number_at(stats, {"received"});
    s.paid = number_at(stats, {"paid"});
    if (auto models = stats.find("models"); models != stats.end() && models->value().is_object()) {
        for (const auto& [alias, counts] : models->value().as_object()) {
            if (const auto* left = counts.as_object().if_contains("requests_left")) {
                s.requests_left += left->to_number<double>();
                ++s.models;
            }
        }
    }
    std::lock_guard lock(r_.mutex);
    fake_samples_.push_back(s);
}

// upstream_report: the fake Anthropic's view of the run (calls, answers by status, retries
// before their retry-after, paid calls per minute against its requests-per-minute limit), and
// the fake eBay's counters as it reports them.
json::object load_generator::upstream_report(double seconds) {
    auto after = get_json(o_.fake, "/_fake/stats");
    json::object out;
    if (after.empty()) {
        return out;
    }
    auto grew = [&](std::initializer_list<const char*> path) {
        return growth(number_at(fake_before_, path), number_at(after, path));
    };
    double received = grew({"received"});
    double limited = grew({"statuses", "429"});
    double other_5xx = 0;
    if (const auto* statuses = after.if_contains("statuses"); statuses && statuses->is_object()) {
        for (const auto& [status, n] : statuses->as_object()) {
            std::string code(status);
            if (code.size() == 3 && code[0] == '5' && code != "529") {
                other_5xx += grew({"statuses", code.c_str()});
            }
        }
    }
    double rpm = number_at(after, {"limits", "requests"});
    auto warmup = o_.warmup.back() == '%'
                      ? submit_seconds_ * std::stod(o_.warmup) / 100.0
                      : static_cast<double>(parse_duration(o_.warmup).count()) / 1000.0;
    std::vector<double> rates;
    double used = -1.0;
    double window_rate = 0.0;  // paid per minute from the warm-up to the end of submitting
    double left_from = 0.0;
    double left_to = 0.0;
    {
        std::lock_guard lock(r_.mutex);
        // 10-second windows, shorter when the measured span is short.
        double window = std::clamp((submit_seconds_ - warmup) / 2.0, 2.0, 10.0);
        rates = window_rates(fake_samples_, warmup, submit_seconds_, window);
        // The allowance from the first sample after the warm-up to the last before the end of
        // submitting.
        const fake_sample* from = nullptr;
        const fake_sample* to = nullptr;
        for (const auto& f : fake_samples_) {
            if (f.at_s >= warmup && f.at_s <= submit_seconds_) {
                from = from ? from : &f;
                to = &f;
            }
        }
        if (from && to && to != from) {
            used = allowance_used(*from, *to, rpm);
            window_rate = (to->paid - from->paid) / (to->at_s - from->at_s) * 60.0;
            left_from = from->requests_left;
            left_to = to->requests_left;
        }
    }
    double sustained = percentile(rates, 0.5);
    std::vector<std::string> unpriced;
    const double billed = billed_dollars(fake_before_, after, unpriced);
    json::array unpriced_models(unpriced.begin(), unpriced.end());
    out = json::object{
        {"calls_received", received},
        {"calls_paid", grew({"paid"})},
        {"calls_paid_delivered", grew({"delivered_paid"})},
        {"dollars_billed", billed},
        {"unpriced_models", std::move(unpriced_models)},
        {"batches_created", grew({"batches_created"})},
        {"batch_requests_billed", grew({"batch_requests_billed"})},
        {"batch_polls", grew({"batch_polls"})},
        {"batch_lists", grew({"batch_lists"})},
        {"batch_calls", grew({"batch_calls"})},
        {"batch_calls_refused", grew({"batch_calls_refused"})},
        {"answered_429", limited},
        {"answered_529", grew({"statuses", "529"})},
        {"answered_other_5xx", other_5xx},
        {"share_429", received > 0 ? limited / received : 0.0},
        {"early_retries", grew({"early_retries"})},
        {"early_by_ms_max", number_at(after, {"early_by_ms_max"})},
        {"retries_after_wait", grew({"retries_after_wait"})},
        {"rpm_limit", rpm},
        {"paid_per_minute_mean", seconds > 0 ? grew({"paid"}) / seconds * 60.0 : 0.0},
        {"paid_per_minute_sustained", sustained},
        {"paid_per_minute_peak",
         rates.empty() ? 0.0 : *std::max_element(rates.begin(), rates.end())},
        {"sustained_windows", static_cast<std::int64_t>(rates.size())},
        {"usage_of_limit", rpm > 0 ? sustained / rpm : 0.0},
        {"allowance_used", used},
        {"paid_per_minute_window", window_rate},
        {"requests_left_at_window_start", left_from},
        {"requests_left_at_window_end", left_to},
        // The fakes' own counters since they started, which may be before this run (the fields
        // above count this run alone).
        {"stats_since_start", std::move(after)},
    };
    if (auto ebay = get_json(o_.ebay_fake, "/_fake/stats"); !ebay.empty()) {
        out["ebay_stats_since_start"] = std::move(ebay);
    }
    return out;
}

// service_report: what the service's own counters grew by (since its last start, when chaos
// restarted it): vision calls, retries and retries the budget refused, 429s it received.
json::object load_generator::service_report(const std::string& metrics) {
    auto delta = [&](const std::string& name, const std::string& filter = {}) {
        return growth(metric_sum(metrics_before_, name, filter), metric_sum(metrics, name, filter));
    };
    return json::object{
        {"vision_calls", delta("boomer_vision_calls_total")},
        {"vision_retries", delta("boomer_vision_retries_total")},
        {"vision_retries_refused", delta("boomer_vision_retries_refused_total")},
        {"vision_429s", delta("boomer_vision_errors_total", "rate_limit_error")},
        {"vision_529s", delta("boomer_vision_errors_total", "overloaded_error")},
    };
}

json::object load_generator::report(double seconds) {
    httplib::Client client(target_.host, target_.port);
    auto page = client.Get("/metrics");
    std::string metrics = page && page->status == 200 ? page->body : std::string();
    auto service = service_report(metrics);
    double limited = service.at("vision_429s").to_number<double>();
    auto fake = upstream_report(seconds);
    std::lock_guard lock(r_.mutex);
    double cpu = cpu_earlier_runs_ + cpu_end_ - cpu_start_;
    int finished = 0;
    json::object states;
    for (const auto& [state, n] : r_.final_states) {
        finished += n;
        states[state] = n;
    }
    auto ms = [](const std::vector<double>& v) {
        return json::object{{"p50", percentile(v, 0.5)},
                            {"p95", percentile(v, 0.95)},
                            {"p99", percentile(v, 0.99)}};
    };
    json::object refusals;
    for (const auto& [status, n] : r_.refusals) {
        refusals[std::to_string(status)] = n;
    }
    json::object out{
        {"scenario", o_.scenario},
        {"seed", seed_},
        {"intake_only", o_.intake_only},
        {"service_restarted", o_.scenario == "chaos"},
        {"service_gone", gone_.load()},
        {"service_measured", sampled_pid_ != 0},
        {"seconds", seconds},
        {"submitted", r_.submitted},
        {"distinct_photo_sets", static_cast<std::int64_t>(r_.photo_sets.size())},
        {"accepted", r_.accepted},
        {"refused", r_.refused},
        {"refused_by_status", std::move(refusals)},
        {"unreachable_attempts", r_.unreachable},
        {"finished", finished},
        {"final_states", std::move(states)},
        {"still_pending", static_cast<std::int64_t>(r_.pending.size())},
        {"items_per_second", seconds > 0 ? finished / seconds : 0.0},
        {"success_rate_of_finished",
         finished > 0 && states.contains("succeeded")
             ? states.at("succeeded").as_int64() / static_cast<double>(finished)
             : 0.0},
        {"success_rate", r_.accepted > 0
                             ? (states.contains("succeeded") ? states.at("succeeded").as_int64() /
                                                                   static_cast<double>(r_.accepted)
                                                             : 0.0)
                             : 0.0},
        {"intake_ms", ms(r_.intake_ms)},
        {"end_to_end_ms", ms(r_.e2e_ms)},
        {"vision_cache_hit_rate", r_.vision_paid + r_.vision_reused > 0
                                      ? r_.vision_reused / (r_.vision_paid + r_.vision_reused)
                                      : 0.0},
        {"dollars_per_item", finished > 0 ? r_.cost_micros / 1e6 / finished : 0.0},
        {"billed_dollars_per_item", finished > 0 && fake.contains("dollars_billed")
                                        ? fake.at("dollars_billed").to_number<double>() / finished
                                        : 0.0},
        {"vision_429s", limited},
        {"service", std::move(service)},
        {"upstream", std::move(fake)},
        {"service_peak_rss_mb", r_.peak_rss_mb},
        {"service_cpu_seconds", cpu},
        {"service_cpu_cores", seconds > 0 ? cpu / seconds : 0.0},
    };
    return out;
}

void print_upstream(const json::object& u) {
    if (u.empty()) {
        std::printf("upstream            not measured (no --fake)\n");
        return;
    }
    auto n = [&](const char* k) { return u.at(k).to_number<double>(); };
    std::printf(
        "upstream calls      %.0f received, %.0f paid (%.0f delivered), %.0f x 429 "
        "(%.2f %%), %.0f x 529, %.0f x other 5xx\n",
        n("calls_received"), n("calls_paid"), n("calls_paid_delivered"), n("answered_429"),
        100 * n("share_429"), n("answered_529"), n("answered_other_5xx"));
    if (n("batches_created") > 0) {
        std::printf(
            "message batches     %.0f created, %.0f requests billed; %.0f calls of the batch "
            "endpoints (%.0f retrieves, %.0f list pages), %.0f refused (429/5xx)\n",
            n("batches_created"), n("batch_requests_billed"), n("batch_calls"), n("batch_polls"),
            n("batch_lists"), n("batch_calls_refused"));
    }
    if (n("rpm_limit") <= 0) {
        std::printf(
            "upstream usage      %.0f paid/min over the whole run; the fake has no "
            "request limit\n",
            n("paid_per_minute_mean"));
    } else if (n("sustained_windows") == 0) {
        std::printf(
            "upstream usage      %.0f paid/min over the whole run, of %.0f rpm; no sustained "
            "rate: submitting after the warm-up was too short for a window\n",
            n("paid_per_minute_mean"), n("rpm_limit"));
    } else {
        std::printf(
            "upstream usage      %.0f paid/min sustained after the warm-up (peak %.0f; %.0f over "
            "the whole run) of %.0f rpm: %.1f %%\n",
            n("paid_per_minute_sustained"), n("paid_per_minute_peak"), n("paid_per_minute_mean"),
            n("rpm_limit"), 100 * n("usage_of_limit"));
    }
    if (n("allowance_used") >= 0) {
        std::printf(
            "allowance used      %.1f %% of the calls the limit let through after the warm-up "
            "(%.0f paid/min; the bucket held %.0f then, %.0f at the end)\n",
            100 * n("allowance_used"), n("paid_per_minute_window"),
            n("requests_left_at_window_start"), n("requests_left_at_window_end"));
    }
    std::printf("retry-after kept    %.0f retries early (at most %.0f ms), %.0f after the wait\n",
                n("early_retries"), n("early_by_ms_max"), n("retries_after_wait"));
}

void print_table(const json::object& r) {
    auto num = [&](const char* k) { return r.at(k).to_number<double>(); };
    auto pct = [&](const char* k, const char* p) { return r.at(k).at(p).to_number<double>(); };
    const bool followed = !r.at("intake_only").as_bool();
    const char* since_start =
        r.at("service_restarted").as_bool() ? " (the restarted service's counters only)" : "";
    std::printf("scenario            %s (seed %.0f)\n",
                std::string(r.at("scenario").as_string()).c_str(), num("seed"));
    std::printf("duration            %.1f s\n", num("seconds"));
    std::printf("submitted/accepted  %.0f / %.0f (refused %.0f%s%s), %.0f distinct photo sets\n",
                num("submitted"), num("accepted"), num("refused"),
                num("refused") > 0 ? ": by status " : "",
                num("refused") > 0 ? json::serialize(r.at("refused_by_status")).c_str() : "",
                num("distinct_photo_sets"));
    if (followed) {
        std::printf("finished            %.0f (%s), pending %.0f\n", num("finished"),
                    json::serialize(r.at("final_states")).c_str(), num("still_pending"));
        std::printf("throughput          %.2f items/s\n", num("items_per_second"));
        std::printf(
            "success rate        %.1f %% of the accepted items (%.1f %% of those finished)\n",
            100 * num("success_rate"), 100 * num("success_rate_of_finished"));
    } else {
        std::printf("finished            not followed (--intake-only)\n");
    }
    std::printf("intake ms           p50 %.1f  p95 %.1f  p99 %.1f\n", pct("intake_ms", "p50"),
                pct("intake_ms", "p95"), pct("intake_ms", "p99"));
    if (followed) {
        std::printf("end-to-end ms       p50 %.0f  p95 %.0f  p99 %.0f\n",
                    pct("end_to_end_ms", "p50"), pct("end_to_end_ms", "p95"),
                    pct("end_to_end_ms", "p99"));
        std::printf("vision cache hits   %.1f %%\n", 100 * num("vision_cache_hit_rate"));
        std::printf("dollars per item    %.6f from the items' own costs", num("dollars_per_item"));
        if (!r.at("upstream").as_object().empty()) {
            const auto& unpriced = r.at("upstream").at("unpriced_models").as_array();
            std::printf("; %.6f billed by the fake (every paid call, also those a kill lost)%s%s",
                        num("billed_dollars_per_item"), unpriced.empty() ? "" : ", not priced: ",
                        unpriced.empty() ? "" : json::serialize(unpriced).c_str());
        }
        std::printf("\n");
    }
    std::printf("429s received       %.0f%s\n", num("vision_429s"), since_start);
    const auto& s = r.at("service").as_object();
    auto sv = [&](const char* k) { return s.at(k).to_number<double>(); };
    std::printf("vision calls        %.0f, retries %.0f, refused by the retry budget %.0f%s\n",
                sv("vision_calls"), sv("vision_retries"), sv("vision_retries_refused"),
                since_start);
    print_upstream(r.at("upstream").as_object());
    if (r.at("service_measured").as_bool()) {
        std::printf("service peak RSS    %.1f MB\n", num("service_peak_rss_mb"));
        std::printf("service CPU         %.1f s (%.2f cores)\n", num("service_cpu_seconds"),
                    num("service_cpu_cores"));
    } else {
        std::printf("service RSS, CPU    not measured (give --service-pid or --spawn)\n");
    }
    if (r.at("service_gone").as_bool()) {
        std::printf("run ended early     the service stopped answering\n");
    }
}

int load_generator::run() {
    check_options(o_);
    rng_.seed(seed_);
    auto duration = parse_duration(o_.duration);
    std::ofstream json_out;
    if (!o_.json_path.empty()) {
        json_out.open(o_.json_path);
        if (!json_out) {
            throw std::invalid_argument("cannot write the report to --json " + o_.json_path);
        }
    }
    auto needs = [](const std::string& url, const char* flag) {
        if (!url.empty() && get_json(url, "/_fake/stats").empty()) {
            throw std::invalid_argument(std::string("no fake answers at ") + flag + " " + url +
                                        " (/_fake/stats)");
        }
    };
    needs(o_.fake, "--fake");
    needs(o_.ebay_fake, "--ebay-fake");
    if (o_.service_pid > 0 && !sample_process(o_.service_pid)) {
        throw std::invalid_argument("no process has --service-pid " +
                                    std::to_string(o_.service_pid));
    }
    for (int i = 0; i < o_.photo_pool; ++i) {
        pool_.push_back(
            synthetic_jpeg(static_cast<std::uint64_t>(i) + std::uint64_t{seed_} * 1'000'000));
    }
    if (!o_.spawn.empty()) {
        spawned_ = std::make_unique<spawned_service>(o_.spawn);
    }
    httplib::Client probe(target_.host, target_.port);
    probe.set_connection_timeout(2, 0);
    bool healthy = false;
    for (int i = 0; i < 300 && !healthy; ++i) {
        if (spawned_ && spawned_->exited()) {
            std::fprintf(stderr,
                         "loadgen: the --spawn command ended before the service answered\n");
            return service_gone;
        }
        if (auto res = probe.Get("/healthz"); res && res->status == 200) {
            healthy = true;
        } else {
            std::this_thread::sleep_for(milliseconds(100));
        }
    }
    if (!healthy) {
        std::fprintf(stderr, "loadgen: no service answers at %s/healthz (waited 30 s)\n",
                     o_.target.c_str());
        return service_gone;
    }
    if (spawned_ && (std::this_thread::sleep_for(milliseconds(200)), spawned_->exited())) {
        std::fprintf(stderr,
                     "loadgen: the --spawn command ended, yet a service answers at %s: another "
                     "process holds that address\n",
                     o_.target.c_str());
        return service_gone;
    }
    if (auto page = probe.Get("/metrics"); page && page->status == 200) {
        metrics_before_ = page->body;
    }
    fake_before_ = get_json(o_.fake, "/_fake/stats");
    start_ = steady::now();
    pid_ = spawned_ ? service_pid_of(spawned_->pid()) : o_.service_pid;
    if (pid_ > 0) {
        if (auto s = sample_process(pid_)) {
            cpu_start_ = s->cpu_seconds;
        }
    }
    std::thread sampler([this] { sample(); });

    // The submission schedule: when each item is due, relative to the start.
    std::vector<milliseconds> due;
    const double per_ms = o_.rate_per_hour / 3.6e6;
    const auto total_ms = static_cast<double>(duration.count());
    if (o_.scenario == "burst") {
        due.assign(static_cast<std::size_t>(o_.burst), milliseconds(0));
    } else if (o_.scenario == "ramp") {
        // The rate grows evenly from 0 to --rate: by time t, rate * t^2 / (2 * duration) items
        // are due, so item k is due at sqrt(2 k duration / rate).
        for (std::size_t k = 0;; ++k) {
            double t = std::sqrt(2.0 * static_cast<double>(k) * total_ms / per_ms);
            if (t >= total_ms) {
                break;
            }
            due.emplace_back(static_cast<std::int64_t>(t));
        }
    } else {
        for (double t = 0; t < total_ms; t += 1.0 / per_ms) {
            due.emplace_back(static_cast<std::int64_t>(t));
        }
    }
    auto start = start_;
    auto kill_after = milliseconds(0);
    if (o_.scenario == "chaos") {
        auto share = parse_percent(o_.kill_at);
        kill_after = share ? milliseconds(static_cast<std::int64_t>(
                                 static_cast<double>(duration.count()) * *share / 100))
                           : parse_duration(o_.kill_at);
    }
    std::atomic<std::size_t> next{0};
    std::thread chaos;
    if (o_.scenario == "chaos" && spawned_) {
        chaos = std::thread([this, start, kill_after] {
            std::this_thread::sleep_until(start + kill_after);
            std::printf("chaos: SIGKILL to the service at %.1f s, then a restart\n",
                        std::chrono::duration<double>(steady::now() - start).count());
            spawned_->kill9();
            spawned_->start();
            std::this_thread::sleep_for(milliseconds(300));
            pid_ = service_pid_of(spawned_->pid());
        });
    }
    std::vector<std::thread> senders;
    for (int c = 0; c < o_.connections; ++c) {
        senders.emplace_back([&] {
            for (std::size_t i = next++; i < due.size() && !gone_; i = next++) {
                std::this_thread::sleep_until(start + due[i]);
                {
                    std::lock_guard lock(r_.mutex);
                    ++r_.submitted;
                }
                submit_one(static_cast<int>(i));
            }
        });
    }
    std::thread poller([this] {
        if (!o_.intake_only) {
            poll();
        }
    });
    for (auto& t : senders) {
        t.join();
    }
    if (chaos.joinable()) {
        chaos.join();
    }
    submit_seconds_ = std::chrono::duration<double>(steady::now() - start).count();
    sending_ = false;
    poller.join();
    double seconds = std::chrono::duration<double>(steady::now() - start).count();
    stop_sampling_ = true;
    sampler.join();

    auto r = report(seconds);
    print_table(r);
    if (json_out.is_open()) {
        json_out << json::serialize(r) << '\n';
        json_out.flush();
        if (!json_out) {
            std::fprintf(stderr, "loadgen: writing --json %s failed\n", o_.json_path.c_str());
            return bad_usage;
        }
    }
    if (gone_) {
        return service_gone;
    }
    if (o_.intake_only) {
        return all_finished;
    }
    if (r.at("still_pending").as_int64() > 0) {
        return items_pending;
    }
    const auto& states = r.at("final_states").as_object();
    return states.contains("failed") || states.contains("canceled") ? items_failed : all_finished;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"Load generator for boomer: submits items and reports what it saw."};
    app.add_option("--target", o.target, "The service, http://HOST:PORT")->capture_default_str();
    app.add_option("--scenario", o.scenario, "steady, burst, ramp, endurance or chaos")
        ->check(CLI::IsMember({"steady", "burst", "ramp", "endurance", "chaos"}))
        ->capture_default_str();
    app.add_option("--rate", o.rate_per_hour, "Items per hour (steady, ramp peak, chaos)")
        ->capture_default_str();
    app.add_option("--duration", o.duration, "How long to submit (500ms, 30s, 10m, 2h)")
        ->capture_default_str();
    app.add_option("--burst", o.burst, "Items submitted at once (burst)")->capture_default_str();
    app.add_option("--photos-per-item", o.photos_per_item, "Photos in each item")
        ->check(CLI::Range(1, 12))
        ->capture_default_str();
    app.add_option("--duplicate-share", o.duplicate_share,
                   "Share of items that resend an earlier item's photos")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--priority", o.priority, "urgent, normal or bulk")
        ->check(CLI::IsMember({"urgent", "normal", "bulk"}))
        ->capture_default_str();
    app.add_option("--connections", o.connections, "Concurrent submitters")->capture_default_str();
    app.add_option("--fake", o.fake, "The fake Anthropic, http://HOST:PORT, for its counters");
    app.add_option("--ebay-fake", o.ebay_fake, "The fake eBay, http://HOST:PORT, for its counters");
    app.add_option("--warmup", o.warmup,
                   "Start of the window for the sustained upstream rate (20% or 30s)")
        ->capture_default_str();
    app.add_option("--service-pid", o.service_pid, "pid of the service, for RSS and CPU");
    app.add_option("--spawn", o.spawn,
                   "Start the service with this shell command (chaos needs it)");
    app.add_option("--kill-at", o.kill_at, "When chaos kills the service (50% or 20s)")
        ->capture_default_str();
    app.add_option("--wait", o.wait_for, "How long to wait for items after submitting")
        ->capture_default_str();
    app.add_option("--json", o.json_path, "Also write the report as JSON to this file");
    app.add_option("--seed", o.seed,
                   "Seed of the photos and the duplicate draw (default: a random one, printed)");
    app.add_option("--give-up", o.give_up,
                   "End the run when the service has not answered for this long")
        ->capture_default_str();
    app.add_option("--photo-pool", o.photo_pool,
                   "Make this many photos up front and cycle through them (0: a new one per item)");
    app.add_flag("--intake-only", o.intake_only, "Measure intake only; do not wait for items");
    boomer::refuse_empty_values(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : bad_usage;  // --help is not an error
    }
    try {
        return load_generator(o).run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: %s\n", e.what());
        return bad_usage;
    }
}
