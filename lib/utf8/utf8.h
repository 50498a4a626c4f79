// Well-formed UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing above
// U+10FFFF, no truncated sequence. JSON writers (nlohmann) throw on anything else, so text that
// came from a user or a server is checked or repaired here before it reaches one.
//
//   if (auto at = ib::utf8::FirstInvalidByte(text); at != std::string_view::npos) { ... }
//   std::string safe = ib::utf8::ValidUtf8(text);   // bad bytes -> U+FFFD
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ib::utf8 {

// The offset of the first byte that does not start a well-formed sequence; npos when the
// whole text is valid.
std::size_t FirstInvalidByte(std::string_view text);

// `text` with every byte that does not start a well-formed sequence replaced by U+FFFD
// (resynchronizing on the next byte), so any input yields valid UTF-8.
std::string ValidUtf8(std::string_view text);

}  // namespace ib::utf8
