// bench_intake: intake latency of a running boomer under a steady, open-loop load of multipart
// POST /v1/items. Items are due at fixed intervals (--rate per second); a sender sends the next
// due item on its own keep-alive connection, so a slow answer delays no other item unless every
// connection is busy. Latency is taken from the item's due time (what a client waits, queueing
// in the client included) and from the moment its request started to go out.
//
// Each item carries --photos-per-item photos made from the --photo files (photo k of an item is
// file k modulo their number) with a JPEG comment segment holding a unique id inserted after
// the start-of-image marker, so every photo is a new blob: the service has to write and flush
// each one, as it would for real uploads. Bodies are built from one template by patching the
// ids, so the client spends little CPU (it shares the machine with the service).
//
// Prints the figures and, with --json FILE, writes them as JSON; samples the service's RSS and
// CPU from /proc when --service-pid is given.
//
// Usage: bench_intake --target 127.0.0.1:8080 --photo a.jpg --photo b.jpg --photo c.jpg
//                     [--rate 200] [--items 10000] [--photos-per-item 3] [--connections 64]
//                     [--service-pid PID] [--json FILE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tools/load_stats.hpp"

namespace {

namespace json = boost::json;
using boomer::tools::percentile;
using boomer::tools::process_sample;
using boomer::tools::sample_process;
using steady = std::chrono::steady_clock;

struct options {
    std::string target = "127.0.0.1:8080";
    std::vector<std::string> photos;
    double rate = 200;
    int items = 10'000;
    int photos_per_item = 3;
    int connections = 64;
    int service_pid = 0;
    std::string json_path;
};

constexpr std::string_view boundary = "benchintakeboundary5f2a";
constexpr std::size_t id_length = 24;  // hex digits of the id inside each photo

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The request body with room for one id per photo: where each id goes, and the bytes.
struct body_template {
    std::string bytes;
    std::vector<std::size_t> id_offsets;
};

// jpeg_with_comment returns `jpeg` with a comment segment (FF FE) of id_length placeholder bytes
// right after its start-of-image marker, and where the placeholder starts.
std::pair<std::string, std::size_t> jpeg_with_comment(const std::string& jpeg) {
    if (jpeg.size() < 4 || static_cast<unsigned char>(jpeg[0]) != 0xFF ||
        static_cast<unsigned char>(jpeg[1]) != 0xD8) {
        throw std::runtime_error("a --photo file is not a JPEG");
    }
    std::string out = jpeg.substr(0, 2);
    out += "\xFF\xFE";
    out += static_cast<char>(0);
    out += static_cast<char>(id_length + 2);
    std::size_t at = out.size();
    out += std::string(id_length, '0');
    out += jpeg.substr(2);
    return {out, at};
}

body_template make_template(const options& o) {
    body_template t;
    for (int p = 0; p < o.photos_per_item; ++p) {
        auto [photo, at] = jpeg_with_comment(read_file(o.photos[p % o.photos.size()]));
        t.bytes += "--" + std::string(boundary) + "\r\n";
        t.bytes += "Content-Disposition: form-data; name=\"photo\"; filename=\"photo-" +
                   std::to_string(p) + ".jpg\"\r\nContent-Type: image/jpeg\r\n\r\n";
        t.id_offsets.push_back(t.bytes.size() + at);
        t.bytes += photo + "\r\n";
    }
    t.bytes += "--" + std::string(boundary) +
               "\r\nContent-Disposition: form-data; name=\"title_hint\"\r\n\r\nbench item\r\n";
    t.bytes += "--" + std::string(boundary) + "--\r\n";
    return t;
}

// request_for returns the whole HTTP request of item `index`: the template with its ids set.
std::string request_for(const body_template& t, const std::string& host, std::uint64_t nonce,
                        int index) {
    std::string body = t.bytes;
    for (std::size_t p = 0; p < t.id_offsets.size(); ++p) {
        char id[64];
        std::snprintf(id, sizeof id, "%012llx%08x%04x", nonce & 0xFFFFFFFFFFFFull,
                      static_cast<unsigned>(index), static_cast<unsigned>(p & 0xFFFF));
        std::memcpy(body.data() + t.id_offsets[p], id, id_length);
    }
    std::string head = "POST /v1/items HTTP/1.1\r\nHost: " + host +
                       "\r\nContent-Type: multipart/form-data; boundary=" + std::string(boundary) +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    return head + body;
}

// A blocking keep-alive HTTP/1.1 connection that sends a request and reads one response.
class connection {
public:
    explicit connection(sockaddr_in address) : address_(address) {}
    ~connection() { close(); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // exchange sends `request` and returns the response's status; nullopt on a network error
    // (the connection is closed and reopened by the next call).
    std::optional<int> exchange(const std::string& request) {
        if (fd_ < 0 && !open()) {
            return std::nullopt;
        }
        if (!send_all(request)) {
            close();
            return std::nullopt;
        }
        auto status = read_response();
        if (!status) {
            close();
        }
        return status;
    }

private:
    bool open() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0) {
            close();
            return false;
        }
        return true;
    }
    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
        buffer_.clear();
    }
    bool send_all(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    bool fill() {
        char chunk[16384];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) {
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    std::optional<int> read_response();

    sockaddr_in address_;
    int fd_ = -1;
    std::string buffer_;
};

std::optional<int> connection::read_response() {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) {
            return std::nullopt;
        }
    }
    std::string head = buffer_.substr(0, end);
    std::size_t length = 0;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
        length = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
    }
    while (buffer_.size() < end + 4 + length) {
        if (!fill()) {
            return std::nullopt;
        }
    }
    buffer_.erase(0, end + 4 + length);
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) {
        return std::nullopt;
    }
    return std::atoi(head.c_str() + 9);
}

