// strings.h: the small ASCII string helpers every module needs (case
// folding, trimming, prefix tests) and EscapeControl, which makes text from
// a peer safe to print on a terminal or in a log line.
#pragma once

#include <string>
#include <string_view>

namespace postino {

// `s` with ASCII letters lowercased; other bytes (UTF-8 included) unchanged.
std::string AsciiLower(std::string_view s);

// True iff `a` and `b` are equal ignoring ASCII case.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True iff `s` begins with `prefix`, ignoring ASCII case.
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// `s` without leading / trailing / both ASCII white space (space, TAB, CR,
// LF, VT, FF). The result views `s`.
std::string_view TrimLeft(std::string_view s);
std::string_view TrimRight(std::string_view s);
std::string_view Trim(std::string_view s);

// `s` without leading and trailing spaces and TABs only (header and CSV
// field syntax, where CR and LF are never white space).
std::string_view TrimBlanks(std::string_view s);

// `text` made safe to print: C0 controls and DEL become escapes ("\r",
// "\n", "\t", "\x1b", ...), a backslash becomes "\\" (so an escape in the
// output is never ambiguous), bytes that are not valid UTF-8 become "\xNN";
// valid UTF-8 characters but the C1 controls (U+0080..U+009F) are kept.
// Used wherever postino prints text a remote server or a file supplied:
// reply texts in reports, `sources` and log lines. Stored data stays as
// received; only its printed form is escaped.
std::string EscapeControl(std::string_view text);

}  // namespace postino
