// The end-to-end tests' HTTP client.
#include "tests/support/http_client.hpp"

#include <stdexcept>
#include <thread>

namespace boomer::test {

api_client::api_client(int port) : client_("127.0.0.1", port) {
    client_.set_read_timeout(30, 0);
    client_.set_write_timeout(30, 0);
    client_.set_connection_timeout(5, 0);
}

httplib::Result api_client::get(const std::string& path) {
    return client_.Get(path);
}

httplib::Result api_client::post(const std::string& path) {
    return client_.Post(path);
}

httplib::Result api_client::post_body(const std::string& path, const std::string& body,
                                      const std::string& content_type,
                                      const httplib::Headers& headers) {
    return client_.Post(path.c_str(), headers, body, content_type.c_str());
}

httplib::Result api_client::post_item(
    const std::vector<upload>& files,
    const std::vector<std::pair<std::string, std::string>>& fields,
    const httplib::Headers& headers) {
    httplib::MultipartFormDataItems items;
    for (const auto& f : files) {
        items.push_back({f.field, f.bytes, f.filename, f.content_type});
    }
    for (const auto& [name, value] : fields) {
        items.push_back({name, value, "", ""});
    }
    return client_.Post("/v1/items", headers, items);
}

boost::json::object api_client::wait_final(const std::string& job_id,
                                           std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        auto res = get("/v1/jobs/" + job_id);
        if (res && res->status == 200) {
            auto job = parse_object(res->body);
            last = res->body;
            auto state = job.at("state").as_string();
            if (state != "queued" && state != "running") {
                return job;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("job " + job_id + " did not finish in time; last: " + last);
}

boost::json::object parse_object(const std::string& body) {
    return boost::json::parse(body).as_object();
}

}  // namespace boomer::test
