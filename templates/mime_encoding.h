// mime_encoding.h: the byte-level encodings of an Internet message:
// quoted-printable bodies (RFC 2045), RFC 2047 encoded words and folding for
// header fields (RFC 5322 §2.2.3), mailbox formatting, IDNA (A-label)
// domains, header-value neutralization. Used by the message builder; public
// so that tests and other modules (e.g. bounce reports) can reuse them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace postino::templates {

// Header lines are folded to at most this many columns (RFC 5322 "SHOULD").
inline constexpr size_t kFoldColumns = 78;
// No line anywhere may exceed this many octets (RFC 5322 "MUST"), CRLF excluded.
inline constexpr size_t kMaxLineOctets = 998;

// Appends the quoted-printable encoding of `in`. Any CRLF, bare CR or bare LF
// becomes a CRLF hard line break; encoded lines are at most 76 characters
// (soft breaks "=" CRLF); trailing space/tab before a break is encoded.
void AppendQuotedPrintable(std::string_view in, std::string* out);

// Makes `text` safe to place in a header field: CR and LF (and every other
// C0 control but TAB, and DEL) become a space, NUL is removed. Returns the
// number of bytes changed, for RenderStats::header_chars_neutralized.
uint32_t NeutralizeHeaderText(std::string* text);

// Appends "Name: value\r\n" with `value` as unstructured text (Subject and
// the like): printable ASCII is folded at spaces; anything else (non-ASCII,
// "=?", words too long to fold, runs of white space too long for a line,
// trailing white space that would need a line of its own) is written as RFC
// 2047 "B" encoded words, split only between UTF-8 characters. Every line
// fits in kFoldColumns (after a header name shorter than that), whatever the
// input: a thousand spaces or a 5,000-character word never make a line
// longer than 998 octets.
// `value` must already be neutralized (no CR, LF or NUL).
void AppendUnstructuredHeader(std::string_view name, std::string_view value, std::string* out);

// Appends "Name: display <address>\r\n" (or "Name: address" without a display
// name). The display name is a quoted-string when it is short printable
// ASCII, encoded words otherwise; folded to kFoldColumns. `address` must be
// the ASCII form returned by NormalizeAddress; `display` neutralized.
void AppendMailboxHeader(std::string_view name, std::string_view display, std::string_view address,
                         std::string* out);

// Validates a mailbox address "local@domain" and returns its ASCII form: an
// internationalized domain becomes A-labels (address::DomainToAscii, the one
// IDNA home: IDNA2008 non-transitional), an ASCII domain is kept as written. Refuses control
// characters, spaces, quoted or non-ASCII local parts (those need SMTPUTF8),
// bad labels. The error message names the address.
Result<std::string> NormalizeAddress(std::string_view address);

// The domain as A-labels (same rules as NormalizeAddress).
Result<std::string> NormalizeDomain(std::string_view domain);

// True iff `name` is a valid header field name (printable ASCII but ':').
bool IsValidHeaderName(std::string_view name);

// Appends an RFC 5322 date-time: "Tue, 05 Mar 2024 10:20:30 +0000" (UTC).
void AppendRfc5322Date(WallTime when, std::string* out);

// Standard base64 (RFC 4648 with padding).
std::string Base64Encode(std::string_view bytes);

}  // namespace postino::templates
