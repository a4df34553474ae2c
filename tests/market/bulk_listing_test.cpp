// eBay's bulk listing file: the header dialect, CSV quoting read back with our own RFC 4180
// reader, titles cut to 80 characters, prices, pictures and item specifics.
#include "pipeline/market/bulk_listing.hpp"

#include <catch2/catch.hpp>

#include "pipeline/market/csv.hpp"

using namespace boomer::market;

namespace {

std::vector<std::string> read_back(const std::string& text) {
    auto records = read_csv(text);
    REQUIRE(records);
    REQUIRE(records->size() == 1);
    return records->front().fields;
}

std::string cell(const std::vector<std::string>& header, const std::vector<std::string>& row,
                 const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i) {
        if (header[i] == name) {
            return row.at(i);
        }
    }
    FAIL("no column " << name);
    return {};
}

}  // namespace

TEST_CASE("bulk_listing: the header starts with the File Exchange action cell", "[market]") {
    bulk_site site;
    auto line = bulk_header_line(site);
    CHECK(line.rfind("*Action(SiteID=US|Country=US|Currency=USD|Version=1193|CC=UTF-8),", 0) == 0);
    CHECK(line.size() > 2);
    CHECK(line.substr(line.size() - 2) == "\r\n");
    auto cols = read_back(line);
    CHECK(cols == bulk_columns(site));
    for (const char* required :
         {"*Title", "*ConditionID", "*StartPrice", "*Quantity", "*Format", "*Duration",
          "*Description", "PicURL", "C:Brand", "*Location", "*Category", "*DispatchTimeMax",
          "*ReturnsAcceptedOption", "ShippingProfileName", "ReturnProfileName",
          "PaymentProfileName"}) {
        CHECK(std::find(cols.begin(), cols.end(), required) != cols.end());
    }
}

TEST_CASE("bulk_listing: fields with commas, quotes and line breaks are quoted", "[market]") {
    CHECK(csv_field("plain") == "plain");
    CHECK(csv_field("") == "");
    CHECK(csv_field("a,b") == "\"a,b\"");
    CHECK(csv_field("12\" vinyl") == "\"12\"\" vinyl\"");
    CHECK(csv_field("two\nlines") == "\"two\nlines\"");
    CHECK(csv_field("cr\rhere") == "\"cr\rhere\"");
    CHECK(csv_field(" padded") == "\" padded\"");
    CHECK(csv_field("Café – naïve") == "Café – naïve");
}

TEST_CASE("bulk_listing: a row reads back with every value in its column", "[market]") {
    bulk_site site;
    bulk_row row;
    row.custom_label = "SKU-1,A";
    row.title = "Levi's 501 \"Shrink-to-fit\" jeans, 32x30, blue";
    row.condition_id = 3000;
    row.picture_urls = {"http://h:1/v1/items/itm_1/images/0", "http://h:1/v1/items/itm_1/images/1"};
    row.description = "Worn twice.\nNo holes, <no> stains & \"clean\".";
    row.start_price_minor = 3999;
    row.specifics = {{"Brand", "Levi's"},
                     {"EAN-13", "5012345678900"},
                     {"brand", "Other"},
                     {"SKU", "ignored"},
                     {"EAN-13", "9780140013993"}};
    auto header = bulk_columns(site);
    auto fields = read_back(bulk_row_line(site, row));
    REQUIRE(fields.size() == header.size());

    CHECK(fields[0] == "Add");
    CHECK(cell(header, fields, "CustomLabel") == "SKU-1,A");
    CHECK(cell(header, fields, "*Title") == row.title);
    CHECK(cell(header, fields, "*ConditionID") == "3000");
    CHECK(cell(header, fields, "C:Brand") == "Levi's");  // the first Brand wins
    CHECK(cell(header, fields, "C:EAN") == "5012345678900");
    CHECK(cell(header, fields, "C:ISBN") == "9780140013993");  // Bookland EAN
    CHECK(cell(header, fields, "C:UPC").empty());
    CHECK(cell(header, fields, "PicURL") ==
          "http://h:1/v1/items/itm_1/images/0|http://h:1/v1/items/itm_1/images/1");
    CHECK(cell(header, fields, "*Description") ==
          "Worn twice.<br>No holes, &lt;no&gt; stains &amp; &quot;clean&quot;.");
    CHECK(cell(header, fields, "*Format") == "FixedPrice");
    CHECK(cell(header, fields, "*Duration") == "GTC");
    CHECK(cell(header, fields, "*StartPrice") == "39.99");
    CHECK(cell(header, fields, "*Quantity") == "1");
    CHECK(cell(header, fields, "*DispatchTimeMax") == "3");
    CHECK(cell(header, fields, "*ReturnsAcceptedOption") == "ReturnsNotAccepted");
    CHECK(cell(header, fields, "PaymentProfileName").empty());
}

TEST_CASE("bulk_listing: the seller's terms and policy names fill every row", "[market]") {
    bulk_site site;
    site.terms.dispatch_days = 1;
    site.terms.returns_accepted = true;
    site.terms.shipping_profile = "Free, 2-day";
    site.terms.return_profile = "30 days";
    site.terms.payment_profile = "eBay managed";
    bulk_row row;
    row.title = "Teapot";
    auto header = bulk_columns(site);
    auto fields = read_back(bulk_row_line(site, row));
    REQUIRE(fields.size() == header.size());
    CHECK(cell(header, fields, "*DispatchTimeMax") == "1");
    CHECK(cell(header, fields, "*ReturnsAcceptedOption") == "ReturnsAccepted");
    CHECK(cell(header, fields, "ShippingProfileName") == "Free, 2-day");
    CHECK(cell(header, fields, "ReturnProfileName") == "30 days");
    CHECK(cell(header, fields, "PaymentProfileName") == "eBay managed");
}

TEST_CASE("bulk_listing: titles are cut to 80 characters, prices in the site currency",
          "[market]") {
    bulk_site site;
    bulk_row row;
    row.title = std::string(30, 'x') + " " + std::string(30, 'y') + " " + std::string(30, 'z');
    row.start_price_minor = 5;
    auto header = bulk_columns(site);
    auto fields = read_back(bulk_row_line(site, row));
    auto title = cell(header, fields, "*Title");
    CHECK(title == std::string(30, 'x') + " " + std::string(30, 'y'));
    CHECK(cell(header, fields, "*StartPrice") == "0.05");

    site.currency = "JPY";
    row.start_price_minor = 1500;
    CHECK(cell(header, read_back(bulk_row_line(site, row)), "*StartPrice") == "1500");
    row.start_price_minor.reset();
    CHECK(cell(header, read_back(bulk_row_line(site, row)), "*StartPrice").empty());
}

TEST_CASE("bulk_listing: at most 24 pictures", "[market]") {
    bulk_site site;
    bulk_row row;
    for (int i = 0; i < 30; ++i) {
        row.picture_urls.push_back("http://h/p" + std::to_string(i));
    }
    auto pics = cell(bulk_columns(site), read_back(bulk_row_line(site, row)), "PicURL");
    CHECK(std::count(pics.begin(), pics.end(), '|') == 23);
}
