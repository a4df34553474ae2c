// boomer's v1 routes: thin handlers that decode a request, call intake or the store (on the
// store pool), and encode the answer. Errors become problem documents here and nowhere else.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <string>

#include "api/router.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/market/bulk_listing.hpp"
#include "pipeline/photo_fetch.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

namespace boomer::api {

struct api_deps {
    store::store* db = nullptr;
    store::blob_store* blobs = nullptr;
    boost::asio::thread_pool* store_pool = nullptr;
    const clock* time = nullptr;
    pipeline::intake_limits limits;
    // Downloads photos given as URLs in JSON submissions; null: such photos are a server error.
    pipeline::photo_fetcher* fetcher = nullptr;
    pipeline::fetch_limits fetch;  // per photo, per item (the body limit) and the time for all
    std::function<void()> wake_workers;  // new work is queued
    // The item was canceled in the store: a run of it in this process stops. May be empty.
    std::function<void(std::string item_id)> item_canceled;
    metrics::registry* metrics = nullptr;
    std::string openapi_yaml;
    const std::atomic<bool>* draining = nullptr;
    std::string tenant_id = "default";  // one tenant until API keys exist
    std::string public_url;       // base of URLs written into exports; empty: http://<Host header>
    std::string ship_from;        // the items' location in exports (--ship-from); empty: not set
    market::seller_terms seller;  // handling time, returns and policy names in exports
};

// add_routes registers every v1 route, the health routes, /metrics and /openapi.yaml.
// `deps` must outlive the router.
void add_routes(router& r, api_deps& deps);

}  // namespace boomer::api
