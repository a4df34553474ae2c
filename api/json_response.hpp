// JSON responses for handlers.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

namespace boomer::api {

// json_response serializes `body` with content type application/json.
boost::beast::http::response<boost::beast::http::string_body> json_response(
    boost::beast::http::status status, const boost::json::value& body);

}  // namespace boomer::api
