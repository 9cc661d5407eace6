// filters.h: the value filters of the template language (upper, lower,
// capitalize, date) and the UTF-8 case mapping behind them.
#pragma once

#include <string>
#include <string_view>

namespace postino::templates {

// Case mapping of one code point. Covers ASCII, Latin-1 Supplement, Latin
// Extended-A, basic Greek and basic Cyrillic; other code points map to
// themselves. German ß has no single-character upper case and stays ß.
char32_t ToUpperCodePoint(char32_t c);
char32_t ToLowerCodePoint(char32_t c);

// UTF-8 aware case filters. Bytes that are not valid UTF-8 pass through.
void AppendUpper(std::string_view in, std::string* out);
void AppendLower(std::string_view in, std::string* out);
// First code point upper case, the rest lower case ("mARIO" -> "Mario").
void AppendCapitalized(std::string_view in, std::string* out);

// Formats an ISO-8601 date ("2024-03-05") or date-time
// ("2024-03-05T10:20:30Z", "2024-03-05 10:20", with optional fraction and
// offset) with a strftime-like format: %Y %y %m %d %e %H %M %S %j %B %b %A %a
// %%. Times are shown as written (no time-zone conversion); month and day
// names are English. Returns false (and appends nothing) when `iso` is not a
// valid date.
bool AppendFormattedDate(std::string_view iso, std::string_view format, std::string* out);

}  // namespace postino::templates
