// Small text helpers shared by the market module: trimming, case folding of the Latin letters
// found in marketplace exports, UTF-8 walking, and the normalised form used to compare names.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace boomer::market {

// trim removes ASCII whitespace and the no-break spaces U+00A0 and U+202F from both ends.
// Thread-safe; the result views `text`.
std::string_view trim(std::string_view text);

// fold_case lower-cases ASCII letters and the Latin-1 capitals U+00C0..U+00DE (É, Ä, Ö, ...);
// other bytes are copied unchanged. Thread-safe.
std::string fold_case(std::string_view text);

// normalise_name is how column names and keywords are compared: trimmed, case-folded, the
// typographic apostrophe turned into ', runs of whitespace (and no-break spaces) collapsed to
// one space. Thread-safe.
std::string normalise_name(std::string_view text);

// starts_with_folded / contains_folded compare after fold_case on both sides. Thread-safe.
bool starts_with_folded(std::string_view text, std::string_view prefix);
bool contains_folded(std::string_view text, std::string_view needle);

// utf8_sequence_length returns the length of the well-formed UTF-8 sequence starting at
// text[pos], or 0 when the bytes there are not valid UTF-8 (or pos is past the end).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

// utf8_clean returns `text` with every byte that is not part of a well-formed UTF-8 sequence
// dropped, and ASCII control characters other than tab and newline removed. Thread-safe.
std::string utf8_clean(std::string_view text);

// is_utf8 is true when every byte of `text` belongs to a well-formed UTF-8 sequence.
bool is_utf8(std::string_view text);

// windows1252_to_utf8 decodes `text` as Windows-1252 (Latin-1 plus the printable characters
// Windows puts at 0x80..0x9F, such as € and ’); the five bytes it leaves undefined are dropped.
// This is what Excel writes when a CSV is re-saved on a Western-European Windows. Thread-safe.
std::string windows1252_to_utf8(std::string_view text);

// utf8_length counts code points in well-formed UTF-8 text (invalid bytes count as one each).
std::size_t utf8_length(std::string_view text);

// word_tokens splits folded text into runs of letters and digits (any non-ASCII byte counts as
// a letter so that accented words stay whole). A hyphen or an apostrophe between two such
// characters is removed, so "AE-1" gives "ae1". Thread-safe.
std::vector<std::string> word_tokens(std::string_view text);

}  // namespace boomer::market
