// Problem document checks with Catch assertions.
#include "tests/support/problems.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/support/http_client.hpp"

namespace boomer::test {

boost::json::object expect_problem(const httplib::Result& res, int status,
                                   const std::string& code) {
    REQUIRE(res);
    INFO(res->body);
    CHECK(res->status == status);
    CHECK(res->get_header_value("Content-Type") == "application/problem+json");
    auto p = parse_object(res->body);
    std::string slug = code;
    std::replace(slug.begin(), slug.end(), '_', '-');
    CHECK(p.at("status").as_int64() == status);
    CHECK(std::string(p.at("code").as_string()) == code);
    CHECK(std::string(p.at("type").as_string()).ends_with("/" + slug));
    CHECK(!p.at("detail").as_string().empty());
    return p;
}

}  // namespace boomer::test
