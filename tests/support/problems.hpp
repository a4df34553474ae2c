// Checking problem documents (RFC 9457) in end-to-end tests.
#pragma once

#include <httplib.h>

#include <boost/json/object.hpp>
#include <string>

namespace boomer::test {

// expect_problem checks that `res` is a problem document with `status` and `code` (its type
// ending in the code's kebab-case slug, and a detail), and returns it for further checks.
boost::json::object expect_problem(const httplib::Result& res, int status, const std::string& code);

}  // namespace boomer::test
