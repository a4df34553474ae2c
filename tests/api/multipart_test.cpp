// Tests of the multipart/form-data parser: bodies as curl and browsers format them, the RFC's
// corner cases, each failure code, and a deterministic mutation fuzz loop.
#include "api/multipart.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

namespace api = boomer::api;

namespace {

const std::string curl_boundary = "------------------------d74496d66958873e";
const std::string curl_type = "multipart/form-data; boundary=" + curl_boundary;

// A photo-like payload with the bytes that trip naive parsers: CR, LF, dashes, NUL.
std::string binary_payload() {
    std::string bytes = "\xff\xd8\xff\xe0";
    bytes += std::string("\r\n--\r\n-", 7);
    bytes += std::string("\0\x01\r\r\n\n", 6);
    bytes += "--" + curl_boundary.substr(0, 20);
    bytes += "\xff\xd9";
    return bytes;
}

// The body `curl -F photo=@shoe.jpg -F hint='red shoes'` sends.
std::string curl_body() {
    return "--" + curl_boundary + "\r\n" +
           "Content-Disposition: form-data; name=\"photo\"; filename=\"shoe.jpg\"\r\n"
           "Content-Type: image/jpeg\r\n"
           "\r\n" +
           binary_payload() + "\r\n--" + curl_boundary + "\r\n" +
           "Content-Disposition: form-data; name=\"hint\"\r\n"
           "\r\n"
           "red shoes\r\n--" +
           curl_boundary + "--\r\n";
}

std::string one_field(const std::string& boundary, const std::string& disposition,
                      const std::string& data) {
    return "--" + boundary + "\r\nContent-Disposition: " + disposition + "\r\n\r\n" + data +
           "\r\n--" + boundary + "--";
}

std::string code_of(const boomer::result<std::vector<api::part>>& r) {
    return r ? std::string("ok") : r.error().code;
}

}  // namespace

TEST_CASE("multipart: parses a body formatted like curl's", "[api]") {
    std::string body = curl_body();
    auto parts = api::parse_multipart(body, curl_type);
    REQUIRE(parts);
    REQUIRE(parts->size() == 2);
    const api::part& photo = (*parts)[0];
    CHECK(photo.name == "photo");
    CHECK(photo.filename == "shoe.jpg");
    CHECK(photo.content_type == "image/jpeg");
    CHECK(photo.data == binary_payload());
    CHECK(photo.data.data() >= body.data());
    CHECK(photo.data.data() + photo.data.size() <= body.data() + body.size());
    const api::part& hint = (*parts)[1];
    CHECK(hint.name == "hint");
    CHECK(hint.filename.empty());
    CHECK(hint.content_type.empty());
    CHECK(hint.data == "red shoes");
}

TEST_CASE("multipart: parses a browser-style body with a preamble and an epilogue", "[api]") {
    std::string boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    std::string body = "This is the preamble.\r\n--" + boundary + "\r\n" +
                       "content-disposition: FORM-DATA; Name=title\r\n\r\n"
                       "Lamp\r\n--" +
                       boundary + "  \t\r\n" +  // transport padding after the boundary
                       "Content-Disposition: form-data; name=\"photo\"; "
                       "filename=\"my \\\"best\\\" lamp.png\"\r\n"
                       "X-Ignored: yes\r\n"
                       "Content-Type: image/png\r\n\r\n"
                       "\r\n--" +
                       boundary + "--\r\nepilogue, ignored\r\n--" + boundary + "\r\n";
    auto parts = api::parse_multipart(body, "Multipart/Form-Data ; boundary=" + boundary);
    REQUIRE(parts);
    REQUIRE(parts->size() == 2);
    CHECK((*parts)[0].name == "title");
    CHECK((*parts)[0].data == "Lamp");
    CHECK((*parts)[1].filename == "my \"best\" lamp.png");
    CHECK((*parts)[1].content_type == "image/png");
    CHECK((*parts)[1].data.empty());
}

