// Command line, environment and config file, through CLI11.
#include "service/config.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>

#include "pipeline/near_duplicate.hpp"

namespace boomer::service {
namespace {

// Each flag below is also read from the environment variable named with it. `shown` prints
// the default in --help, `hidden_default` does not (an empty or computed default), and `ranged`
// also refuses a value outside [lo, hi].
template <class T>
CLI::Option* hidden_default(CLI::App& app, std::string name, T& value, std::string env,
                            std::string help) {
    return app.add_option(std::move(name), value, std::move(help))->envname(std::move(env));
}

template <class T>
CLI::Option* shown(CLI::App& app, std::string name, T& value, std::string env, std::string help) {
    return hidden_default(app, std::move(name), value, std::move(env), std::move(help))
        ->capture_default_str();
}

template <class T, class Bound>
CLI::Option* ranged(CLI::App& app, std::string name, T& value, std::string env, std::string help,
                    Bound lo, Bound hi) {
    return shown(app, std::move(name), value, std::move(env), std::move(help))
        ->check(CLI::Range(lo, hi));
}

void add_serve_options(CLI::App& serve, serve_config& c) {
    shown(serve, "--listen", c.listen, "BOOMER_LISTEN",
          "address and port to listen on (HOST:PORT)");
    shown(serve, "--data", c.data_dir, "BOOMER_DATA",
          "folder for the database and the photo store");
    hidden_default(
        serve, "--db", c.db, "BOOMER_DB",
        "database: sqlite:PATH or postgres://USER@HOST/DB (default: sqlite:DATA/boomer.db)");
    hidden_default(serve, "--watch", c.watch_dir, "BOOMER_WATCH",
                   "folder to take photos from (one item per file or sub-folder)");
    ranged(serve, "--watch-settle-seconds", c.watch_settle_seconds, "BOOMER_WATCH_SETTLE_SECONDS",
           "how long a watched entry must stay unchanged before it is taken", 0, 3600);
    hidden_default(serve, "--sales-csv", c.sales_csv, "BOOMER_SALES_CSV",
                   "sales-history export used as comps; repeatable (env: comma-separated)")
        ->delimiter(',')
        ->check(CLI::ExistingFile);
    ranged(serve, "--workers", c.workers, "BOOMER_WORKERS",
           "items in CPU and store stages at once; items waiting on upstreams do not count (0: "
           "accept items but process none, an intake-only node)",
           0, 1024);
    ranged(serve, "--max-in-flight", c.max_in_flight, "BOOMER_MAX_IN_FLIGHT",
           "items taken from the queue at once, counting those waiting on upstreams (bounds "
           "memory; adaptive concurrency decides the upstream calls)",
           1, 100'000);
    ranged(serve, "--max-in-flight-mb", c.max_in_flight_mb, "BOOMER_MAX_IN_FLIGHT_MB",
           "photo MiB held at once by items calling the vision model; an item waits for its "
           "photos' share before loading them (0: no bound)",
           0, 1'048'576);
    ranged(serve, "--io-threads", c.io_threads, "BOOMER_IO_THREADS",
           "network threads (0: one per core)", 0, 256);
    ranged(serve, "--cpu-threads", c.cpu_threads, "BOOMER_CPU_THREADS",
           "image threads (0: one per core)", 0, 256);
    ranged(serve, "--store-threads", c.store_threads, "BOOMER_STORE_THREADS",
           "threads for database and photo-store calls (they block on disk syncs)", 1, 256);
    ranged(serve, "--max-body-mb", c.max_body_mb, "BOOMER_MAX_BODY_MB",
           "largest request body in MiB", 1, 4096);
    ranged(serve, "--max-megapixels", c.max_megapixels, "BOOMER_MAX_MEGAPIXELS",
           "largest photo in megapixels", 1, 1000);
    ranged(serve, "--max-attempts", c.max_attempts, "BOOMER_MAX_ATTEMPTS",
           "attempts before an item fails", 1, 100);
    ranged(serve, "--vision-answer-days", c.vision_answer_days, "BOOMER_VISION_ANSWER_DAYS",
           "days a paid vision answer is reused for the same photos and settings, or lent to "
           "near-duplicate photos (0: never)",
           0, 3650);
    shown(serve, "--call-keeper", c.call_keeper, "BOOMER_CALL_KEEPER",
          "make Claude's calls through a keeper process that journals each paid answer, so that "
          "a crash of the service does not pay for its calls in flight twice");
    ranged(serve, "--near-duplicate-distance", c.near_duplicate_distance,
           "BOOMER_NEAR_DUPLICATE_DISTANCE",
           "reuse an earlier item's vision identification when every photo is within this many "
           "bits (perceptual hash) of its photos and nothing else matches (0 or less: off)",
           -64, pipeline::near_duplicate_distance_limit);
    ranged(serve, "--drain-seconds", c.drain_seconds, "BOOMER_DRAIN_SECONDS",
           "grace period on SIGTERM", 0, 3600);
    ranged(serve, "--lease-seconds", c.lease_seconds, "BOOMER_LEASE_SECONDS",
           "job lease; a crashed worker's items are taken back after it", 2, 3600);
    ranged(serve, "--park-recheck-seconds", c.park_recheck_seconds, "BOOMER_PARK_RECHECK_SECONDS",
           "a bulk item parked while its message batch runs runs again after this at the latest "
           "(its batch's end wakes it sooner, whichever replica sees it; this bounds the wait when "
           "a wake-up went missing)",
           10, 86'400);
    ranged(serve, "--comps-deadline-ms", c.comps_deadline_ms, "BOOMER_COMPS_DEADLINE_MS",
           "time the comps stage gives all market sources together", 1, 600'000);
    ranged(serve, "--comps-timeout-ms", c.comps_timeout_ms, "BOOMER_COMPS_TIMEOUT_MS",
           "time each market source gets to answer", 1, 600'000);
    ranged(serve, "--comps-cache-entries", c.comps_cache_entries, "BOOMER_COMPS_CACHE_ENTRIES",
           "market answers (one per source and query) kept in memory, at most; the database keeps "
           "them too, for every replica",
           1, 10'000'000);
    ranged(serve, "--comps-cache-mb", c.comps_cache_mb, "BOOMER_COMPS_CACHE_MB",
           "MiB the market answers kept in memory may hold, at most", 1, 65'536);
    ranged(serve, "--photo-fetch-timeout-ms", c.photo_fetch_timeout_ms,
           "BOOMER_PHOTO_FETCH_TIMEOUT_MS",
           "time a JSON submission's photo URLs get to download, all of one item's together", 100,
           600'000);
    ranged(serve, "--photo-fetch-mb", c.photo_fetch_mb, "BOOMER_PHOTO_FETCH_MB",
           "MiB of photos downloading from URLs at once, all submissions together; a submission "
           "that would pass it is answered 503 with Retry-After (the oldest one downloading may)",
           1, 65'536);
    serve
        .add_flag("--photo-fetch-allow-private", c.photo_fetch_allow_private,
                  "let photo URLs reach private, loopback and link-local addresses (off: "
                  "refused, against request forgery)")
        ->envname("BOOMER_PHOTO_FETCH_ALLOW_PRIVATE");
    hidden_default(serve, "--photo-fetch-ca-file", c.photo_fetch_ca_file,
                   "BOOMER_PHOTO_FETCH_CA_FILE",
                   "PEM certificates trusted for photo URLs besides the system's")
        ->check(CLI::ExistingFile);
    hidden_default(serve, "--public-url", c.public_url, "BOOMER_PUBLIC_URL",
                   "base URL written into exported picture links (default: http://<Host>)");
    hidden_default(serve, "--ship-from", c.ship_from, "BOOMER_SHIP_FROM",
                   "where items ship from, written as *Location into the eBay export: a postal "
                   "code or \"City, ST\"");
    ranged(serve, "--dispatch-days", c.seller.dispatch_days, "BOOMER_DISPATCH_DAYS",
           "business days from payment to shipping, written as *DispatchTimeMax", 0, 30);
    shown(serve, "--returns-accepted", c.seller.returns_accepted, "BOOMER_RETURNS_ACCEPTED",
          "whether returns are accepted, written as *ReturnsAcceptedOption");
    hidden_default(serve, "--shipping-profile", c.seller.shipping_profile,
                   "BOOMER_SHIPPING_PROFILE",
                   "name of the seller's shipping business policy, written into the export");
    hidden_default(serve, "--return-profile", c.seller.return_profile, "BOOMER_RETURN_PROFILE",
                   "name of the seller's return business policy, written into the export");
    hidden_default(serve, "--payment-profile", c.seller.payment_profile, "BOOMER_PAYMENT_PROFILE",
                   "name of the seller's payment business policy, written into the export");
    hidden_default(serve, "--log-format", c.log_format, "BOOMER_LOG_FORMAT",
                   "json or text (default: text on a terminal)")
        ->check(CLI::IsMember({"json", "text"}));
    shown(serve, "--log-level", c.log_level, "BOOMER_LOG_LEVEL", "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

}  // namespace

command parse_command(int argc, char** argv) {
    command cmd;
    CLI::App app{"boomer: photos of second-hand items in, priced listing drafts out."};
    app.require_subcommand(1);
    app.set_config("--config", "", "read settings from a TOML file (flags and env win)");
    app.allow_config_extras(CLI::config_extras_mode::error);

    auto* serve = app.add_subcommand("serve", "run the HTTP service and the pipeline");
    add_serve_options(*serve, cmd.serve);
    serve->callback([&cmd] { cmd.what = command::kind::serve; });

    auto* keeper = app.add_subcommand(
        "call-keeper",
        "make Claude's calls for the services of one data folder (started by serve)");
    keeper->add_option("--dir", cmd.keeper.dir, "the data folder")->required();
    keeper->add_option("--url", cmd.keeper.url,
                       "the Messages endpoint to call (default: ANTHROPIC_BASE_URL's)");
    keeper
        ->add_option("--idle-exit-ms", cmd.keeper.idle_exit_ms,
                     "exit after this long with no client and no call")
        ->capture_default_str()
        ->check(CLI::Range(1, 86'400'000));
    keeper
        ->add_option("--read-limit-ms", cmd.keeper.read_limit_ms,
                     "drop a client whose whole request has not come within this")
        ->capture_default_str()
        ->check(CLI::Range(1, 3'600'000));
    keeper->add_flag("--detach", cmd.keeper.detach, "fork off and return at once");
    keeper->add_option("--log-format", cmd.keeper.log_format, "json or text")
        ->envname("BOOMER_LOG_FORMAT")
        ->capture_default_str()
        ->check(CLI::IsMember({"json", "text"}));
    keeper->callback([&cmd] { cmd.what = command::kind::call_keeper; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        cmd.what = command::kind::exit;
        cmd.exit_code = app.exit(e);
        return cmd;
    }
    if (cmd.what == command::kind::serve) {
        if (auto problem = validate(cmd.serve)) {
            fmt::print(stderr, "boomer serve: {}\n", *problem);
            cmd.what = command::kind::exit;
            cmd.exit_code = 2;
        }
    }
    return cmd;
}

bool valid_ship_from(std::string_view text) {
    if (text.empty() || text.size() > 45 || text.front() == ' ' || text.back() == ' ') {
        return false;
    }
    auto is_alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    auto comma = text.find(", ");
    if (comma == std::string_view::npos) {
        // A postal code: "10001", "SW1A 1AA", "10115", "H2X-1Y4"; at least one digit.
        bool digit = std::any_of(text.begin(), text.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        });
        return digit && text.size() <= 12 && std::all_of(text.begin(), text.end(), [&](char c) {
                   return is_alnum(c) || c == ' ' || c == '-';
               });
    }
    // "City, ST": a city of letters, spaces, '.', '\'' and '-', then a 2-letter region.
    auto city = text.substr(0, comma);
    auto region = text.substr(comma + 2);
    bool city_ok = !city.empty() && std::all_of(city.begin(), city.end(), [&](char c) {
        return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == ' ' || c == '.' ||
               c == '\'' || c == '-' || static_cast<unsigned char>(c) >= 0x80;
    });
    bool region_ok = region.size() == 2 && std::isupper(static_cast<unsigned char>(region[0])) &&
                     std::isupper(static_cast<unsigned char>(region[1]));
    return city_ok && region_ok;
}

std::optional<std::string> validate(const serve_config& c) {
    auto colon = c.listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == c.listen.size()) {
        return fmt::format("--listen must be HOST:PORT, got '{}'", c.listen);
    }
    bool postgres = c.db.rfind("postgres://", 0) == 0 || c.db.rfind("postgresql://", 0) == 0;
    if (!c.db.empty() && c.db.rfind("sqlite:", 0) != 0 && !postgres) {
        return fmt::format("--db must be sqlite:PATH or postgres://..., got '{}:...'",
                           c.db.substr(0, c.db.find(':')));
    }
    if (!c.public_url.empty() && c.public_url.rfind("http://", 0) != 0 &&
        c.public_url.rfind("https://", 0) != 0) {
        return std::string("--public-url must start with http:// or https://");
    }
    if (c.data_dir.empty()) {
        return std::string("--data must not be empty");
    }
    if (!c.ship_from.empty() && !valid_ship_from(c.ship_from)) {
        return fmt::format(
            "--ship-from must be a postal code (letters, digits, spaces, '-') or \"City, ST\", "
            "at most 45 characters, got '{}'",
            c.ship_from.substr(0, 60));
    }
    return std::nullopt;
}

}  // namespace boomer::service
