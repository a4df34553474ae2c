// UTF-8 hygiene for text that arrives from outside (form fields, file names, path segments):
// it is stored and echoed in JSON, which must stay valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace boomer {

// valid_utf8 returns `text` with every byte sequence that is not well-formed UTF-8 (stray
// continuation bytes, overlong forms, surrogates, code points past U+10FFFF, truncated
// sequences) replaced by U+FFFD. Well-formed input comes back unchanged.
std::string valid_utf8(std::string_view text);

}  // namespace boomer