TEST_CASE("multipart: reads quoted boundaries and filename*", "[api]") {
    std::string boundary = "a b'()+_,-./:=?z";
    std::string body = one_field(
        boundary, "form-data; name=\"f\"; filename=\"plain.txt\"; filename*=UTF-8''%E2%82%AC.txt",
        "x");
    auto parts = api::parse_multipart(body, "multipart/form-data; boundary=\"" + boundary + "\"");
    REQUIRE(parts);
    REQUIRE(parts->size() == 1);
    CHECK((*parts)[0].filename == "\xE2\x82\xAC.txt");

    // An unusable filename* leaves the plain filename.
    std::string latin = one_field("b", "form-data; name=f; filename=a.txt; filename*=x''%41", "");
    auto kept = api::parse_multipart(latin, "multipart/form-data; boundary=b");
    REQUIRE(kept);
    CHECK((*kept)[0].filename == "a.txt");
}

TEST_CASE("multipart: an empty form has no parts", "[api]") {
    auto parts = api::parse_multipart("--xyz--\r\n", "multipart/form-data; boundary=xyz");
    REQUIRE(parts);
    CHECK(parts->empty());
}

TEST_CASE("multipart: rejects bad content types with specific codes", "[api]") {
    std::string body = one_field("b", "form-data; name=a", "1");
    CHECK(code_of(api::parse_multipart(body, "application/json")) == "not_multipart");
    CHECK(code_of(api::parse_multipart(body, "multipart/mixed; boundary=b")) == "not_multipart");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data")) == "missing_boundary");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; charset=utf-8")) ==
          "missing_boundary");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; boundary=\"unterminated")) ==
          "invalid_content_type");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; boundary=b; boundary=c")) ==
          "invalid_content_type");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; boundary=\"\"")) ==
          "invalid_boundary");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; boundary=" +
                                                 std::string(71, 'x'))) == "invalid_boundary");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; boundary=a{b")) ==
          "invalid_boundary");
    CHECK(code_of(api::parse_multipart(body, "multipart/form-data; boundary=\"ends \"")) ==
          "invalid_boundary");

    std::string longest(70, 'y');
    CHECK(code_of(api::parse_multipart(one_field(longest, "form-data; name=a", "1"),
                                       "multipart/form-data; boundary=" + longest)) == "ok");
}

TEST_CASE("multipart: rejects malformed bodies", "[api]") {
    const std::string type = "multipart/form-data; boundary=b";
    auto code = [&type](const std::string& body) {
        return code_of(api::parse_multipart(body, type));
    };
    CHECK(code("") == "malformed_multipart");
    CHECK(code("no boundary anywhere") == "malformed_multipart");
    // No closing boundary.
    CHECK(code("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1") == "malformed_multipart");
    CHECK(code("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b") ==
          "malformed_multipart");
    // Bare LF line endings.
    CHECK(code("--b\nContent-Disposition: form-data; name=a\n\n1\n--b--") == "malformed_multipart");
    // Text after a boundary on its line.
    CHECK(code("--bx\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--") ==
          "malformed_multipart");
    // No Content-Disposition, no name, another disposition, repeated header, bad header line.
    CHECK(code("--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--") == "malformed_multipart");
    CHECK(code("--b\r\n\r\n1\r\n--b--") == "malformed_multipart");
    CHECK(code(one_field("b", "form-data; filename=a.txt", "1")) == "malformed_multipart");
    CHECK(code(one_field("b", "form-data; name=\"\"", "1")) == "malformed_multipart");
    CHECK(code(one_field("b", "attachment; name=a", "1")) == "malformed_multipart");
    CHECK(code(one_field("b", "form-data; name=a; name=b", "1")) == "malformed_multipart");
    CHECK(code(one_field("b", "form-data; name=\"a", "1")) == "malformed_multipart");
    CHECK(code("--b\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
               "name=b\r\n\r\n1\r\n--b--") == "malformed_multipart");
    CHECK(code("--b\r\nContent-Disposition: form-data; name=a\r\nbroken line\r\n\r\n1\r\n--b--") ==
          "malformed_multipart");
    CHECK(code("--b\r\nContent-Disposition: form-data; name=a\r\n folded\r\n\r\n1\r\n--b--") ==
          "malformed_multipart");
}

