// utf8.h: strict UTF-8 validation (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) and sanitising of untrusted text (SMTP
// replies, CSV values) before it is stored or shown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace postino {

// True iff `s` is well-formed UTF-8 (NUL bytes allowed).
bool IsValidUtf8(std::string_view s);

// `s` with every ill-formed byte replaced by U+FFFD and NUL bytes removed:
// always valid UTF-8, safe for PostgreSQL text.
std::string SanitizeUtf8(std::string_view s);

// Decodes the character at s[*i] (strict, as IsValidUtf8) and advances *i
// past it; for bytes that are not well-formed UTF-8 returns -1 and advances
// one byte. *i must be < s.size().
int32_t DecodeUtf8(std::string_view s, size_t* i);

}  // namespace postino
