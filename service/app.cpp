// Wiring and lifecycle of the service.
#include "service/app.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/handlers.hpp"
#include "api/http_server.hpp"
#include "clients/claude_request_context.hpp"
#include "clients/claude_vision.hpp"
#include "clients/ebay_api.hpp"
#include "clients/ebay_browse.hpp"
#include "clients/ebay_insights.hpp"
#include "clients/ebay_sold_page.hpp"
#include "clients/photo_fetcher.hpp"
#include "core/async.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "pipeline/market/own_sales_source.hpp"
#include "pipeline/market/sales_import.hpp"
#include "pipeline/scheduler.hpp"
#include "pipeline/watch_folder.hpp"
#include "service/openapi_document.hpp"
#include "service/pipeline_events.hpp"
#include "service/vision_answers.hpp"
#include "store/postgres_dsn.hpp"
#include "store/postgres_store.hpp"
#include "store/postgres_wakeups.hpp"
#include "store/sqlite_store.hpp"

namespace boomer::service {
namespace fs = std::filesystem;
namespace {

int or_cores(int n) {
    return n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        throw std::runtime_error(fmt::format("cannot read {}", p.string()));
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& listen) {
    auto colon = listen.rfind(':');
    auto host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
    if (ec) {
        throw std::runtime_error(fmt::format("--listen: '{}' is not an IP address", host));
    }
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) {
        throw std::runtime_error(fmt::format("--listen: port {} is out of range", port));
    }
    return {address, static_cast<unsigned short>(port)};
}

std::string worker_identity() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return fmt::format("{}:{}:{}", host, getpid(),
                       new_id("boot", system_clock::instance().now_ms()));
}

// The sales history from every --sales-csv file; a malformed file stops the start with the
// importer's line-numbered reason.
std::unique_ptr<market::sales_history> load_sales(const std::vector<std::string>& files) {
    auto history = std::make_unique<market::sales_history>();
    for (const auto& file : files) {
        auto imported = market::import_sales_csv(read_text(file), file);
        if (!imported) {
            throw std::runtime_error(
                fmt::format("--sales-csv {}: {}", file, imported.error().message));
        }
        log::event(spdlog::level::info, "sales_loaded",
                   {{"file", file},
                    {"format", imported->format},
                    {"sales", imported->sales.size()},
                    {"duplicates", imported->duplicates},
                    {"warnings", imported->warnings.size()}});
        history->add(*imported);
    }
    return history;
}

// add_ebay_sources adds the eBay market sources the environment enables (EBAY_* variables, see
// clients/ebay_common.hpp). Errors: unusable settings stop the start, naming the variable.
void add_ebay_sources(std::vector<std::shared_ptr<market::comp_source>>& sources,
                      const boost::asio::any_io_executor& executor, metrics::registry& registry) {
    auto settings = clients::ebay_settings_from_env();
    if (!settings) {
        throw std::runtime_error("eBay settings: " + settings.error().message);
    }
    std::vector<std::shared_ptr<market::comp_source>> found;
    if (settings->browse.enabled || settings->insights.enabled) {
        auto context = clients::make_ebay_context(settings->api, executor, registry);
        found.push_back(clients::make_ebay_browse_source(context, settings->browse));
        found.push_back(clients::make_ebay_insights_source(context, settings->insights));
    }
    found.push_back(clients::make_ebay_sold_page_source(settings->sold_page, executor, registry));
    for (auto& source : found) {
        if (source) {
            log::event(spdlog::level::info, "market_source_enabled", {{"source", source->name()}});
            sources.push_back(std::move(source));
        }
    }
}

// make_fetcher builds the downloader of photo URLs. Errors: an unreadable CA file stops the
// start.
std::unique_ptr<pipeline::photo_fetcher> make_fetcher(
    const serve_config& c, const boost::asio::any_io_executor& executor) {
    clients::photo_fetcher_options options;
    options.allow_private = c.photo_fetch_allow_private;
    if (!c.photo_fetch_ca_file.empty()) {
        std::ifstream in(c.photo_fetch_ca_file, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        if (!in.is_open() || text.str().empty()) {
            throw std::runtime_error("--photo-fetch-ca-file cannot be read: " +
                                     c.photo_fetch_ca_file);
        }
        options.extra_ca_pem = text.str();
    }
    if (options.allow_private) {
        log::event(spdlog::level::warn, "photo_fetch_private_allowed", {});
    }
    return clients::make_photo_fetcher(executor, std::move(options));
}

}  // namespace

