// The request context of a Claude identification: everything the calls would send besides the
// photos' bytes changes it, the photos' bytes and what never reaches the request do not.
#include "clients/claude_request_context.hpp"

#include <catch2/catch.hpp>
#include <functional>

using namespace boomer;

namespace {

pipeline::identify_request two_photos() {
    pipeline::identify_request r;
    r.item_id = "itm_1";
    r.jpeg_images = {"\xFF\xD8 first", "\xFF\xD8 second"};
    return r;
}

// Whether `change` to the request or the options changes the context.
bool changes(
    const std::function<void(pipeline::identify_request&, clients::claude_options&)>& change) {
    auto request = two_photos();
    clients::claude_options options;
    const auto before = clients::identify_request_context(request, options);
    change(request, options);
    return clients::identify_request_context(request, options) != before;
}

}  // namespace

TEST_CASE("claude request context: what the calls would send besides the photos counts",
          "[clients]") {
    using req = pipeline::identify_request;
    using opt = clients::claude_options;
    CHECK(changes([](req& r, opt&) { r.condition_hint = "for parts, cracked lid"; }));
    CHECK(changes([](req& r, opt&) { r.title_hint = "Canon AE-1"; }));
    CHECK(changes([](req& r, opt&) { r.barcodes = {"EAN-13:4006381333931"}; }));
    CHECK(changes([](req& r, opt&) { r.jpeg_images.pop_back(); }));
    CHECK(changes([](req&, opt& o) { o.cheap_model = "claude-sonnet-4-5"; }));
    CHECK(changes([](req&, opt& o) { o.strong_model = "claude-opus-4-1"; }));
    CHECK(changes([](req&, opt& o) { o.strong_model.clear(); }));
    CHECK(changes([](req&, opt& o) { o.escalation_threshold = 0.5; }));
    CHECK(changes([](req&, opt& o) { o.max_tokens = 1024; }));
}

TEST_CASE("claude request context: the photos' bytes and the call's handling do not count",
          "[clients]") {
    using req = pipeline::identify_request;
    using opt = clients::claude_options;
    CHECK_FALSE(changes([](req& r, opt&) { r.jpeg_images[0] = "\xFF\xD8 other bytes"; }));
    CHECK_FALSE(changes([](req& r, opt&) { r.item_id = "itm_2"; }));
    CHECK_FALSE(changes([](req& r, opt&) { r.bulk = true; }));
    CHECK_FALSE(changes([](req&, opt& o) { o.max_attempts = 7; }));
}
