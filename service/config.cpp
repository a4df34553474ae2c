// Command line, environment and config file, through CLI11.
#include "service/config.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>

#include "pipeline/near_duplicate.hpp"

namespace boomer::service {
namespace {

void add_serve_options(CLI::App& serve, serve_config& c) {
    serve.add_option("--listen", c.listen, "address and port to listen on (HOST:PORT)")
        ->envname("BOOMER_LISTEN")
        ->capture_default_str();
    serve.add_option("--data", c.data_dir, "folder for the database and the photo store")
        ->envname("BOOMER_DATA")
        ->capture_default_str();
    serve
        .add_option("--db", c.db,
                    "database: sqlite:PATH or postgres://USER@HOST/DB (default: "
                    "sqlite:DATA/boomer.db)")
        ->envname("BOOMER_DB");
    serve
        .add_option("--watch", c.watch_dir,
                    "folder to take photos from (one item per file "
                    "or sub-folder)")
        ->envname("BOOMER_WATCH");
    serve
        .add_option("--watch-settle-seconds", c.watch_settle_seconds,
                    "how long a watched entry must stay unchanged before it is taken")
        ->envname("BOOMER_WATCH_SETTLE_SECONDS")
        ->capture_default_str()
        ->check(CLI::Range(0, 3600));
    serve
        .add_option("--sales-csv", c.sales_csv,
                    "sales-history export used as comps; "
                    "repeatable (env: comma-separated)")
        ->envname("BOOMER_SALES_CSV")
        ->delimiter(',')
        ->check(CLI::ExistingFile);
    serve
        .add_option("--workers", c.workers,
                    "items in CPU and store stages at once; items waiting on upstreams do not "
                    "count (0: accept items but process none, an intake-only node)")
        ->envname("BOOMER_WORKERS")
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
    serve
        .add_option("--max-in-flight", c.max_in_flight,
                    "items taken from the queue at once, counting those waiting on upstreams "
                    "(bounds memory; adaptive concurrency decides the upstream calls)")
        ->envname("BOOMER_MAX_IN_FLIGHT")
        ->capture_default_str()
        ->check(CLI::Range(1, 100'000));
    serve
        .add_option("--max-in-flight-mb", c.max_in_flight_mb,
                    "photo MiB held at once by items calling the vision model; an item waits "
                    "for its photos' share before loading them (0: no bound)")
        ->envname("BOOMER_MAX_IN_FLIGHT_MB")
        ->capture_default_str()
        ->check(CLI::Range(0, 1'048'576));
    serve.add_option("--io-threads", c.io_threads, "network threads (0: one per core)")
        ->envname("BOOMER_IO_THREADS")
        ->check(CLI::Range(0, 256));
    serve.add_option("--cpu-threads", c.cpu_threads, "image threads (0: one per core)")
        ->envname("BOOMER_CPU_THREADS")
        ->check(CLI::Range(0, 256));
    serve
        .add_option("--store-threads", c.store_threads,
                    "threads for database and photo-store "
                    "calls (they block on disk syncs)")
        ->envname("BOOMER_STORE_THREADS")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    serve.add_option("--max-body-mb", c.max_body_mb, "largest request body in MiB")
        ->envname("BOOMER_MAX_BODY_MB")
        ->capture_default_str()
        ->check(CLI::Range(1, 4096));
    serve.add_option("--max-megapixels", c.max_megapixels, "largest photo in megapixels")
        ->envname("BOOMER_MAX_MEGAPIXELS")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    serve.add_option("--max-attempts", c.max_attempts, "attempts before an item fails")
        ->envname("BOOMER_MAX_ATTEMPTS")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    serve
        .add_option("--vision-answer-days", c.vision_answer_days,
                    "days a paid vision answer is reused for the same photos and settings "
                    "(0: never)")
        ->envname("BOOMER_VISION_ANSWER_DAYS")
        ->capture_default_str()
        ->check(CLI::Range(0, 3650));
    serve
        .add_option("--near-duplicate-distance", c.near_duplicate_distance,
                    "reuse an earlier item's vision identification when every photo is within "
                    "this many bits (perceptual hash) of its photos and nothing else matches "
                    "(0 or less: off)")
        ->envname("BOOMER_NEAR_DUPLICATE_DISTANCE")
        ->capture_default_str()
        ->check(CLI::Range(-64, pipeline::near_duplicate_distance_limit));
    serve.add_option("--drain-seconds", c.drain_seconds, "grace period on SIGTERM")
        ->envname("BOOMER_DRAIN_SECONDS")
        ->capture_default_str()
        ->check(CLI::Range(0, 3600));
    serve
        .add_option("--lease-seconds", c.lease_seconds,
                    "job lease; a crashed worker's items "
                    "are taken back after it")
        ->envname("BOOMER_LEASE_SECONDS")
        ->capture_default_str()
        ->check(CLI::Range(2, 3600));
    serve
        .add_option("--comps-deadline-ms", c.comps_deadline_ms,
                    "time the comps stage gives all market sources together")
        ->envname("BOOMER_COMPS_DEADLINE_MS")
        ->capture_default_str()
        ->check(CLI::Range(1, 600'000));
    serve
        .add_option("--comps-timeout-ms", c.comps_timeout_ms,
                    "time each market source gets to answer")
        ->envname("BOOMER_COMPS_TIMEOUT_MS")
        ->capture_default_str()
        ->check(CLI::Range(1, 600'000));
    serve
        .add_option("--comps-cache-entries", c.comps_cache_entries,
                    "market answers (one per source and query) kept in memory, at most; the "
                    "database keeps them too, for every replica")
        ->envname("BOOMER_COMPS_CACHE_ENTRIES")
        ->capture_default_str()
        ->check(CLI::Range(1, 10'000'000));
    serve
        .add_option("--comps-cache-mb", c.comps_cache_mb,
                    "MiB the market answers kept in memory may hold, at most")
        ->envname("BOOMER_COMPS_CACHE_MB")
        ->capture_default_str()
        ->check(CLI::Range(1, 65'536));
    serve
        .add_option("--public-url", c.public_url,
                    "base URL written into exported picture links (default: http://<Host>)")
        ->envname("BOOMER_PUBLIC_URL");
    serve
        .add_option("--ship-from", c.ship_from,
                    "where items ship from, written as *Location into the eBay export: a postal "
                    "code or \"City, ST\"")
        ->envname("BOOMER_SHIP_FROM");
    serve
        .add_option("--dispatch-days", c.seller.dispatch_days,
                    "business days from payment to shipping, written as *DispatchTimeMax")
        ->envname("BOOMER_DISPATCH_DAYS")
        ->capture_default_str()
        ->check(CLI::Range(0, 30));
    serve
        .add_option("--returns-accepted", c.seller.returns_accepted,
                    "whether returns are accepted, written as *ReturnsAcceptedOption")
        ->envname("BOOMER_RETURNS_ACCEPTED")
        ->capture_default_str();
    serve
        .add_option("--shipping-profile", c.seller.shipping_profile,
                    "name of the seller's shipping business policy, written into the export")
        ->envname("BOOMER_SHIPPING_PROFILE");
    serve
        .add_option("--return-profile", c.seller.return_profile,
                    "name of the seller's return business policy, written into the export")
        ->envname("BOOMER_RETURN_PROFILE");
    serve
        .add_option("--payment-profile", c.seller.payment_profile,
                    "name of the seller's payment business policy, written into the export")
        ->envname("BOOMER_PAYMENT_PROFILE");
    serve.add_option("--log-format", c.log_format, "json or text (default: text on a terminal)")
        ->envname("BOOMER_LOG_FORMAT")
        ->check(CLI::IsMember({"json", "text"}));
    serve.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
        ->envname("BOOMER_LOG_LEVEL")
        ->capture_default_str()
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
