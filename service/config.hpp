// The service's configuration: one place for every setting, read from flags, then BOOMER_*
// environment variables, then an optional config file (--config, TOML), then defaults.
// Validated at start; unknown keys in the file are refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/market/bulk_listing.hpp"
#include "pipeline/near_duplicate.hpp"

namespace boomer::service {

struct serve_config {
    std::string listen = "0.0.0.0:8080";
    std::string data_dir = "var";
    std::string db;  // "sqlite:PATH"; empty: sqlite:<data_dir>/boomer.db
    std::string watch_dir;
    int watch_settle_seconds = 5;  // an entry unchanged this long is taken
    std::vector<std::string> sales_csv;
    int workers = 64;  // items in CPU and store stages at once; 0: intake only
    // Items claimed at once, waiting on upstreams included. At 4,000 vision calls a minute an item
    // spends about 6 s in vision and up to 15 s in the market sources: about 1,000 in flight,
    // so 1,024 left no room for the CPU stages that feed vision.
    int max_in_flight = 2048;
    int max_in_flight_mb = 256;  // photo MiB held by items calling the vision model
    int io_threads = 0;          // 0: one per core
    int cpu_threads = 0;         // 0: one per core
    int store_threads = 8;       // blocking disk and database calls
    std::uint64_t max_body_mb = 100;
    int max_files = 12;
    std::uint64_t max_file_mb = 25;
    std::uint64_t max_megapixels = 50;
    int max_attempts = 5;
    int drain_seconds = 20;
    int lease_seconds = 20;
    int park_recheck_seconds = 600;
    int vision_answer_days = 30;  // how long a paid vision answer is reused; 0: never kept
    // Photos whose perceptual hashes differ in at most this many bits count as the same photo
    // when looking for an earlier item whose identification to reuse; 0 or less: off.
    int near_duplicate_distance = pipeline::near_duplicate_default_distance;
    std::string log_format;  // "json" or "text"; empty: text on a terminal, else json
    std::string log_level = "info";
    std::string tenant = "default";
    int comps_deadline_ms = 8000;      // the comps stage, all market sources together
    int comps_timeout_ms = 5000;       // each market source
    int comps_cache_entries = 10'000;  // market answers kept in memory, at most
    int comps_cache_mb = 64;           // and their bytes, measured deeply, at most
    std::string ship_from;        // where items ship from, for exports: a postal code or "City, ST"
    market::seller_terms seller;  // handling time, returns and business policies, for exports
    std::string public_url;  // how clients and marketplaces reach us, e.g. https://boomer.example
    // Photos given as URLs in JSON submissions: the time for all of an item's photos, whether
    // private, loopback and link-local addresses may be fetched from, and a PEM file of
    // certificates trusted besides the system's.
    int photo_fetch_timeout_ms = 10'000;  // within the server's drain timeout (10 s)
    int photo_fetch_mb = 256;             // photo bytes downloading at once, all submissions
    bool photo_fetch_allow_private = false;
    std::string photo_fetch_ca_file;
    // Claude's synchronous calls go through a call keeper process (clients/call_keeper.hpp), so
    // that a crash of the service does not pay for the calls it had in flight again. Needs
    // `program`: main() sets it to the running binary.
    bool call_keeper = true;
    std::string program;
};

// `boomer call-keeper`: the keeper process a service starts for its data folder.
struct call_keeper_config {
    std::string dir;
    std::string url;             // the Messages endpoint it calls; empty: ANTHROPIC_BASE_URL's
    int idle_exit_ms = 10'000;   // exits after this long with no client and no call
    int read_limit_ms = 30'000;  // drops a client whose request has not come within this
    bool detach = false;         // fork off and return at once (how a service starts it)
    std::string log_format = "json";
};

// The outcome of reading the command line.
struct command {
    enum class kind { serve, call_keeper, exit } what = kind::exit;
    int exit_code = 0;  // for kind::exit (help printed, or a usage error)
    serve_config serve;
    call_keeper_config keeper;
};

// parse_command reads argv (and the environment). Prints help or errors itself.
command parse_command(int argc, char** argv);

// valid_ship_from says whether `text` is a usable item location: a postal code (letters,
// digits, spaces and '-', with a digit, at most 12 characters) or "City, ST" (a two-letter
// upper-case region), at most 45 characters as eBay's Location field allows.
bool valid_ship_from(std::string_view text);

// validate checks ranges and that paths make sense; returns the problem, or nothing.
std::optional<std::string> validate(const serve_config& config);

}  // namespace boomer::service