struct app::impl {
    explicit impl(serve_config c)
        : config(std::move(c)),
          events(registry),
          io(or_cores(config.io_threads)),
          cpu_pool(static_cast<std::size_t>(or_cores(config.cpu_threads))),
          store_pool(static_cast<std::size_t>(config.store_threads)),
          signals(io, SIGINT, SIGTERM),
          watch_timer(io) {}

    serve_config config;
    // Declared before the io_context, so destroyed after it: coroutines still suspended when
    // the drain deadline stopped the loop (calls in flight) are destroyed with the io_context,
    // and their frames release gauges, cache entries and store work on the way.
    metrics::registry registry;
    pipeline_events events;
    std::unique_ptr<store::store> db;
    std::unique_ptr<store::blob_store> blobs;
    std::unique_ptr<market::sales_history> sales;
    boost::asio::io_context io;
    boost::asio::thread_pool cpu_pool;
    boost::asio::thread_pool store_pool;
    boost::asio::signal_set signals;
    std::unique_ptr<pipeline::vision_model> vision;
    std::unique_ptr<pipeline::photo_fetcher> fetcher;
    std::shared_ptr<pipeline::scheduler> scheduler;
    api::router router;
    api::api_deps deps;
    std::unique_ptr<api::http_server> server;
    std::unique_ptr<pipeline::watch_folder> watcher;
    std::unique_ptr<store::postgres_wakeups> wakeups;  // Postgres only: LISTEN for new jobs
    boost::asio::steady_timer watch_timer;
    std::atomic<bool> draining{false};
};

