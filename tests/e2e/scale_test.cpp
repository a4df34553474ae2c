// Scale-out: three replicas of the real service share one Postgres database (a fresh schema per
// run) and one photo store. One replica is killed with SIGKILL while it holds running jobs; the
// other two take its work back when its leases expire. Every item ends in one final state, once,
// and each item's vision answer is paid for once, apart from answers the killed replica never
// read or read and had no time to save, which are counted and bounded by its worker count.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>

#include "store/postgres_dsn.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
namespace json = boost::json;
using boomer::fakes::fake_anthropic;

namespace {

// The store suite's words, so that ctest counts the case as skipped (tests/CMakeLists.txt).
constexpr const char* pg_not_set = "BOOMER_TEST_PG_DSN not set: Postgres engine not tested";

constexpr int item_count = 500;
constexpr int replica_count = 3;
constexpr int workers = 2;  // per replica

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

// A schema of its own in the test database, dropped at the end; rows() reads inside it.
class pg_schema {
public:
    explicit pg_schema(std::string dsn) : dsn_(std::move(dsn)) {
        std::random_device random;
        name_ = "boomer_scale_" + std::to_string(::getpid()) + "_" +
                std::to_string(random() % 1'000'000);
        pqxx::connection conn(dsn_);
        pqxx::nontransaction tx(conn);
        tx.exec0("CREATE SCHEMA " + tx.quote_name(name_));
    }
    ~pg_schema() {
        try {
            pqxx::connection conn(dsn_);
            pqxx::nontransaction tx(conn);
            tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(name_) + " CASCADE");
        } catch (const std::exception& x) {
            WARN("cannot drop schema " << name_ << ": " << x.what());
        }
    }
    pg_schema(const pg_schema&) = delete;
    pg_schema& operator=(const pg_schema&) = delete;

    // service_dsn is the DSN for `--db`: the server's, with the schema as the search path.
    std::string service_dsn() const {
        return boomer::store::with_dsn_param(dsn_, "options", "-csearch_path=" + name_);
    }

    std::vector<std::vector<std::string>> rows(const std::string& sql) const {
        pqxx::connection conn(dsn_);
        pqxx::nontransaction tx(conn);
        tx.exec0("SET search_path TO " + tx.quote_name(name_));
        std::vector<std::vector<std::string>> out;
        for (const auto& row : tx.exec(sql)) {
            auto& line = out.emplace_back();
            for (const auto& field : row) {
                line.emplace_back(field.c_str());
            }
        }
        return out;
    }

    long count(const std::string& sql) const { return std::stol(rows(sql).at(0).at(0)); }

private:
    std::string dsn_;
    std::string name_;
};

// distinct_photo returns a small JPEG of noise seeded by `i` with `i` written on it: no two
// indexes give similar pictures, and none holds a barcode.
std::string distinct_photo(int i) {
    cv::Mat image(120, 160, CV_8UC3);
    cv::RNG rng(static_cast<std::uint64_t>(i) * 7919 + 1);
    rng.fill(image, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(256));
    cv::putText(image, std::to_string(i), {8, 80}, cv::FONT_HERSHEY_SIMPLEX, 1.6,
                cv::Scalar(255, 255, 255), 4);
    std::vector<uchar> out;
    cv::imencode(".jpg", image, out, {cv::IMWRITE_JPEG_QUALITY, 85});
    return std::string(out.begin(), out.end());
}

boomer::fakes::fake_anthropic_options fake_options() {
    boomer::fakes::fake_anthropic_options o;
    o.latency = std::chrono::milliseconds(40);
    o.limits.requests = 1'000'000;  // the point here is not rate limiting
    o.limits.input_tokens = 1'000'000'000;
    o.limits.output_tokens = 1'000'000'000;
    return o;
}

// submit posts items first..first+count (every `step`th) to `port`; returns item id by index.
std::map<int, std::string> submit(int port, int first, int step) {
    api_client api(port);
    std::map<int, std::string> ids;
    for (int i = first; i < item_count; i += step) {
        auto res = api.post_item(
            {{"photo", "item-" + std::to_string(i) + ".jpg", distinct_photo(i), "image/jpeg"}});
        if (!res || res->status != 202) {
            throw std::runtime_error("item " + std::to_string(i) + " was refused: " +
                                     (res ? res->body : httplib::to_string(res.error())));
        }
        ids[i] = str(parse_object(res->body).at("item_id"));
    }
    return ids;
}

