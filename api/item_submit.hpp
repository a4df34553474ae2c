// POST /v1/items: a submission as multipart/form-data (photo files and text fields) or as JSON
// (api/item_json.hpp: photos in base64 or as https URLs). Both end in the same intake call and
// the same answers: 202 with the item's and job's ids and links, 200 for an idempotent replay,
// or a problem document whose `code` says what to fix.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <string_view>

#include "api/handlers.hpp"
#include "api/router.hpp"

namespace boomer::api {

// submit_item handles POST /v1/items. `deps` must outlive the call.
asio::awaitable<http_response> submit_item(api_deps& deps, request_context ctx);

// item_links returns the {"item", "job"} links of an item's documents.
boost::json::object item_links(std::string_view item_id, std::string_view job_id);

}  // namespace boomer::api