app::app(serve_config config) : impl_(std::make_unique<impl>(std::move(config))) {
    auto& s = *impl_;
    const auto& c = s.config;

    fs::create_directories(c.data_dir);
    if (store::is_postgres_uri(c.db)) {
        store::postgres_options pg;
        pg.connections = c.store_threads;
        s.db = store::open_postgres_store(c.db, pg);
    } else {
        std::string db_path = c.db.empty() ? (fs::path(c.data_dir) / "boomer.db").string()
                                           : c.db.substr(std::string_view("sqlite:").size());
        store::sqlite_options db_options;
        db_options.connections = c.store_threads;
        s.db = store::open_sqlite_store(db_path, db_options);
    }
    s.blobs = std::make_unique<store::blob_store>(fs::path(c.data_dir) / "blobs");
    s.sales = load_sales(c.sales_csv);

    pipeline::intake_limits limits;
    limits.max_files = c.max_files;
    limits.max_file_bytes = c.max_file_mb * 1024 * 1024;
    limits.max_pixels = c.max_megapixels * 1'000'000;
    limits.max_attempts = c.max_attempts;

    pipeline::scheduler_deps sd;
    sd.db = s.db.get();
    sd.cpu_pool = &s.cpu_pool;
    sd.store_pool = &s.store_pool;
    sd.time = &system_clock::instance();
    sd.env.blobs = s.blobs.get();
    sd.env.sales = s.sales.get();
    sd.env.image_limits.max_pixels = limits.max_pixels;
    sd.env.today = iso8601_utc(system_clock::instance().now_ms()).substr(0, 10);
    sd.observer = &s.events;
    sd.metrics = &s.registry;
    sd.comps.deadline = std::chrono::milliseconds(c.comps_deadline_ms);
    sd.comps.source_timeout = std::chrono::milliseconds(c.comps_timeout_ms);
    sd.comps.memory.max_entries = static_cast<std::size_t>(c.comps_cache_entries);
    sd.comps.memory.max_bytes = static_cast<std::size_t>(c.comps_cache_mb) * 1024 * 1024;
    // An identification is lent no longer than a paid answer is kept, and not at all when paid
    // answers are not kept.
    sd.near_duplicates.max_distance = c.vision_answer_days > 0 ? c.near_duplicate_distance : 0;
    sd.near_duplicates.max_age_ms = std::int64_t{c.vision_answer_days} * 24 * 3'600'000;
    if (!c.sales_csv.empty()) {
        sd.comp_sources.push_back(std::make_shared<market::own_sales_source>(*s.sales));
    }
    add_ebay_sources(sd.comp_sources, s.io.get_executor(), s.registry);
    if (std::getenv("ANTHROPIC_API_KEY") != nullptr) {
        auto claude = clients::claude_options_from_env();
        if (!claude) {
            throw std::runtime_error("Claude settings: " + claude.error().message);
        }
        if (c.vision_answer_days > 0) {
            claude->answers = make_vision_answers(*s.db, s.store_pool);
            claude->answer_ttl = std::chrono::hours(24 * c.vision_answer_days);
        }
        if (c.call_keeper && !c.program.empty()) {
            claude->keeper.dir = c.data_dir;
            claude->keeper.program = c.program;
        }
        s.vision = clients::make_claude_vision(*claude, s.io.get_executor(), s.registry);
        sd.vision = s.vision.get();
        sd.vision_context = [options = *claude](const pipeline::identify_request& request) {
            return clients::identify_request_context(request, options);
        };
        log::event(spdlog::level::info, "vision_enabled", {{"upstream", "anthropic"}});
    }
    pipeline::scheduler_options so;
    so.worker_id = worker_identity();
    so.concurrency = c.workers;
    so.max_in_flight = c.max_in_flight;
    so.max_photo_bytes = static_cast<std::int64_t>(c.max_in_flight_mb) << 20;
    so.lease_ms = c.lease_seconds * 1000;
    so.park_recheck_ms = static_cast<std::int64_t>(c.park_recheck_seconds) * 1000;
    so.heartbeat_ms = so.lease_ms / 4;
    s.scheduler = std::make_shared<pipeline::scheduler>(s.io.get_executor(), sd, so);

    s.deps.db = s.db.get();
    s.deps.blobs = s.blobs.get();
    s.deps.store_pool = &s.store_pool;
    s.deps.time = &system_clock::instance();
    s.deps.limits = limits;
    s.fetcher = make_fetcher(c, s.io.get_executor());
    s.deps.fetcher = s.fetcher.get();
    s.deps.fetch.max_photo_bytes = limits.max_file_bytes;
    s.deps.fetch.max_total_bytes = c.max_body_mb * 1024 * 1024;
    s.deps.fetch.timeout = std::chrono::milliseconds(c.photo_fetch_timeout_ms);
    s.deps.fetch.pool =
        std::make_shared<pipeline::fetch_pool>(static_cast<std::uint64_t>(c.photo_fetch_mb) << 20);
    s.registry
        .callback_gauge_family("boomer_photo_url_fetch_bytes",
                               "Photo bytes downloading from URLs now, all submissions together, "
                               "against --photo-fetch-mb.",
                               {})
        .with({})
        .set_callback([pool = s.deps.fetch.pool] { return static_cast<double>(pool->held()); });
    s.deps.wake_workers = [sched = s.scheduler] { sched->wake(); };
    s.deps.item_canceled = [sched = s.scheduler](std::string id) {
        sched->canceled(std::move(id));
    };
    s.deps.metrics = &s.registry;
    s.deps.openapi_yaml = std::string(openapi_document());
    s.deps.draining = &s.draining;
    s.deps.tenant_id = c.tenant;
    s.deps.public_url = c.public_url;
    s.deps.ship_from = c.ship_from;
    s.deps.seller = c.seller;
    api::add_routes(s.router, s.deps);

    api::server_options http_options;
    http_options.max_body_bytes = c.max_body_mb * 1024 * 1024;
    s.server = std::make_unique<api::http_server>(s.io, parse_endpoint(c.listen), s.router,
                                                  http_options, s.registry);
    if (!c.watch_dir.empty()) {
        s.watcher = std::make_unique<pipeline::watch_folder>(c.watch_dir, c.tenant,
                                                             c.watch_settle_seconds * 1000);
    }
}

app::~app() = default;

boost::asio::ip::tcp::endpoint app::local_endpoint() const {
    return impl_->server->local_endpoint();
}