// item id -> state, from the API's listing
std::map<std::string, std::string> listed_states(int port) {
    api_client api(port);
    std::map<std::string, std::string> out;
    std::string cursor;
    for (;;) {
        auto page = parse_object(
            api.get("/v1/items?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor))->body);
        for (const auto& item : page.at("items").as_array()) {
            out[str(item.at("item_id"))] = str(item.at("status"));
        }
        if (page.at("next_cursor").is_null()) {
            return out;
        }
        cursor = str(page.at("next_cursor"));
    }
}

// item id -> number of item_finished lines in the replicas' logs
std::map<std::string, int> finished_in_logs(const std::vector<const service_process*>& all) {
    std::map<std::string, int> out;
    for (const auto* svc : all) {
        for (const auto& line : svc->log_lines()) {
            if (line.find("\"event\":\"item_finished\"") != std::string::npos) {
                ++out[str(json::parse(line).at("item_id"))];
            }
        }
    }
    return out;
}

double metric_sum(int port, const std::string& name) {
    api_client api(port);
    auto text = api.get("/metrics")->body;
    double sum = 0;
    std::size_t at = 0;
    while ((at = text.find("\n" + name, at)) != std::string::npos) {
        auto end = text.find('\n', at + 1);
        auto line = text.substr(at + 1, end - at - 1);
        sum += std::stod(line.substr(line.rfind(' ') + 1));
        at = end;
    }
    return sum;
}

// What the fakes saw of the paid calls, by the photo they carried.
struct paid_calls {
    std::map<std::string, int> delivered;  // image hash -> answers delivered, all replicas
    std::map<std::string, int> delivered_to_killed;
    std::size_t delivered_total = 0;
    std::size_t undelivered_killed = 0;
    std::size_t undelivered_survivors = 0;
};

paid_calls count_paid(const std::vector<std::unique_ptr<fake_anthropic>>& fakes, int killed) {
    paid_calls out;
    for (int r = 0; r < replica_count; ++r) {
        for (const auto& call : fakes[r]->calls()) {
            if (call.status != 200) {
                continue;
            }
            REQUIRE(call.image_sha256.size() == 1);
            const auto& photo = call.image_sha256[0];
            if (!call.delivered) {
                ++(r == killed ? out.undelivered_killed : out.undelivered_survivors);
                continue;
            }
            ++out.delivered_total;
            ++out.delivered[photo];
            if (r == killed) {
                ++out.delivered_to_killed[photo];
            }
        }
    }
    return out;
}

}  // namespace

TEST_CASE(
    "scale-out: three replicas on one database, one killed mid-run, lose no item, "
    "finish each once and pay each vision answer once",
    "[e2e][pg][slow]") {
    const char* server = std::getenv("BOOMER_TEST_PG_DSN");
    if (server == nullptr || *server == '\0') {
        WARN(pg_not_set);
        return;
    }
    pg_schema schema(server);
    temp_dir dir;  // shared by the replicas: the photo store and their logs
    std::vector<std::unique_ptr<fake_anthropic>> fakes;
    std::vector<std::unique_ptr<service_process>> replicas;
    for (int r = 0; r < replica_count; ++r) {
        // One fake per replica, so each paid call is known to come from one replica.
        fakes.push_back(std::make_unique<fake_anthropic>(fake_options()));
        replicas.push_back(std::make_unique<service_process>(
            dir.path(),
            std::vector<std::string>{"--db", schema.service_dsn(), "--workers",
                                     std::to_string(workers), "--lease-seconds", "2",
                                     "--store-threads", "3", "--io-threads", "1", "--cpu-threads",
                                     "1"},
            env_vars{{"ANTHROPIC_API_KEY", "test-key"},
                     {"ANTHROPIC_BASE_URL", fakes.back()->base_url()},
                     {"BOOMER_CLAUDE_STRONG_MODEL", ""}}));  // one paid call per item
    }
    const int killed = 0;
    const auto killed_pid = replicas[killed]->pid();

    // Submit the items spread over the replicas, one thread each.
    std::vector<std::map<int, std::string>> parts(replica_count);
    std::vector<std::string> refused(replica_count);
    {
        std::vector<std::thread> submitters;
        for (int r = 0; r < replica_count; ++r) {
            submitters.emplace_back([&, r] {
                try {
                    parts[r] = submit(replicas[r]->port(), r, replica_count);
                } catch (const std::exception& x) {
                    refused[r] = x.what();
                }
            });
        }
        for (auto& t : submitters) {
            t.join();
        }
    }
    for (const auto& why : refused) {
        REQUIRE(why.empty());
    }
    std::set<std::string> accepted;
    for (const auto& part : parts) {
        for (const auto& [i, id] : part) {
            accepted.insert(id);
        }
    }
    REQUIRE(accepted.size() == item_count);

    // Kill the replica while it runs jobs, preferably with a vision call in flight.
    const std::string owner = "lease_owner LIKE '%:" + std::to_string(killed_pid) + ":%'";
    const std::string held_sql = "SELECT count(*) FROM jobs WHERE state = 'running' AND " + owner;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (schema.count(held_sql) == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (int i = 0; i < 200 && fakes[killed]->paid() == fakes[killed]->delivered_paid(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto finished_sql = std::string(
        "SELECT count(*) FROM jobs WHERE state NOT IN "
        "('queued', 'running')");
    // Jobs the replica holds just before the kill: those it commits but cannot log any more
    // are among them (a job waiting on an upstream holds no worker slot, so they can be more
    // than its workers).
    auto held_before = schema.count(held_sql);
    replicas[killed]->kill9();
    auto held = schema.count(held_sql);
    auto done_at_kill = schema.count(finished_sql);
    INFO("at the kill: " << held << " jobs running on the killed replica (" << held_before
                         << " just before), " << done_at_kill << " items final");
    REQUIRE(held >= 1);
    REQUIRE(done_at_kill < item_count);

    // The survivors finish everything, the killed replica's jobs after its leases expire.
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (schema.count(finished_sql) < item_count && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto by_state = schema.rows("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY 1");
    std::string summary;
    for (const auto& row : by_state) {
        summary += row[0] + "=" + row[1] + " ";
    }
    INFO("jobs by state: " << summary);

    // Every accepted item is listed once, in a final state; none failed.
    auto states = listed_states(replicas[1]->port());
    CHECK(states.size() == accepted.size());
    for (const auto& id : accepted) {
        INFO(id);
        REQUIRE(states.contains(id));
        CHECK((states[id] == "succeeded" || states[id] == "needs_review"));
    }

    // Finished once: no item is reported finished twice, in any replica's log; the killed
    // replica can die between committing an item and logging it, so a few of the jobs it held
    // may be missing.
    auto finished = finished_in_logs({replicas[0].get(), replicas[1].get(), replicas[2].get()});
    for (const auto& [id, times] : finished) {
        INFO(id);
        CHECK(times == 1);
        CHECK(accepted.contains(id));
    }
    CHECK(finished.size() + static_cast<std::size_t>(held_before) >= accepted.size());
    auto rescued = metric_sum(replicas[1]->port(), "boomer_leases_rescued_total") +
                   metric_sum(replicas[2]->port(), "boomer_leases_rescued_total");
    INFO("rescued by the survivors: " << rescued);
    CHECK(rescued >= 1);

    // Paid once. Every item's answer reached a replica; the survivors were never paid twice for
    // one photo; a photo paid twice had its first answer delivered to the killed replica, which
    // died before saving it. Answers produced for the killed replica after its death were never
    // delivered. Either kind belongs to a job it held at its death: at most one each.
    auto paid = count_paid(fakes, killed);
    std::size_t redone = 0;
    for (const auto& [photo, times] : paid.delivered) {
        auto to_killed = paid.delivered_to_killed[photo];
        INFO("photo " << photo << " answered " << times << " times, " << to_killed
                      << " to the killed replica");
        CHECK(times - to_killed <= 1);
        if (times > 1) {
            CHECK(to_killed >= 1);
            redone += static_cast<std::size_t>(times - 1);
        }
    }
    WARN("killed with " << held << " jobs running and " << done_at_kill
                        << " items final; paid vision calls: " << paid.delivered_total
                        << " delivered for " << item_count << " items (" << redone
                        << " redone after the kill), " << paid.undelivered_killed
                        << " answered after the killed replica died; " << rescued
                        << " jobs rescued");
    CHECK(paid.delivered.size() == accepted.size());
    CHECK(paid.delivered_total == accepted.size() + redone);
    CHECK(redone + paid.undelivered_killed <= static_cast<std::size_t>(held));
    CHECK(paid.undelivered_survivors == 0);
}
