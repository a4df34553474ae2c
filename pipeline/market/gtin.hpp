// Product codes in sales text: GTIN-8/12/13/14 (EAN, UPC) and ISBN-10/13, brought to one
// canonical form so that a UPC-A and the same product's EAN-13 (a leading 0) compare equal.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boomer::market {

// canonical_gtin validates a code and returns its canonical form, or std::nullopt when the
// text is not a code with a correct check digit.
//
// Hyphens and spaces are ignored. UPC-A (12 digits) becomes the 13-digit EAN with a leading 0;
// a GTIN-14 whose first digit is 0 becomes its 13-digit EAN; ISBN-10 (final X allowed) becomes
// the ISBN-13 with prefix 978; EAN-8 stays as 8 digits. Thread-safe.
std::optional<std::string> canonical_gtin(std::string_view code);

// find_gtins returns the canonical codes that appear in free text (a title, a custom label),
// without duplicates, in order of appearance. A code may be glued to letters ("ISBN978...")
// or hyphenated like an ISBN ("978-0-14-001399-3"). Thread-safe.
std::vector<std::string> find_gtins(std::string_view text);

}  // namespace boomer::market