json::object summary(const std::vector<double>& v) {
    return {{"p50", percentile(v, 0.50)},
            {"p95", percentile(v, 0.95)},
            {"p99", percentile(v, 0.99)},
            {"max", v.empty() ? 0.0 : *std::max_element(v.begin(), v.end())}};
}

double cpu_seconds_of_self() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto secs = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return secs(u.ru_utime) + secs(u.ru_stime);
}

sockaddr_in parse_target(const std::string& target) {
    auto colon = target.rfind(':');
    if (colon == std::string::npos) {
        throw std::invalid_argument("--target is HOST:PORT, got " + target);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
    if (::inet_pton(AF_INET, target.substr(0, colon).c_str(), &a.sin_addr) != 1) {
        throw std::invalid_argument("--target needs an IPv4 address, got " + target);
    }
    return a;
}

struct tallies {
    std::mutex mutex;
    std::vector<double> from_due_ms;
    std::vector<double> from_send_ms;
    int accepted = 0;
    int refused = 0;
    int failed = 0;
};

class bench {
public:
    explicit bench(options o)
        : o_(std::move(o)), address_(parse_target(o_.target)), template_(make_template(o_)) {}

    json::object run();

private:
    void send_loop(steady::time_point start, std::uint64_t nonce);
    void sample_loop();

    options o_;
    sockaddr_in address_;
    body_template template_;
    tallies t_;
    std::atomic<int> next_{0};
    std::atomic<bool> sampling_{true};
    double peak_rss_mb_ = 0;  // written by the sampler only
};

void bench::send_loop(steady::time_point start, std::uint64_t nonce) {
    connection conn(address_);
    const auto interval = std::chrono::duration<double>(1.0 / o_.rate);
    for (int i = next_++; i < o_.items; i = next_++) {
        auto due = start + std::chrono::duration_cast<steady::duration>(interval * i);
        std::string request = request_for(template_, o_.target, nonce, i);
        std::this_thread::sleep_until(due);
        auto sent = steady::now();
        auto status = conn.exchange(request);
        auto done = steady::now();
        std::lock_guard lock(t_.mutex);
        if (!status) {
            ++t_.failed;
        } else if (*status != 202 && *status != 200) {
            ++t_.refused;
        } else {
            ++t_.accepted;
            t_.from_due_ms.push_back(std::chrono::duration<double, std::milli>(done - due).count());
            t_.from_send_ms.push_back(
                std::chrono::duration<double, std::milli>(done - sent).count());
        }
    }
}

void bench::sample_loop() {
    while (sampling_) {
        if (auto s = sample_process(o_.service_pid)) {
            peak_rss_mb_ = std::max(peak_rss_mb_, s->rss_mb);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

json::object bench::run() {
    std::optional<process_sample> before;
    std::thread sampler;
    if (o_.service_pid > 0) {
        before = sample_process(o_.service_pid);
        sampler = std::thread([this] { sample_loop(); });
    }
    double client_cpu_before = cpu_seconds_of_self();
    auto nonce = static_cast<std::uint64_t>(
        std::chrono::system_clock::now().time_since_epoch().count() & 0xFFFFFFFFFFFF);
    auto start = steady::now() + std::chrono::milliseconds(100);
    std::vector<std::thread> senders;
    for (int c = 0; c < o_.connections; ++c) {
        senders.emplace_back([this, start, nonce] { send_loop(start, nonce); });
    }
    for (auto& s : senders) {
        s.join();
    }
    double seconds = std::chrono::duration<double>(steady::now() - start).count();
    double client_cpu = cpu_seconds_of_self() - client_cpu_before;

    json::object out{{"items", o_.items},
                     {"photos_per_item", o_.photos_per_item},
                     {"request_bytes", request_for(template_, o_.target, 0, 0).size()},
                     {"rate_target", o_.rate},
                     {"seconds", seconds},
                     {"rate_achieved", t_.accepted / seconds},
                     {"accepted", t_.accepted},
                     {"refused", t_.refused},
                     {"failed", t_.failed},
                     {"latency_ms", summary(t_.from_due_ms)},
                     {"service_time_ms", summary(t_.from_send_ms)},
                     {"client_cpu_seconds", client_cpu}};
    if (sampler.joinable()) {
        auto after = sample_process(o_.service_pid);
        sampling_ = false;
        sampler.join();
        out["service_rss_mb_end"] = after ? after->rss_mb : 0.0;
        out["service_rss_mb_peak"] = std::max(peak_rss_mb_, after ? after->rss_mb : 0.0);
        out["service_cpu_seconds"] =
            after && before ? after->cpu_seconds - before->cpu_seconds : 0.0;
    }
    return out;
}

void print(const json::object& r) {
    auto num = [&](const char* k) { return r.at(k).to_number<double>(); };
    std::printf("items %.0f x %.0f photos (%.0f bytes a request), target %.0f/s, achieved %.1f/s\n",
                num("items"), num("photos_per_item"), num("request_bytes"), num("rate_target"),
                num("rate_achieved"));
    std::printf("accepted %.0f  refused %.0f  failed %.0f\n", num("accepted"), num("refused"),
                num("failed"));
    for (const char* k : {"latency_ms", "service_time_ms"}) {
        const auto& s = r.at(k).as_object();
        std::printf("%-16s p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n", k,
                    s.at("p50").to_number<double>(), s.at("p95").to_number<double>(),
                    s.at("p99").to_number<double>(), s.at("max").to_number<double>());
    }
    if (r.contains("service_rss_mb_peak")) {
        std::printf("service RSS MB peak %.1f  end %.1f  service CPU %.1f s\n",
                    num("service_rss_mb_peak"), num("service_rss_mb_end"),
                    num("service_cpu_seconds"));
    }
    std::printf("client CPU %.1f s\n", num("client_cpu_seconds"));
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"Intake latency of a running boomer under a steady open-loop load."};
    app.add_option("--target", o.target, "The service, HOST:PORT (IPv4)")->capture_default_str();
    app.add_option("--photo", o.photos, "JPEG file(s) the photos are made from")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--rate", o.rate, "Items per second")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--items", o.items, "Items to submit")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--photos-per-item", o.photos_per_item, "Photos in each item")
        ->check(CLI::Range(1, 12))
        ->capture_default_str();
    app.add_option("--connections", o.connections, "Keep-alive connections (senders)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    app.add_option("--service-pid", o.service_pid, "pid of the service, for its RSS and CPU");
    app.add_option("--json", o.json_path, "Also write the figures as JSON to this file");
    CLI11_PARSE(app, argc, argv);
    try {
        auto r = bench(o).run();
        print(r);
        if (!o.json_path.empty()) {
            std::ofstream(o.json_path) << json::serialize(r) << '\n';
        }
        return r.at("accepted").as_int64() == o.items ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_intake: %s\n", e.what());
        return 2;
    }
}
