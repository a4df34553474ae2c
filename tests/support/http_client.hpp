// A small HTTP client for end-to-end tests (cpp-httplib), with JSON helpers.
#pragma once

#include <httplib.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace boomer::test {

struct upload {
    std::string field = "photo";
    std::string filename;
    std::string bytes;
    std::string content_type = "application/octet-stream";
};

class api_client {
public:
    explicit api_client(int port);

    httplib::Result get(const std::string& path);
    httplib::Result post(const std::string& path);
    // post_body sends `body` as it is, with the given Content-Type.
    httplib::Result post_body(const std::string& path, const std::string& body,
                              const std::string& content_type = "application/json",
                              const httplib::Headers& headers = {});
    // post_item sends multipart: the uploads and the text fields.
    httplib::Result post_item(const std::vector<upload>& files,
                              const std::vector<std::pair<std::string, std::string>>& fields = {},
                              const httplib::Headers& headers = {});

    // wait_final polls GET /v1/jobs/{id} until its state is final; returns the job document.
    // Throws when `timeout` passes first.
    boost::json::object wait_final(const std::string& job_id,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

private:
    httplib::Client client_;
};

boost::json::object parse_object(const std::string& body);

}  // namespace boomer::test