TEST_CASE("multipart: enforces the part and header limits", "[api]") {
    std::string body;
    for (int i = 0; i < 5; ++i) {
        body +=
            "--b\r\nContent-Disposition: form-data; name=f" + std::to_string(i) + "\r\n\r\nv\r\n";
    }
    body += "--b--";
    const std::string type = "multipart/form-data; boundary=b";
    CHECK(api::parse_multipart(body, type, {.max_parts = 5, .max_header_bytes = 8192})->size() ==
          5);
    auto too_many = api::parse_multipart(body, type, {.max_parts = 4, .max_header_bytes = 8192});
    REQUIRE(!too_many);
    CHECK(too_many.error().code == "too_many_parts");
    CHECK(too_many.error().message.find("4") != std::string::npos);

    std::string disposition = "form-data; name=\"" + std::string(200, 'n') + "\"";
    std::string long_header = one_field("b", disposition, "v");
    std::size_t header_bytes = std::string("Content-Disposition: ").size() + disposition.size();
    CHECK(code_of(api::parse_multipart(
              long_header, type, {.max_parts = 8, .max_header_bytes = header_bytes})) == "ok");
    CHECK(code_of(api::parse_multipart(long_header, type,
                                       {.max_parts = 8, .max_header_bytes = header_bytes - 1})) ==
          "part_header_too_large");
}

TEST_CASE("multipart: media_type_is compares the essence only", "[api]") {
    CHECK(api::media_type_is("application/json", "application/json"));
    CHECK(api::media_type_is(" Application/JSON ; charset=utf-8", "application/json"));
    CHECK(!api::media_type_is("application/json-seq", "application/json"));
    CHECK(!api::media_type_is("", "application/json"));
}

TEST_CASE("multipart: mutated bodies never crash or read outside the body", "[api][fuzz]") {
    std::vector<std::string> seeds = {
        curl_body(),
        one_field("b", "form-data; name=\"a\"; filename*=utf-8''%41%42", "value"),
        "pre\r\n--b \r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n--b--\r\nepi",
    };
    std::vector<std::string> types = {curl_type, "multipart/form-data; boundary=b",
                                      "multipart/form-data; boundary=b"};
    const std::vector<std::string> fragments = {"\r\n", "--",    "\r\n--b", "\r\n\r\n",
                                                "\"",   ";",     "=",       "%",
                                                "\\",   "--b--", "name=",   std::string(1, '\0')};
    std::mt19937 rng(20240611);
    auto pick = [&rng](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n)(rng);
    };

    int parsed = 0;
    for (int round = 0; round < 20000; ++round) {
        std::size_t seed = pick(seeds.size() - 1);
        std::string body = seeds[seed];
        std::size_t mutations = 1 + pick(3);
        for (std::size_t m = 0; m < mutations; ++m) {
            std::size_t at = pick(body.size());
            switch (pick(4)) {
                case 0:  // flip a byte
                    if (!body.empty()) {
                        body[std::min(at, body.size() - 1)] ^= static_cast<char>(1 + pick(254));
                    }
                    break;
                case 1:  // delete a range
                    body.erase(at, pick(16));
                    break;
                case 2:  // insert a structural fragment
                    body.insert(at, fragments[pick(fragments.size() - 1)]);
                    break;
                case 3:  // duplicate a range
                    body.insert(at, body.substr(pick(body.size()), pick(40)));
                    break;
                default:  // truncate
                    body.resize(at);
                    break;
            }
        }
        api::multipart_limits limits{.max_parts = 1 + pick(4), .max_header_bytes = 16 + pick(200)};
        auto result = api::parse_multipart(body, types[seed], limits);
        if (!result) {
            REQUIRE(!result.error().code.empty());
            continue;
        }
        ++parsed;
        REQUIRE(result->size() <= limits.max_parts);
        for (const api::part& p : *result) {
            REQUIRE(!p.name.empty());
            REQUIRE(p.data.data() >= body.data());
            REQUIRE(p.data.data() + p.data.size() <= body.data() + body.size());
        }
    }
    // Some mutations (inside data, in the epilogue) keep the body valid.
    CHECK(parsed > 0);
}