namespace {

boost::asio::awaitable<void> watch_loop(app::impl* s) {
    const auto wait = boost::asio::as_tuple(boost::asio::use_awaitable);
    while (!s->draining) {
        try {
            auto scan_work = [s] {
                return s->watcher->scan_once(s->deps.limits, *s->db, *s->blobs,
                                             system_clock::instance());
            };
            auto events = co_await run_on(s->store_pool, scan_work);
            for (const auto& e : events) {
                if (e.accepted) {
                    log::event(spdlog::level::info, "watch_ingested",
                               {{"entry", e.entry}, {"item_id", e.item_id}, {"new", e.created}});
                } else {
                    log::event(spdlog::level::warn, "watch_rejected",
                               {{"entry", e.entry}, {"reason", e.error}});
                }
            }
            if (!events.empty()) {
                s->scheduler->wake();
            }
        } catch (const std::exception& e) {
            log::event(spdlog::level::err, "watch_failed", {{"what", e.what()}});
        }
        s->watch_timer.expires_after(std::chrono::seconds(1));
        co_await s->watch_timer.async_wait(wait);
    }
}

// start_wakeups wakes the scheduler whenever another replica (or this one) queues a job, on a
// thread of its own; it logs when the database goes away and comes back.
void start_wakeups(app::impl& s) {
    auto on_jobs = [sched = s.scheduler] { sched->wake(); };
    auto on_error = [](const std::string& what) {
        if (what.empty()) {
            log::event(spdlog::level::info, "job_listener_connected", {});
        } else {
            log::event(spdlog::level::warn, "job_listener_failed", {{"error", what}});
        }
    };
    store::postgres_options pg;
    s.wakeups = std::make_unique<store::postgres_wakeups>(s.config.db, pg, on_jobs, on_error);
}

void log_escape(const char* what, std::exception_ptr e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log::event(spdlog::level::err, "coroutine_failed", {{"where", what}, {"what", ex.what()}});
    }
}

}  // namespace

void app::stop() {
    auto& s = *impl_;
    boost::asio::post(s.io, [&s] {
        if (s.draining.exchange(true)) {
            return;
        }
        log::event(spdlog::level::info, "draining",
                   {{"running", s.scheduler->running()},
                    {"in_flight", s.scheduler->in_flight()},
                    {"deadline_s", s.config.drain_seconds}});
        s.signals.cancel();
        s.watch_timer.cancel();
        // The process ends when both the server and the scheduler have stopped.
        auto remaining = std::make_shared<std::atomic<int>>(2);
        auto one_done = [&s, remaining] {
            if (--*remaining == 0) {
                log::event(spdlog::level::info, "stopped", {});
                s.io.stop();
            }
        };
        s.server->stop([&s, one_done] { boost::asio::post(s.io, one_done); });
        s.scheduler->shutdown(std::chrono::seconds(s.config.drain_seconds), one_done);
    });
}

int app::run() {
    auto& s = *impl_;
    s.server->start();
    if (s.config.workers > 0) {
        s.scheduler->start();
        if (store::is_postgres_uri(s.config.db)) {
            start_wakeups(s);
        }
    }
    if (s.watcher) {
        boost::asio::co_spawn(s.io, watch_loop(&s),
                              [](std::exception_ptr e) { log_escape("watch", e); });
    }
    s.signals.async_wait([this](boost::system::error_code ec, int signal) {
        if (!ec) {
            log::event(spdlog::level::info, "signal", {{"signal", signal}});
            stop();
        }
    });
    auto ep = s.server->local_endpoint();
    log::event(spdlog::level::info, "listening",
               {{"address", ep.address().to_string()},
                {"port", static_cast<int>(ep.port())},
                {"data", s.config.data_dir},
                {"workers", s.config.workers},
                {"max_in_flight", s.config.max_in_flight},
                {"watch", s.config.watch_dir},
                {"sales_files", s.config.sales_csv.size()}});

    std::vector<std::thread> threads;
    int n = or_cores(s.config.io_threads);
    for (int i = 1; i < n; ++i) {
        threads.emplace_back([&s] { s.io.run(); });
    }
    s.io.run();
    for (auto& t : threads) {
        t.join();
    }
    if (s.wakeups) {
        s.wakeups->stop();
    }
    // Drained: every job still running was released. Work queued on the pools is abandoned and
    // only what runs right now finishes (its writes are refused by the fence).
    s.cpu_pool.stop();
    s.store_pool.stop();
    s.cpu_pool.join();
    s.store_pool.join();
    return 0;
}

}  // namespace boomer::service
